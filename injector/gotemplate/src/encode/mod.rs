//! JSON and YAML writers over template values, as Go's `encoding/json` and
//! `sigs.k8s.io/yaml` write them, for `toJson`, `toYaml` and the engine's
//! own serializers. A tainted string's escaped contents are tainted in the
//! output, exactly; quotes, braces, colons and indentation never are.

mod json;
mod yaml;

pub use json::{JsonStyle, to_json, write_json};
pub use yaml::{to_yaml, write_yaml};

use serde_json::Value as JsonValue;

use crate::kind::{Kind, StructDef};
use crate::taint::Str;
use crate::value::Value;

/// A value as the serializers see it.
enum Shape<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Str<'a>),
    List(Vec<Value<'a>>),
    Map(Vec<(Str<'a>, Value<'a>)>),
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
            (Some(node), Kind::Struct(def)) => struct_shape(node, def, j.tainted),
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

/// A struct read from JSON serializes to its JSON (which is what its json
/// tags say). Its keys are field names, fixed by the type, so they are not
/// tainted even when its strings are; fields keep their kinds.
fn struct_shape<'a>(node: &'a JsonValue, def: &StructDef, tainted: bool) -> Shape<'a> {
    let JsonValue::Object(object) = node else {
        // A protobuf wrapper: a bare scalar.
        return shape(&Value::from_json(Some(node), Kind::Any, tainted));
    };
    let field_kind = |key: &str| {
        def.fields
            .iter()
            .find(|f| f.key == key && !key.is_empty())
            .map_or(Kind::Any, |f| f.kind)
    };
    Shape::Map(
        object
            .iter()
            .map(|(key, child)| {
                (
                    Str::borrowed(key.as_str()),
                    Value::from_json(Some(child), field_kind(key), tainted),
                )
            })
            .collect(),
    )
}
