//! Where each input text comes from, and how a file's content becomes the
//! text of one key: a file may hold the key raw (as a mounted ConfigMap shows
//! it) or a ConfigMap manifest holding the key. The edges read the files;
//! this module only looks at their content.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CONFIG_KEY, ConfigError, MESH_KEY, RawConfig, VALUES_KEY};
use crate::yaml;

/// Where an input text came from, for error messages and snapshot provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// A file path, `embedded`, or `configmap NAMESPACE/NAME`.
    pub source: String,
    /// The ConfigMap key the text was read from.
    pub key: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (key {:?})", self.source, self.key)
    }
}

/// One input text and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub body: String,
    pub origin: Origin,
}

impl Text {
    pub fn new(body: impl Into<String>, source: impl Into<String>, key: &str) -> Self {
        Text {
            body: body.into(),
            origin: Origin {
                source: source.into(),
                key: key.to_string(),
            },
        }
    }

    /// The text of `key` in the content of file `source`: the file is a
    /// ConfigMap manifest holding `key`, or else the raw text of the key.
    ///
    /// A raw `values` file is JSON and a raw `config` may not even parse as
    /// a manifest stream, so only a document that says `kind: ConfigMap`
    /// makes the file a manifest; anything else is the key's raw text.
    pub fn from_file(body: String, source: &str, key: &str) -> Result<Text, ConfigError> {
        let Ok(docs) = yaml::parse_documents(&body) else {
            return Ok(Text::new(body, source, key));
        };
        let maps: Vec<&Map<String, Value>> = docs.iter().filter_map(configmap_data).collect();
        if maps.is_empty() {
            return Ok(Text::new(body, source, key));
        }
        maps.iter()
            .find_map(|data| data.get(key).and_then(Value::as_str))
            .map(|text| Text::new(text, source, key))
            .ok_or_else(|| ConfigError::MissingKey {
                path: source.to_string(),
                key: key.to_string(),
                keys: maps
                    .iter()
                    .flat_map(|d| d.keys().cloned())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl RawConfig {
    /// The three inputs from the files of directory `dir`, given as
    /// `(file name, content)`: the raw key files `config`, `values` and
    /// `mesh` (as a mounted ConfigMap shows them) win; otherwise the
    /// ConfigMap manifests among the `*.yaml`/`*.yml` files, in name order,
    /// supply the keys.
    pub fn from_dir_files(dir: &str, files: &[(String, String)]) -> Result<Self, ConfigError> {
        let path = |name: &str| format!("{}/{name}", dir.trim_end_matches('/'));
        let mut found: BTreeMap<&str, Text> = BTreeMap::new();
        for key in [CONFIG_KEY, VALUES_KEY, MESH_KEY] {
            if let Some((name, body)) = files.iter().find(|(name, _)| name == key) {
                found.insert(key, Text::new(body.clone(), path(name), key));
            }
        }
        let mut manifests: Vec<&(String, String)> = files
            .iter()
            .filter(|(name, _)| name.ends_with(".yaml") || name.ends_with(".yml"))
            .collect();
        manifests.sort();
        for (name, body) in manifests {
            let source = path(name);
            let docs = yaml::parse_documents(body).map_err(|e| ConfigError::Parse {
                origin: Origin {
                    source: source.clone(),
                    key: "(manifest)".into(),
                },
                message: e.to_string(),
            })?;
            for data in docs.iter().filter_map(configmap_data) {
                for key in [CONFIG_KEY, VALUES_KEY, MESH_KEY] {
                    if let Some(text) = data.get(key).and_then(Value::as_str) {
                        found
                            .entry(key)
                            .or_insert_with(|| Text::new(text, source.clone(), key));
                    }
                }
            }
        }
        let mut take = |key: &str| {
            found.remove(key).ok_or_else(|| ConfigError::MissingInDir {
                dir: dir.to_string(),
                key: key.to_string(),
            })
        };
        Ok(RawConfig {
            config: take(CONFIG_KEY)?,
            values: take(VALUES_KEY)?,
            mesh: take(MESH_KEY)?,
            cluster: super::ClusterFacts::default(),
        })
    }
}

fn configmap_data(doc: &Value) -> Option<&Map<String, Value>> {
    (doc.get("kind")?.as_str()? == "ConfigMap")
        .then(|| doc.get("data")?.as_object())
        .flatten()
}
