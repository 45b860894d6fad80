//! The `sidecar.istio.io/status` annotation: what an injection added, with
//! which templates and which configuration, so a later injection can undo
//! it and an operator can find pods running an outdated sidecar.

use serde::{Deserialize, Serialize};

use crate::merge::Injected;

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

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
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
        assert_eq!(Status::parse(&s.to_json()).unwrap(), s);
    }
}
