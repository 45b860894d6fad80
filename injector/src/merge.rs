//! Merging rendered fragments into the pod, with the strategic-merge
//! semantics Kubernetes gives the Pod's keyed lists, and the bookkeeping
//! that makes injection idempotent and lets users override the sidecar.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::status::Status;

/// The pod's container lists, in the order the merge treats them.
pub const CONTAINER_LISTS: [&str; 2] = ["initContainers", "containers"];

/// The name of the proxy container, which ordering rules single out.
pub const PROXY_CONTAINER: &str = "istio-proxy";

/// The merge key of a keyed list, by the field that holds it. These are the
/// `patchMergeKey`s of the Pod schema.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "env"
        | "resourceClaims" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        "hostAliases" => Some("ip"),
        _ => None,
    }
}

/// Merges `patch` into `base`: mappings merge key by key, keyed lists merge
/// item by item on their merge key (new items appended), a `null` removes
/// the field, and anything else replaces.
pub fn merge_object(base: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match (base.get_mut(&key), value) {
            (_, Value::Null) => {
                base.remove(&key);
            }
            (Some(Value::Object(b)), Value::Object(p)) => merge_object(b, p),
            (Some(Value::Array(b)), Value::Array(p)) if merge_key(&key).is_some() => {
                merge_list(b, p, merge_key(&key).unwrap_or_default());
            }
            (_, value) => {
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

fn spec_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    pod.get_mut("spec")?.as_object_mut()
}

fn name_of(item: &Value) -> Option<&str> {
    item.get("name")?.as_str()
}

/// Containers the user declared under a sidecar's name: they override the
/// injected container field by field, and are remembered in the
/// `proxy.istio.io/overrides` annotation so re-injection can redo that.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Value>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.init_containers.is_empty() && self.containers.is_empty()
    }

    fn list_mut(&mut self, list: &str) -> &mut Vec<Value> {
        if list == "initContainers" {
            &mut self.init_containers
        } else {
            &mut self.containers
        }
    }

    /// Adds `container` under `list`, replacing one of the same name.
    fn put(&mut self, list: &str, container: Value) {
        let items = self.list_mut(list);
        let name = name_of(&container).map(str::to_string);
        items.retain(|c| name_of(c).map(str::to_string) != name);
        items.push(container);
    }
}

/// Removes what an earlier injection added: the containers, volumes and
/// pull secrets its status annotation lists.
pub fn strip_injected(pod: &mut Value, status: &Status) {
    if let Some(spec) = spec_mut(pod) {
        let lists: [(&str, &[String]); 4] = [
            ("initContainers", &status.init_containers),
            ("containers", &status.containers),
            ("volumes", &status.volumes),
            ("imagePullSecrets", &status.image_pull_secrets),
        ];
        for (field, names) in lists {
            if let Some(Value::Array(items)) = spec.get_mut(field) {
                items.retain(|i| !name_of(i).is_some_and(|n| names.iter().any(|s| s == n)));
            }
        }
    }
}

/// Takes the user's containers named like a sidecar out of the pod and adds
/// them to `overrides`.
pub fn take_overrides(
    pod: &mut Value,
    sidecar_names: &BTreeSet<String>,
    overrides: &mut Overrides,
) {
    let Some(spec) = spec_mut(pod) else { return };
    for list in CONTAINER_LISTS {
        if let Some(Value::Array(items)) = spec.get_mut(list) {
            let (taken, kept): (Vec<Value>, Vec<Value>) = std::mem::take(items)
                .into_iter()
                .partition(|c| name_of(c).is_some_and(|n| sidecar_names.contains(n)));
            *items = kept;
            for c in taken {
                overrides.put(list, c);
            }
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
    /// Records the names a rendered fragment adds.
    pub fn record(&mut self, fragment: &Value) {
        let names = |field: &str| -> Vec<String> {
            fragment
                .pointer(&format!("/spec/{field}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| name_of(i).map(str::to_string))
                .collect()
        };
        for (field, into) in [
            ("initContainers", &mut self.init_containers),
            ("containers", &mut self.containers),
            ("volumes", &mut self.volumes),
            ("imagePullSecrets", &mut self.image_pull_secrets),
        ] {
            for name in names(field) {
                if !into.contains(&name) {
                    into.push(name);
                }
            }
        }
    }

    fn list(&self, list: &str) -> &[String] {
        match list {
            "initContainers" => &self.init_containers,
            "volumes" => &self.volumes,
            _ => &self.containers,
        }
    }
}

/// Applies the user's overrides onto the injected containers of the same
/// name, wherever the template put them. `image: auto` keeps the injected
/// image. An override whose name was not injected goes back where the user
/// declared it, so nothing the user wrote is lost.
pub fn apply_overrides(pod: &mut Value, overrides: &Overrides) {
    let Some(spec) = spec_mut(pod) else { return };
    for (declared_in, items) in [
        ("initContainers", &overrides.init_containers),
        ("containers", &overrides.containers),
    ] {
        for user in items {
            let Value::Object(mut fields) = user.clone() else {
                continue;
            };
            if fields.get("image").and_then(Value::as_str) == Some("auto") {
                fields.remove("image");
            }
            let name = fields.get("name").cloned();
            let location = CONTAINER_LISTS.iter().find_map(|list| {
                let items = spec.get(*list)?.as_array()?;
                let index = items.iter().position(|c| c.get("name") == name.as_ref())?;
                Some((*list, index))
            });
            let target = location.and_then(|(list, index)| spec[list][index].as_object_mut());
            match target {
                Some(injected) => merge_object(injected, fields),
                None => push(spec, declared_in, Value::Object(fields)),
            }
        }
    }
}

fn push(spec: &mut Map<String, Value>, list: &str, item: Value) {
    match spec.entry(list).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(items) => items.push(item),
        other => *other = Value::Array(vec![item]),
    }
}

/// Puts the containers in Istio's order: injected init containers (and
/// volumes) first, so traffic capture runs before anything else; injected
/// containers after the application's, except the proxy, which goes first
/// when the application must wait for it.
pub fn order(pod: &mut Value, injected: &Injected, hold_application: bool) {
    let Some(spec) = spec_mut(pod) else { return };
    for list in ["initContainers", "containers", "volumes"] {
        let Some(Value::Array(items)) = spec.get_mut(list) else {
            continue;
        };
        let names = injected.list(list);
        let rank = |c: &Value| -> (u8, usize) {
            let pos = name_of(c).and_then(|n| names.iter().position(|i| i == n));
            match (list, pos) {
                (_, Some(_)) if hold_application && name_of(c) == Some(PROXY_CONTAINER) => (0, 0),
                ("initContainers" | "volumes", Some(p)) => (0, p + 1),
                ("initContainers" | "volumes", None) => (1, 0),
                (_, None) => (1, 0),
                (_, Some(p)) => (2, p),
            }
        };
        // A stable sort keeps the user's relative order within each group.
        items.sort_by_key(rank);
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
    fn overrides_win_field_by_field_and_auto_keeps_the_image() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "app"},
            {"name": "istio-proxy", "image": "auto", "tty": true, "securityContext": {"runAsUser": 1234}}
        ]}});
        let names = BTreeSet::from(["istio-proxy".to_string()]);
        let mut overrides = Overrides::default();
        take_overrides(&mut pod, &names, &mut overrides);
        assert_eq!(pod, json!({"spec": {"containers": [{"name": "app"}]}}));
        let fragment = json!({"spec": {"initContainers": [
            {"name": "istio-proxy", "image": "proxy:1", "securityContext": {"runAsUser": 1337, "runAsGroup": 1337}}
        ]}});
        merge_object(pod.as_object_mut().unwrap(), obj(fragment));
        apply_overrides(&mut pod, &overrides);
        assert_eq!(
            pod["spec"]["initContainers"][0],
            json!({"name": "istio-proxy", "image": "proxy:1", "tty": true,
                   "securityContext": {"runAsUser": 1234, "runAsGroup": 1337}})
        );
    }

    #[test]
    fn ordering() {
        let mut pod = json!({"spec": {
            "initContainers": [{"name": "user-init"}, {"name": "istio-init"}, {"name": "istio-proxy"}],
            "containers": [{"name": "istio-proxy"}, {"name": "a"}, {"name": "b"}]
        }});
        let injected = Injected {
            init_containers: vec!["istio-init".into(), "istio-proxy".into()],
            containers: vec!["istio-proxy".into()],
            ..Default::default()
        };
        order(&mut pod, &injected, false);
        let names = |pod: &Value, list: &str| -> Vec<String> {
            pod["spec"][list]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(&pod, "initContainers"),
            ["istio-init", "istio-proxy", "user-init"]
        );
        assert_eq!(names(&pod, "containers"), ["a", "b", "istio-proxy"]);
        order(&mut pod, &injected, true);
        assert_eq!(names(&pod, "containers"), ["istio-proxy", "a", "b"]);
    }
}
