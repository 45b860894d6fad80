//! Reading and writing the parts of a pod (as JSON) that every step
//! touches: its namespace, its spec, the names of list items, and its
//! annotations. The engine keeps the pod as the JSON it arrived as, so
//! fields this build's Kubernetes types do not know survive untouched.

use serde_json::{Map, Value};

/// The pod's container lists, in the order the steps treat them.
pub const CONTAINER_LISTS: [&str; 2] = ["initContainers", "containers"];

/// The pod's own namespace, else `fallback` (the admission request's, or
/// `default` offline): a pod created through the API often names none.
pub fn namespace<'a>(pod: &'a Value, fallback: &'a str) -> &'a str {
    pod["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or(fallback)
}

pub fn spec_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    pod.get_mut("spec")?.as_object_mut()
}

/// The `name` of a list item (a container, a volume, an env var).
pub fn name_of(item: &Value) -> Option<&str> {
    item.get("name")?.as_str()
}

/// Sets `pairs` as annotations, creating `metadata.annotations` if absent.
pub fn set_annotations(pod: &mut Value, pairs: impl IntoIterator<Item = (String, String)>) {
    let Some(pod) = pod.as_object_mut() else {
        return;
    };
    let meta = pod
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Value::Object(annotations) = annotations {
        annotations.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
}

/// Removes the annotations `keys`, if present.
pub fn remove_annotations(pod: &mut Value, keys: &[&str]) {
    if let Some(Value::Object(annotations)) = pod
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        for k in keys {
            annotations.remove(*k);
        }
    }
}
