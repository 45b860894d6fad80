//! The last step: the injected pod must be a Pod the API server accepts,
//! and the answer is the JSON Patch from the pod as received to it.

use std::collections::BTreeSet;

use json_patch::Patch;
use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;
use serde_json::Value;

/// Why no patch can be made, and whose fault that is.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The pod as received is not a Pod: the request's fault.
    #[error("not a valid Pod: {0}")]
    NotAPod(String),
    /// The pod as received is fine, the injected one is not: the
    /// templates' fault.
    #[error("the injected pod is not a valid Pod (check the templates): {0}")]
    InvalidResult(String),
}

/// Checks that `injected` is a Pod and diffs it from `original`.
pub fn diff(original: &Value, injected: &Value) -> Result<Patch, PatchError> {
    if let Err(result) = typed_pod(injected) {
        return Err(match typed_pod(original) {
            Err(received) => PatchError::NotAPod(received),
            Ok(()) => PatchError::InvalidResult(result),
        });
    }
    Ok(json_patch::diff(original, injected))
}

/// Deserializes into the real Kubernetes type: the check that a pod has the
/// shape the API server accepts. Names must also be unique, as the API
/// server requires: a template that adds a second volume or container of a
/// name would otherwise be served, and re-injecting such a pod (which undoes
/// the first injection by name) would not give it back.
fn typed_pod(pod: &Value) -> Result<(), String> {
    let pod = Pod::deserialize(pod).map_err(|e| e.to_string())?;
    let Some(spec) = pod.spec else {
        return Ok(());
    };
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers);
    unique("container", containers.map(|c| c.name.as_str()))?;
    unique(
        "volume",
        spec.volumes.iter().flatten().map(|v| v.name.as_str()),
    )
}

fn unique<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    match names.into_iter().find(|name| !seen.insert(*name)) {
        Some(name) => Err(format!("two {what}s are named {name:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blames_the_request_or_the_templates() {
        let good = json!({"spec": {"containers": [{"name": "app"}]}});
        let bad = json!({"spec": {"containers": "not a list"}});
        assert_eq!(diff(&good, &good).unwrap().0.len(), 0);
        assert!(matches!(
            diff(&good, &bad),
            Err(PatchError::InvalidResult(_))
        ));
        assert!(matches!(diff(&bad, &bad), Err(PatchError::NotAPod(_))));
    }

    #[test]
    fn names_must_be_unique_as_the_api_server_requires() {
        let good = json!({"spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}],
                                   "volumes": [{"name": "a"}, {"name": "b"}]}});
        let twice = json!({"spec": {"containers": [{"name": "app"}], "volumes": [{"name": "a"}, {"name": "a"}]}});
        let err = diff(&good, &twice).unwrap_err().to_string();
        assert!(err.contains("two volumes are named \"a\""), "{err}");
        let shared =
            json!({"spec": {"initContainers": [{"name": "app"}], "containers": [{"name": "app"}]}});
        assert!(
            matches!(diff(&shared, &shared), Err(PatchError::NotAPod(m)) if m.contains("container"))
        );
    }
}
