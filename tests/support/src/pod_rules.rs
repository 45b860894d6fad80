//! What kube-apiserver does to a Pod it is asked to create, after the
//! mutating webhooks and before it stores it, for the rules an injected
//! sidecar meets: sidecar containers (init containers with
//! `restartPolicy: Always`).
//!
//! The rules and messages are kube-apiserver's (`pkg/api/pod` drops the
//! fields of disabled features; `pkg/apis/core/validation` validates):
//! - `SidecarContainers` is on by default from 1.29 (beta) and locked on
//!   from 1.33 (GA). With it off, an init container's `restartPolicy` is
//!   dropped silently, and the container becomes a plain init container;
//! - a plain init container may have no `lifecycle`, `livenessProbe`,
//!   `readinessProbe` or `startupProbe`: `Forbidden: may not be set for
//!   init containers without restartPolicy=Always`;
//! - an init container's `restartPolicy` can only be `Always`; a regular
//!   container may not have one;
//! - container names are unique across init and regular containers, and a
//!   pod has at least one regular container.
//!
//! Everything else the real validation checks (names' syntax, images,
//! resources, probe handlers...) is not modelled.

use serde_json::Value;

/// One validation failure, as a `Status`'s `details.causes` entry holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    pub field: String,
    pub reason: &'static str,
    pub message: String,
}

impl Cause {
    fn new(field: String, reason: &'static str, message: impl Into<String>) -> Self {
        Cause {
            field,
            reason,
            message: message.into(),
        }
    }

    /// `field: Message`, as in the `Status` message.
    pub fn text(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// Whether an API server at `git_version` (`v1.28.3`...) has
/// `SidecarContainers` on by default. A version that does not parse is
/// taken as current (on).
pub fn sidecar_containers_on(git_version: &str) -> bool {
    let core = git_version.trim().trim_start_matches('v');
    let mut parts = core.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u64>()
            .ok()
    });
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (1, 29),
        _ => true,
    }
}

/// Drops what a disabled feature does not know: without
/// `SidecarContainers`, init containers' `restartPolicy`.
pub fn drop_disabled_fields(pod: &mut Value, sidecar_containers: bool) {
    if sidecar_containers {
        return;
    }
    if let Some(inits) = pod["spec"]["initContainers"].as_array_mut() {
        for container in inits.iter_mut().filter_map(Value::as_object_mut) {
            container.remove("restartPolicy");
        }
    }
}

const FORBIDDEN_WITHOUT_ALWAYS: &str =
    "Forbidden: may not be set for init containers without restartPolicy=Always";

/// The validation failures of a pod about to be created.
pub fn validate(pod: &Value) -> Vec<Cause> {
    let spec = &pod["spec"];
    let mut causes = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let list = |key: &str| spec[key].as_array().cloned().unwrap_or_default();
    let mut unique = |name: &str, path: String, causes: &mut Vec<Cause>| {
        if names.iter().any(|n| n == name) {
            causes.push(Cause::new(
                path,
                "FieldValueDuplicate",
                format!("Duplicate value: {name:?}"),
            ));
        }
        names.push(name.to_string());
    };
    for (i, c) in list("initContainers").iter().enumerate() {
        let path = format!("spec.initContainers[{i}]");
        unique(
            c["name"].as_str().unwrap_or(""),
            format!("{path}.name"),
            &mut causes,
        );
        match c.get("restartPolicy") {
            None => {
                for field in [
                    "lifecycle",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                ] {
                    if c.get(field).is_some_and(|v| !v.is_null()) {
                        causes.push(Cause::new(
                            format!("{path}.{field}"),
                            "FieldValueForbidden",
                            FORBIDDEN_WITHOUT_ALWAYS,
                        ));
                    }
                }
            }
            Some(Value::String(policy)) if policy == "Always" => {}
            Some(other) => causes.push(Cause::new(
                format!("{path}.restartPolicy"),
                "FieldValueNotSupported",
                format!("Unsupported value: {other}: supported values: \"Always\""),
            )),
        }
    }
    let containers = list("containers");
    if containers.is_empty() {
        causes.push(Cause::new(
            "spec.containers".into(),
            "FieldValueRequired",
            "Required value",
        ));
    }
    for (i, c) in containers.iter().enumerate() {
        let path = format!("spec.containers[{i}]");
        unique(
            c["name"].as_str().unwrap_or(""),
            format!("{path}.name"),
            &mut causes,
        );
        if c.get("restartPolicy").is_some() {
            causes.push(Cause::new(
                format!("{path}.restartPolicy"),
                "FieldValueForbidden",
                "Forbidden: may not be set for non-init containers",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn native_pod() -> Value {
        json!({"spec": {
            "initContainers": [
                {"name": "istio-init"},
                {"name": "istio-proxy", "restartPolicy": "Always",
                 "lifecycle": {"preStop": {}}, "readinessProbe": {}, "startupProbe": {}},
            ],
            "containers": [{"name": "app"}],
        }})
    }

    #[test]
    fn a_native_sidecar_is_refused_where_the_feature_is_off() {
        assert!(!sidecar_containers_on("v1.28.4"));
        assert!(sidecar_containers_on("v1.29.0-gke.1"));
        assert!(sidecar_containers_on("v1.33.0+k3s1"));

        let mut on = native_pod();
        drop_disabled_fields(&mut on, true);
        assert_eq!(validate(&on), Vec::new());

        let mut off = native_pod();
        drop_disabled_fields(&mut off, false);
        let texts: Vec<String> = validate(&off).iter().map(Cause::text).collect();
        assert_eq!(
            texts,
            [
                "spec.initContainers[1].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always",
                "spec.initContainers[1].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
                "spec.initContainers[1].startupProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            ]
        );
    }

    #[test]
    fn restart_policies_and_names() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "a", "restartPolicy": "Never"}],
            "containers": [{"name": "a", "restartPolicy": "Always"}],
        }});
        let texts: Vec<String> = validate(&pod).iter().map(Cause::text).collect();
        assert_eq!(
            texts,
            [
                "spec.initContainers[0].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "spec.containers[0].name: Duplicate value: \"a\"",
                "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
            ]
        );
    }
}
