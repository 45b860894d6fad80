//! Kubernetes' strategic merge patch over a Pod, as Istio applies each
//! rendered template to the pod (`StrategicMergeMapPatchUsingLookupPatchMeta`
//! with the Pod's patch metadata, unmatched nulls ignored).
//!
//! - maps merge key by key; a `null` deletes the key;
//! - lists the Pod schema marks `patchStrategy: merge` merge item by item on
//!   their merge key, new items appended in the patch's order; the Pod's
//!   primitive merge lists (`finalizers`) gain the missing values;
//! - every other list, and every scalar, is replaced;
//! - the directives `$patch: replace` and `$patch: delete` work on maps and
//!   keyed list items; other `$` keys are dropped.

use serde_json::{Map, Value};

use crate::merge::merge_key;

/// How a list field merges, from the Pod schema's patch metadata.
enum Strategy {
    ByKey(&'static str),
    Union,
    Replace,
}

fn strategy(field: &str) -> Strategy {
    match (field, merge_key(field)) {
        ("finalizers", _) => Strategy::Union,
        (_, Some(key)) => Strategy::ByKey(key),
        (_, None) => Strategy::Replace,
    }
}

/// Why a patch does not apply.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("{field}: an item has no merge key {key:?}")]
    MissingKey { field: String, key: &'static str },
    #[error("{field}: cannot merge {patch} into {original}")]
    Mismatch {
        field: String,
        original: &'static str,
        patch: &'static str,
    },
}

/// Applies `patch` to `original`.
pub fn apply(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), PatchError> {
    if let Some(directive) = patch.get("$patch").and_then(Value::as_str) {
        match directive {
            "replace" => {
                *original = without_directives(patch);
                return Ok(());
            }
            "delete" => {
                original.clear();
                return Ok(());
            }
            _ => {}
        }
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        match (original.get_mut(key), value) {
            (_, Value::Null) => {
                original.remove(key);
            }
            (None, value) => {
                original.insert(key.clone(), fresh(value));
            }
            (Some(Value::Object(o)), Value::Object(p)) => apply(o, p)?,
            (Some(Value::Array(o)), Value::Array(p)) => merge_list(key, o, p)?,
            (
                Some(o @ (Value::Object(_) | Value::Array(_))),
                p @ (Value::Object(_) | Value::Array(_)),
            ) => {
                return Err(PatchError::Mismatch {
                    field: key.clone(),
                    original: kind(o),
                    patch: kind(p),
                });
            }
            (Some(slot), value) => *slot = fresh(value),
        }
    }
    Ok(())
}

fn merge_list(field: &str, original: &mut Vec<Value>, patch: &[Value]) -> Result<(), PatchError> {
    match strategy(field) {
        Strategy::Replace => {
            *original = patch.iter().map(fresh).collect();
        }
        Strategy::Union => {
            let server_order = original.clone();
            for item in patch {
                if !original.contains(item) {
                    original.push(item.clone());
                }
            }
            order(original, patch, &server_order, |a, b| a == b);
        }
        Strategy::ByKey(key) => {
            let server_order = original.clone();
            if patch
                .iter()
                .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
            {
                *original = patch
                    .iter()
                    .filter_map(Value::as_object)
                    .map(without_directives)
                    .map(Value::Object)
                    .collect();
                return Ok(());
            }
            for item in patch {
                let Some(item) = item.as_object() else {
                    original.push(item.clone());
                    continue;
                };
                let id = item.get(key).ok_or_else(|| PatchError::MissingKey {
                    field: field.to_string(),
                    key,
                })?;
                let existing = original.iter().position(|o| o.get(key) == Some(id));
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match (existing, delete) {
                    (Some(i), true) => {
                        original.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => match &mut original[i] {
                        Value::Object(o) => apply(o, item)?,
                        slot => *slot = Value::Object(without_directives(item)),
                    },
                    (None, false) => original.push(Value::Object(without_directives(item))),
                }
            }
            order(original, patch, &server_order, |a, b| {
                a.get(key).is_some() && a.get(key) == b.get(key)
            });
        }
    }
    Ok(())
}

/// `normalizeElementOrder`: the items the patch names in the patch's
/// order, the others in the original's, interleaved so that two items
/// both in the original keep their original order.
fn order(
    merged: &mut Vec<Value>,
    patch: &[Value],
    server_order: &[Value],
    same: impl Fn(&Value, &Value) -> bool,
) {
    let position = |list: &[Value], item: &Value| list.iter().position(|i| same(i, item));
    let (mut patched, server_only): (Vec<Value>, Vec<Value>) = std::mem::take(merged)
        .into_iter()
        .partition(|item| position(patch, item).is_some());
    patched.sort_by_key(|item| position(patch, item));
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        patched.into_iter().peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l), position(server_order, r)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        merged.extend(next);
    }
}

/// A patch value taken as it is: its nulls and directives dropped.
fn fresh(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(without_directives(map)),
        Value::Array(items) => Value::Array(items.iter().map(fresh).collect()),
        other => other.clone(),
    }
}

fn without_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| (k.clone(), fresh(v)))
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "a map",
        Value::Array(_) => "a list",
        _ => "a scalar",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(original: Value, patch: Value) -> Value {
        let mut o = original.as_object().cloned().unwrap();
        apply(&mut o, patch.as_object().unwrap()).unwrap();
        Value::Object(o)
    }

    #[test]
    fn merges_as_kubernetes_does() {
        let out = patched(
            json!({"spec": {"containers": [{"name": "app", "args": ["a"], "env": [{"name": "X", "value": "1"}]}],
                "tolerations": [{"key": "a"}]}}),
            json!({"spec": {"containers": [
                {"name": "app", "args": ["b"], "env": [{"name": "Y", "value": "2"}]},
                {"name": "istio-proxy", "image": null, "resources": {"limits": null}}],
                "tolerations": [{"key": "b"}], "initContainers": []}}),
        );
        assert_eq!(
            out,
            json!({"spec": {"containers": [
                {"name": "app", "args": ["b"], "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]},
                {"name": "istio-proxy", "resources": {}}],
                "tolerations": [{"key": "b"}], "initContainers": []}})
        );
    }

    #[test]
    fn patched_items_come_first_unless_the_original_orders_them() {
        let out = patched(
            json!({"spec": {"volumes": [{"name": "data"}, {"name": "b"}, {"name": "c"}]}}),
            json!({"spec": {"volumes": [{"name": "x"}, {"name": "c"}, {"name": "y"}]}}),
        );
        let names: Vec<&str> = out["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["x", "data", "b", "c", "y"]);
    }

    #[test]
    fn directives() {
        let out = patched(
            json!({"spec": {"volumes": [{"name": "a"}, {"name": "b"}], "x": {"k": 1}}}),
            json!({"spec": {"volumes": [{"name": "a", "$patch": "delete"}], "x": {"$patch": "replace", "j": 2}}}),
        );
        assert_eq!(
            out,
            json!({"spec": {"volumes": [{"name": "b"}], "x": {"j": 2}}})
        );
    }
}
