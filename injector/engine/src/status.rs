//! The `sidecar.istio.io/status` annotation: what an injection added, with
//! which templates and which configuration, so a later injection can undo
//! it and an operator can find pods running an outdated sidecar.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::annotations;
use crate::merge::Injected;
use crate::pod::{name_of, spec_mut};

/// The annotation's JSON, in Istio's field names plus `templateHash` and
/// `snapshotVersion`. Istio's own status annotations (without those) parse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub init_containers: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub containers: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub volumes: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub image_pull_secrets: Vec<String>,
    #[serde(default)]
    pub revision: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template_hash: String,
    #[serde(default)]
    pub snapshot_version: u64,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl Status {
    pub fn new(
        injected: Injected,
        revision: &str,
        template_hash: &str,
        snapshot_version: u64,
    ) -> Self {
        Status {
            init_containers: injected.init_containers,
            containers: injected.containers,
            volumes: injected.volumes,
            image_pull_secrets: injected.image_pull_secrets,
            revision: revision.to_string(),
            template_hash: template_hash.to_string(),
            snapshot_version,
        }
    }

    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The status an earlier injection left on `pod`, if any.
    pub fn of(pod: &Value) -> Result<Option<Self>, serde_json::Error> {
        annotations::get(&pod["metadata"], annotations::STATUS)
            .map(Status::parse)
            .transpose()
    }

    /// The annotation carrying this status.
    pub fn annotation(&self) -> Result<(String, String), serde_json::Error> {
        Ok((
            annotations::STATUS.to_string(),
            serde_json::to_string(self)?,
        ))
    }

    /// Removes what the injection this status describes added: the
    /// containers, volumes and pull secrets it lists.
    pub fn strip(&self, pod: &mut Value) {
        let Some(spec) = spec_mut(pod) else { return };
        let lists: [(&str, &[String]); 4] = [
            ("initContainers", &self.init_containers),
            ("containers", &self.containers),
            ("volumes", &self.volumes),
            ("imagePullSecrets", &self.image_pull_secrets),
        ];
        for (field, names) in lists {
            if let Some(Value::Array(items)) = spec.get_mut(field) {
                items.retain(|i| !name_of(i).is_some_and(|n| names.iter().any(|s| s == n)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_istio_status_with_nulls() {
        let s = Status::parse(r#"{"initContainers":["istio-init"],"containers":null,"volumes":["v"],"imagePullSecrets":null,"revision":"default"}"#).unwrap();
        assert_eq!(s.init_containers, ["istio-init"]);
        assert!(s.containers.is_empty());
        assert_eq!(s.template_hash, "");
    }

    #[test]
    fn round_trips() {
        let s = Status {
            containers: vec!["istio-proxy".into()],
            revision: "default".into(),
            template_hash: "sha256:ab".into(),
            snapshot_version: 3,
            ..Default::default()
        };
        assert_eq!(Status::parse(&s.annotation().unwrap().1).unwrap(), s);
    }
}
