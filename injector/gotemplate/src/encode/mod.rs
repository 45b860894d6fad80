//! JSON and YAML writers over template values, as Go's `encoding/json` and
//! `sigs.k8s.io/yaml` write them, for `toJson`, `toYaml` and the engine's
//! own serializers. A tainted string's escaped contents are tainted in the
//! output, exactly; quotes, braces, colons and indentation never are.

mod json;
mod yaml;

pub use json::{JsonStyle, to_json, write_json};
pub use yaml::{to_yaml, write_yaml};

use serde_json::Value as JsonValue;

use crate::kind::Kind;
use crate::taint::Str;
use crate::value::{Value, key_str};

/// A value as the serializers see it.
enum Shape<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Str<'a>),
    List(Vec<Value<'a>>),
    Map(Vec<(Str<'a>, Value<'a>)>),
    /// A borrowed JSON subtree written as it is (structs read from JSON
    /// serialize to their JSON, which is what their json tags say).
    Raw(&'a JsonValue, bool),
}

fn shape<'a>(v: &Value<'a>) -> Shape<'a> {
    match v {
        Value::Missing | Value::Nil | Value::Zero => Shape::Null,
        Value::Bool(b) => Shape::Bool(*b),
        Value::Int(i) => Shape::Int(*i),
        Value::Float(f) => Shape::Float(*f),
        Value::Str(s) => Shape::Str(s.clone()),
        Value::List(items) => Shape::List(items.to_vec()),
        Value::Map(map) => Shape::Map(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Value::Record(r) => Shape::Map(
            r.fields
                .iter()
                .map(|(k, v)| (Str::borrowed(k), v.clone()))
                .collect(),
        ),
        Value::Json(j) => match (j.node, j.kind) {
            (None, _) if matches!(j.kind, Kind::Enum(_)) => {
                v.as_str().map_or(Shape::Null, Shape::Str)
            }
            (None, _) => Shape::Null,
            (Some(_), Kind::Enum(_)) => v.as_str().map_or(Shape::Null, Shape::Str),
            (Some(node), Kind::Struct(_)) => Shape::Raw(node, j.tainted),
            (Some(_), _) => {
                if let Some(entries) = v.map_entries() {
                    Shape::Map(entries)
                } else if let Some(items) = v.list_items() {
                    Shape::List(items.collect())
                } else {
                    Shape::Null
                }
            }
        },
    }
}

/// The shape of a raw JSON node.
fn raw_shape(node: &JsonValue, tainted: bool) -> Shape<'_> {
    match node {
        JsonValue::Null => Shape::Null,
        JsonValue::Bool(b) => Shape::Bool(*b),
        JsonValue::Number(n) => n
            .as_i64()
            .map_or_else(|| Shape::Float(n.as_f64().unwrap_or(0.0)), Shape::Int),
        JsonValue::String(s) => Shape::Str(if tainted {
            Str::tainted(s, crate::Origin::of_node(node))
        } else {
            Str::borrowed(s)
        }),
        JsonValue::Array(items) => Shape::List(
            items
                .iter()
                .map(|i| Value::from_json(Some(i), Kind::Any, tainted))
                .collect(),
        ),
        JsonValue::Object(map) => Shape::Map(
            map.iter()
                .map(|(k, v)| {
                    (
                        key_str(k, tainted),
                        Value::from_json(Some(v), Kind::Any, tainted),
                    )
                })
                .collect(),
        ),
    }
}
