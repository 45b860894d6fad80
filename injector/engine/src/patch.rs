//! The last step: the injected pod must be a Pod the API server accepts,
//! and the answer is the JSON Patch from the pod as received to it.

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
/// shape the API server accepts.
fn typed_pod(pod: &Value) -> Result<(), String> {
    Pod::deserialize(pod).map(drop).map_err(|e| e.to_string())
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
}
