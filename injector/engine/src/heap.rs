//! What a JSON tree costs in memory, for the byte budgets of the caches.
//!
//! A cached render is held as `serde_json` values, not as text, and a
//! value tree takes several times its JSON's bytes: every object is a
//! B-tree whose leaf node has room for eleven entries (some 630 bytes for a
//! map of one key), every value 32 bytes. Weighing entries by their JSON
//! length let a render cache of "32 MiB" hold 270 MiB under a stream of
//! never-seen pods; weighing them by this estimate keeps the budget a
//! budget of memory.

use std::mem::size_of;

use serde_json::{Map, Value};

/// Entries in one B-tree node (std's `B` is 6: up to `2B - 1` keys).
const NODE_CAPACITY: usize = 11;
/// A leaf node: parent pointer, index and length, then the keys and values.
const LEAF_BYTES: usize = 16 + NODE_CAPACITY * (size_of::<String>() + size_of::<Value>());
/// An internal node adds a pointer per child.
const INTERNAL_BYTES: usize = LEAF_BYTES + (NODE_CAPACITY + 1) * size_of::<usize>();
/// What the allocator adds to each allocation, on average (size classes).
const ALLOCATION_OVERHEAD: usize = 8;

/// The heap bytes `value` owns (not counting the `Value` itself, which
/// lives in its parent or on the stack).
pub fn bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => string(s),
        Value::Array(items) => {
            let own = if items.capacity() == 0 {
                0
            } else {
                items.capacity() * size_of::<Value>() + ALLOCATION_OVERHEAD
            };
            own + items.iter().map(bytes).sum::<usize>()
        }
        Value::Object(map) => object(map),
    }
}

fn string(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.len() + ALLOCATION_OVERHEAD
    }
}

fn object(map: &Map<String, Value>) -> usize {
    let entries: usize = map.iter().map(|(k, v)| string(k) + bytes(v)).sum();
    entries + nodes(map.len())
}

/// The nodes of a B-tree of `len` entries: one leaf up to eleven, then
/// leaves about two thirds full under internal nodes.
fn nodes(len: usize) -> usize {
    match len {
        0 => 0,
        1..=NODE_CAPACITY => LEAF_BYTES + ALLOCATION_OVERHEAD,
        _ => {
            let leaves = len.div_ceil(NODE_CAPACITY * 2 / 3);
            let internal = leaves.div_ceil(NODE_CAPACITY * 2 / 3);
            leaves * (LEAF_BYTES + ALLOCATION_OVERHEAD)
                + internal * (INTERNAL_BYTES + ALLOCATION_OVERHEAD)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars_own_nothing_strings_their_bytes() {
        assert_eq!(bytes(&json!(null)), 0);
        assert_eq!(bytes(&json!(12.5)), 0);
        assert_eq!(bytes(&json!("")), 0);
        assert_eq!(bytes(&json!("abc")), 3 + ALLOCATION_OVERHEAD);
    }

    #[test]
    fn a_small_map_costs_a_whole_node() {
        let one = bytes(&json!({"k00": 1}));
        assert!(one > 600, "{one}");
        // Up to eleven entries fit the same node.
        let eleven: Map<String, Value> = (0..11).map(|i| (format!("k{i:02}"), json!(i))).collect();
        assert_eq!(bytes(&Value::Object(eleven)), one + 10 * string("k00"));
        let many: Map<String, Value> = (0..1000).map(|i| (format!("k{i:04}"), json!(i))).collect();
        let many = bytes(&Value::Object(many));
        assert!(
            many > 1000 * (size_of::<String>() + size_of::<Value>()),
            "{many}"
        );
    }

    /// A pod in memory is several times its JSON: what the caches must
    /// count.
    #[test]
    fn a_pod_weighs_several_times_its_json() {
        let pod = json!({
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{
                "name": "web", "image": "web:1",
                "env": (0..20).map(|i| json!({"name": format!("V{i}"), "value": "x"})).collect::<Vec<_>>(),
                "ports": [{"containerPort": 80}],
            }]}
        });
        let text = pod.to_string().len();
        let memory = bytes(&pod);
        assert!(memory > 4 * text, "{memory} bytes for {text} of JSON");
    }
}
