//! The content hash of a configuration: what the status annotation's
//! `templateHash` and a snapshot's hash are.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Config;

impl Config {
    /// `sha256:<hex>` of the canonical JSON of the configuration: keys
    /// sorted, no insignificant white space, so comments and formatting in
    /// the ConfigMaps never change the hash and every replica computes the
    /// same one.
    pub fn hash(&self) -> Result<String, serde_json::Error> {
        let value = serde_json::to_value(self)?;
        let mut canonical = String::new();
        write_canonical(&value, &mut canonical);
        let digest = Sha256::digest(canonical.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("sha256:{hex}"))
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{RawConfig, Text};

    #[test]
    fn formatting_does_not_change_the_hash_and_content_does() {
        let raw = RawConfig::embedded();
        let hash = raw.parse().unwrap().hash().unwrap();
        let mut reformatted = raw.clone();
        reformatted.mesh = Text::new(format!("# note\n{}", raw.mesh.body), "t", "mesh");
        assert_eq!(reformatted.parse().unwrap().hash().unwrap(), hash);
        let mut changed = raw.clone();
        changed.values.body = r#"{"global": {"hub": "elsewhere"}}"#.into();
        assert_ne!(changed.parse().unwrap().hash().unwrap(), hash);
    }
}
