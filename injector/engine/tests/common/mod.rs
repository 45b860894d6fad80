//! Helpers shared by the engine's integration tests.

use serde_json::Value;

/// The structure of a value: every path, with scalars reduced to their type.
/// Two pods with the same shape differ only in scalar values, so a value
/// taken from the pod cannot have added a key, an item or a document.
pub fn shape(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                walk(child, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            out.push(format!("{path}[{}]", items.len()));
            for (i, child) in items.iter().enumerate() {
                walk(child, &format!("{path}/{i}"), out);
            }
        }
        Value::String(_) => out.push(format!("{path}: string")),
        Value::Number(_) => out.push(format!("{path}: number")),
        Value::Bool(_) => out.push(format!("{path}: bool")),
        Value::Null => out.push(format!("{path}: null")),
    }
}
