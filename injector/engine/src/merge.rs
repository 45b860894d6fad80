//! Merging rendered fragments into the pod, with the strategic-merge
//! semantics Kubernetes gives the Pod's keyed lists, and the record of what
//! the fragments added (which the status annotation keeps).

use serde_json::{Map, Value};

use crate::pod::name_of;

/// The merge key of a keyed list, by the field that holds it. These are the
/// `patchMergeKey`s of the Pod schema.
pub(crate) fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "env"
        | "resourceClaims"
        | "schedulingGates" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ownerReferences" => Some("uid"),
        _ => None,
    }
}

/// Merges every fragment into `pod`, in order, and returns what they added.
pub fn merge_fragments(pod: &mut Value, fragments: &[Value]) -> Injected {
    let mut injected = Injected::default();
    for fragment in fragments {
        injected.record_added(pod, fragment);
        if let (Value::Object(base), Value::Object(patch)) = (&mut *pod, fragment) {
            merge_object(base, patch.clone());
        }
    }
    injected
}

/// Merges `patch` into `base`: mappings merge key by key, keyed lists merge
/// item by item on their merge key (new items appended), a `null` removes
/// the field, and anything else replaces.
pub fn merge_object(base: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match (base.get_mut(&key), value, merge_key(&key)) {
            (_, Value::Null, _) => {
                base.remove(&key);
            }
            (Some(Value::Object(b)), Value::Object(p), _) => merge_object(b, p),
            (Some(Value::Array(b)), Value::Array(p), Some(merge_key)) => {
                merge_list(b, p, merge_key);
            }
            (_, value, _) => {
                base.insert(key, value);
            }
        }
    }
}

fn merge_list(base: &mut Vec<Value>, patch: Vec<Value>, key: &str) {
    for item in patch {
        let existing = item
            .get(key)
            .and_then(|id| base.iter_mut().find(|b| b.get(key) == Some(id)));
        match (existing, item) {
            (Some(Value::Object(b)), Value::Object(p)) => merge_object(b, p),
            (Some(slot), item) => *slot = item,
            (None, item) => base.push(item),
        }
    }
}

/// What one injection added, by list; the status annotation records it.
#[derive(Debug, Default)]
pub struct Injected {
    pub init_containers: Vec<String>,
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub image_pull_secrets: Vec<String>,
}

impl Injected {
    /// Records every name a rendered fragment holds, as Istio's status
    /// lists them.
    pub(crate) fn record(&mut self, fragment: &Value) {
        self.record_except(fragment, None);
    }

    /// Records the names a rendered fragment adds to `pod`. An item the pod
    /// already declares is filled in, not added (a gRPC template setting
    /// the app containers' environment): it is the user's, so re-injection
    /// must not strip it, and it stays an application container.
    fn record_added(&mut self, pod: &Value, fragment: &Value) {
        self.record_except(fragment, Some(pod));
    }

    fn record_except(&mut self, fragment: &Value, declared_by: Option<&Value>) {
        for (field, into) in [
            ("initContainers", &mut self.init_containers),
            ("containers", &mut self.containers),
            ("volumes", &mut self.volumes),
            ("imagePullSecrets", &mut self.image_pull_secrets),
        ] {
            let declared = |name: &str| {
                let items = declared_by
                    .and_then(|pod| pod["spec"][field].as_array())
                    .into_iter()
                    .flatten();
                items.filter_map(name_of).any(|n| n == name)
            };
            let items = fragment["spec"][field].as_array().into_iter().flatten();
            for name in items.filter_map(name_of) {
                if !declared(name) && !into.iter().any(|n| n == name) {
                    into.push(name.to_string());
                }
            }
        }
    }

    /// The names added to `list` (`initContainers`, `containers`, `volumes`).
    pub fn list(&self, list: &str) -> &[String] {
        match list {
            "initContainers" => &self.init_containers,
            "volumes" => &self.volumes,
            _ => &self.containers,
        }
    }

    /// Every container added, init containers first.
    pub fn all_containers(&self) -> impl Iterator<Item = &String> {
        self.init_containers.iter().chain(&self.containers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn keyed_lists_merge_by_key_and_append() {
        let mut base = obj(json!({"spec": {"containers": [
            {"name": "app", "env": [{"name": "A", "value": "1"}], "args": ["x"]}
        ]}}));
        merge_object(
            &mut base,
            obj(json!({"spec": {"containers": [
                {"name": "app", "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}], "args": ["y"]},
                {"name": "istio-proxy"}
            ]}})),
        );
        assert_eq!(
            Value::Object(base),
            json!({"spec": {"containers": [
                {"name": "app", "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}], "args": ["y"]},
                {"name": "istio-proxy"}
            ]}})
        );
    }

    #[test]
    fn null_removes_a_field() {
        let mut base = obj(json!({"metadata": {"annotations": {"a": "1", "b": "2"}}}));
        merge_object(
            &mut base,
            obj(json!({"metadata": {"annotations": {"a": null}}})),
        );
        assert_eq!(
            Value::Object(base),
            json!({"metadata": {"annotations": {"b": "2"}}})
        );
    }

    #[test]
    fn records_what_the_fragments_add_once() {
        let mut pod = json!({"spec": {"containers": [{"name": "app"}]}});
        let fragment = json!({"spec": {
            "initContainers": [{"name": "istio-init"}],
            "containers": [{"name": "istio-proxy"}],
            "volumes": [{"name": "istio-envoy"}]
        }});
        let injected = merge_fragments(&mut pod, &[fragment.clone(), fragment]);
        assert_eq!(injected.init_containers, ["istio-init"]);
        assert_eq!(injected.containers, ["istio-proxy"]);
        assert_eq!(injected.volumes, ["istio-envoy"]);
        assert_eq!(pod["spec"]["containers"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_declared_container_filled_in_is_not_recorded() {
        let mut pod = json!({"spec": {"containers": [{"name": "app"}]}});
        let fragment = json!({"spec": {"containers": [
            {"name": "app", "env": [{"name": "GRPC_XDS_BOOTSTRAP", "value": "/b.json"}]},
            {"name": "istio-proxy"}
        ]}});
        let injected = merge_fragments(&mut pod, &[fragment]);
        assert_eq!(injected.containers, ["istio-proxy"]);
        assert_eq!(pod["spec"]["containers"][0]["env"][0]["value"], "/b.json");
    }
}
