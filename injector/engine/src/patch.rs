//! The last step: the injected pod must be a Pod the API server accepts,
//! and the answer is the JSON Patch from the pod as received to it.

use std::collections::BTreeSet;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation};
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

/// Whether the injected pod's container and volume names must be unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// As the API server requires: our templates are held to it.
    Unique,
    /// As rendered: Istio's templates give Istio's pod, even one the API
    /// server will refuse for its names (Istio's `spire` template with
    /// native sidecars names two containers `istio-proxy`), as Istio does.
    AsRendered,
}

/// Checks that `injected` is a Pod, with its names held to `names`, and
/// diffs it from `original`.
pub fn diff(original: &Value, injected: &Value, names: Names) -> Result<Patch, PatchError> {
    if let Err(result) = typed_pod(injected, names) {
        return Err(match typed_pod(original, names) {
            Err(received) => PatchError::NotAPod(received),
            Ok(()) => PatchError::InvalidResult(result),
        });
    }
    let mut ops = Vec::new();
    diff_value(original, injected, &mut PointerBuf::root(), &mut ops);
    Ok(Patch(ops))
}

/// Appends to `ops` what turns `left` into `right`.
///
/// Unlike a generic diff, equal subtrees are skipped at once (most of a pod
/// is), and a list whose items carry names is diffed by name: a sidecar
/// inserted before the app containers is one `add`, not a rewrite of every
/// container after it.
fn diff_value(left: &Value, right: &Value, path: &mut PointerBuf, ops: &mut Vec<PatchOperation>) {
    if left == right {
        return;
    }
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for key in l.keys().filter(|k| !r.contains_key(*k)) {
                ops.push(PatchOperation::Remove(RemoveOperation {
                    path: path.with_trailing_token(key),
                }));
            }
            for (key, value) in r {
                match l.get(key) {
                    Some(old) => {
                        path.push_back(key);
                        diff_value(old, value, path, ops);
                        path.pop_back();
                    }
                    None => ops.push(PatchOperation::Add(AddOperation {
                        path: path.with_trailing_token(key),
                        value: value.clone(),
                    })),
                }
            }
        }
        (Value::Array(l), Value::Array(r)) => {
            if !diff_named_items(l, r, path, ops) {
                diff_by_index(l, r, path, ops);
            }
        }
        _ => ops.push(PatchOperation::Replace(ReplaceOperation {
            path: path.clone(),
            value: right.clone(),
        })),
    }
}

fn name(item: &Value) -> Option<&str> {
    item.get("name")?.as_str()
}

/// Diffs lists of named items (containers, volumes, env...) when `right`
/// keeps every item of `left`, in the same order, and only adds: the new
/// items are added at their places, ascending, then the kept ones are
/// diffed where they now stand. Returns false when that does not hold.
fn diff_named_items(
    left: &[Value],
    right: &[Value],
    path: &mut PointerBuf,
    ops: &mut Vec<PatchOperation>,
) -> bool {
    // Where each item of `left` stands in `right`, by name, in order.
    let mut kept = Vec::with_capacity(left.len());
    let mut next = 0;
    for item in left {
        let Some(wanted) = name(item) else {
            return false;
        };
        match right[next..].iter().position(|r| name(r) == Some(wanted)) {
            Some(offset) => {
                kept.push(next + offset);
                next += offset + 1;
            }
            None => return false,
        }
    }
    if right.iter().any(|r| name(r).is_none()) {
        return false;
    }
    let mut kept_iter = kept.iter().peekable();
    for (index, item) in right.iter().enumerate() {
        if kept_iter.peek() == Some(&&index) {
            kept_iter.next();
        } else {
            ops.push(PatchOperation::Add(AddOperation {
                path: path.with_trailing_token(index),
                value: item.clone(),
            }));
        }
    }
    for (old, &index) in left.iter().zip(&kept) {
        path.push_back(index);
        diff_value(old, &right[index], path, ops);
        path.pop_back();
    }
    true
}

/// Diffs two lists position by position: changed items in place, then
/// the tail added or removed (from the end, so indexes stay valid).
fn diff_by_index(
    left: &[Value],
    right: &[Value],
    path: &mut PointerBuf,
    ops: &mut Vec<PatchOperation>,
) {
    for (index, (l, r)) in left.iter().zip(right).enumerate() {
        path.push_back(index);
        diff_value(l, r, path, ops);
        path.pop_back();
    }
    for (index, item) in right.iter().enumerate().skip(left.len()) {
        ops.push(PatchOperation::Add(AddOperation {
            path: path.with_trailing_token(index),
            value: item.clone(),
        }));
    }
    for index in (right.len()..left.len()).rev() {
        ops.push(PatchOperation::Remove(RemoveOperation {
            path: path.with_trailing_token(index),
        }));
    }
}

/// Deserializes into the real Kubernetes type: the check that a pod has the
/// shape the API server accepts. With [`Names::Unique`], names must also be
/// unique, as the API server requires: a template of ours that adds a
/// second volume or container of a name would otherwise be served, and
/// re-injecting such a pod (which undoes the first injection by name) would
/// not give it back.
fn typed_pod(pod: &Value, names: Names) -> Result<(), String> {
    let pod = Pod::deserialize(pod).map_err(|e| e.to_string())?;
    let (Names::Unique, Some(spec)) = (names, pod.spec) else {
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
        assert_eq!(diff(&good, &good, Names::Unique).unwrap().0.len(), 0);
        assert!(matches!(
            diff(&good, &bad, Names::Unique),
            Err(PatchError::InvalidResult(_))
        ));
        assert!(matches!(
            diff(&bad, &bad, Names::Unique),
            Err(PatchError::NotAPod(_))
        ));
    }

    /// Applies the diff and checks it lands on `right`; returns the ops.
    fn round_trip(left: Value, right: Value) -> Vec<Value> {
        let mut ops = Vec::new();
        diff_value(&left, &right, &mut PointerBuf::root(), &mut ops);
        let mut patched = left;
        json_patch::patch(&mut patched, &ops).unwrap();
        assert_eq!(patched, right);
        ops.iter()
            .map(|op| serde_json::to_value(op).unwrap())
            .collect()
    }

    #[test]
    fn a_named_item_inserted_first_is_one_add_and_kept_items_are_diffed_in_place() {
        let ops = round_trip(
            json!({"containers": [{"name": "app", "image": "a"}, {"name": "log", "image": "l"}]}),
            json!({"containers": [
                {"name": "proxy", "image": "p"},
                {"name": "app", "image": "a", "env": [{"name": "X", "value": "1"}]},
                {"name": "extra"},
                {"name": "log", "image": "l"}
            ]}),
        );
        assert_eq!(
            ops,
            vec![
                json!({"op": "add", "path": "/containers/0", "value": {"name": "proxy", "image": "p"}}),
                json!({"op": "add", "path": "/containers/2", "value": {"name": "extra"}}),
                json!({"op": "add", "path": "/containers/1/env", "value": [{"name": "X", "value": "1"}]}),
            ]
        );
    }

    #[test]
    fn lists_that_reorder_drop_or_lack_names_are_diffed_by_index() {
        for (left, right) in [
            (
                json!([{"name": "a"}, {"name": "b"}]),
                json!([{"name": "b"}, {"name": "a"}]),
            ),
            (
                json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]),
                json!([{"name": "c"}]),
            ),
            (json!([1, 2, 3]), json!([0, 1, 2, 3, 4])),
            (json!([1, 2, 3, 4]), json!([1])),
            (json!([{"name": "a"}]), json!([{"name": "a"}, {"x": 1}])),
            (
                json!({"a/b": {"c~d": [1]}, "gone": 1}),
                json!({"a/b": {"c~d": [2]}, "new": null}),
            ),
            (json!({"a": 1}), json!([1])),
        ] {
            round_trip(json!({"v": left}), json!({"v": right}));
        }
        assert!(
            round_trip(
                json!({"same": [1, {"a": 2}]}),
                json!({"same": [1, {"a": 2}]})
            )
            .is_empty()
        );
    }

    #[test]
    fn names_must_be_unique_as_the_api_server_requires() {
        let good = json!({"spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}],
                                   "volumes": [{"name": "a"}, {"name": "b"}]}});
        let twice = json!({"spec": {"containers": [{"name": "app"}], "volumes": [{"name": "a"}, {"name": "a"}]}});
        let err = diff(&good, &twice, Names::Unique).unwrap_err().to_string();
        assert!(err.contains("two volumes are named \"a\""), "{err}");
        let shared =
            json!({"spec": {"initContainers": [{"name": "app"}], "containers": [{"name": "app"}]}});
        assert!(
            matches!(diff(&shared, &shared, Names::Unique), Err(PatchError::NotAPod(m)) if m.contains("container"))
        );
        // Istio's templates are held to what Istio makes.
        assert!(diff(&good, &twice, Names::AsRendered).is_ok());
    }
}
