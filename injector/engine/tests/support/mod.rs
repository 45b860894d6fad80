//! What the engine's integration tests share.

use serde_json::Value;

/// `top` laid over `base`, key by key: how a test changes a few values of
/// the embedded configuration.
pub fn overlay(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                overlay(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, t) => *b = t.clone(),
    }
}
