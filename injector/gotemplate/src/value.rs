//! Values a template computes with: borrowed JSON (read lazily, never
//! copied), scalars, and shared (`Rc`) lists and maps built by functions.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value as JsonValue;

use crate::kind::Kind;
use crate::taint::{Origin, Str};

/// A list built by a function (`list`, `append`...).
pub type List<'a> = Rc<Vec<Value<'a>>>;
/// A map built by a function (`dict`...): Go's `map[string]any`, so it
/// iterates in key order. Immutable once shared, which keeps values
/// covariant in `'a` (see the crate docs on `set`).
pub type Map<'a> = Rc<BTreeMap<Str<'a>, Value<'a>>>;

/// A value during one render.
#[derive(Clone, Debug, Default)]
pub enum Value<'a> {
    /// Go's "no value": a map key that is not there, read with `.key`.
    /// Prints `<no value>` in an action, `<nil>` as a function argument; a
    /// field of it is again no value.
    #[default]
    Missing,
    /// Go's nil (`nil`, JSON null in `map[string]any`). A field of it is an
    /// error, as in Go.
    Nil,
    /// The zero value of a struct field whose Go type is unknown
    /// ([`Kind::Unknown`]): false, empty, equal to "", 0, false and nil,
    /// prints as "" (where Go would print "", 0 or false by type).
    Zero,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Str<'a>),
    List(List<'a>),
    Map(Map<'a>),
    /// A borrowed JSON object or array (or a missing composite) of some kind.
    Json(Json<'a>),
    /// A struct the caller assembled (Istio's top-level template data).
    Record(Rc<Record<'a>>),
}

/// A borrowed JSON node with the Go type it stands for.
#[derive(Clone, Copy, Debug)]
pub struct Json<'a> {
    /// `None`: the node is missing (a nil map, slice or pointer).
    pub(crate) node: Option<&'a JsonValue>,
    pub(crate) kind: Kind,
    /// Whether strings under this node are tainted.
    pub(crate) tainted: bool,
}

/// A Go struct assembled by the caller from several sources: named fields in
/// declaration order (which is how Go prints a struct).
#[derive(Debug)]
pub struct Record<'a> {
    pub name: &'static str,
    pub fields: Vec<(&'static str, Value<'a>)>,
}

impl<'a> Value<'a> {
    /// A JSON node of the given kind, untainted.
    pub fn json(node: &'a JsonValue, kind: Kind) -> Self {
        Self::from_json(Some(node), kind, false)
    }

    /// A JSON node of the given kind whose strings (and object keys) all
    /// come from untrusted input: each is tainted with its own origin.
    pub fn json_tainted(node: &'a JsonValue, kind: Kind) -> Self {
        Self::from_json(Some(node), kind, true)
    }

    /// A struct assembled by the caller.
    pub fn record(name: &'static str, fields: Vec<(&'static str, Value<'a>)>) -> Self {
        Value::Record(Rc::new(Record { name, fields }))
    }

    pub fn str(text: &'a str) -> Self {
        Value::Str(Str::borrowed(text))
    }

    pub fn string(text: impl Into<Rc<str>>) -> Self {
        Value::Str(Str::owned(text))
    }

    pub fn list(items: Vec<Value<'a>>) -> Self {
        Value::List(Rc::new(items))
    }

    pub fn map(entries: BTreeMap<Str<'a>, Value<'a>>) -> Self {
        Value::Map(Rc::new(entries))
    }

    /// Converts parsed JSON into owned values as `encoding/json` decodes into
    /// `any` (numbers are float64); strings are tainted with `origin`.
    pub fn from_owned_json(json: JsonValue, origin: Option<Origin>) -> Value<'static> {
        match json {
            JsonValue::Null => Value::Nil,
            JsonValue::Bool(b) => Value::Bool(b),
            JsonValue::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            JsonValue::String(s) => Value::Str(Str::owned(s).with_origin(origin)),
            JsonValue::Array(items) => Value::list(
                items
                    .into_iter()
                    .map(|i| Value::from_owned_json(i, origin))
                    .collect(),
            ),
            JsonValue::Object(map) => Value::map(
                map.into_iter()
                    .map(|(k, v)| {
                        (
                            Str::owned(k).with_origin(origin),
                            Value::from_owned_json(v, origin),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Reads a JSON node (or its absence) as a value of `kind`. Scalars
    /// become plain values; objects and arrays stay borrowed.
    pub(crate) fn from_json(node: Option<&'a JsonValue>, kind: Kind, tainted: bool) -> Self {
        let Some(node) = node else {
            return Self::zero_of(kind);
        };
        match (node, kind) {
            (JsonValue::Null, Kind::Any | Kind::Unknown) => Value::Nil,
            (JsonValue::Null, _) => Self::zero_of(kind),
            // Structs and enums keep their kind whatever the JSON holds: a
            // protobuf wrapper (`BoolValue`) is a bare scalar in JSON.
            (_, Kind::Struct(_) | Kind::Enum(_))
            | (JsonValue::Object(_) | JsonValue::Array(_), _) => Value::Json(Json {
                node: Some(node),
                kind: match kind {
                    Kind::Unknown => Kind::Any,
                    other => other,
                },
                tainted,
            }),
            (JsonValue::String(s), _) => Value::Str(if tainted {
                Str::tainted(s, Origin::of_node(node))
            } else {
                Str::borrowed(s)
            }),
            (JsonValue::Number(n), Kind::Int) => n
                .as_i64()
                .map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int),
            (JsonValue::Number(n), _) => Value::Float(n.as_f64().unwrap_or(0.0)),
            (JsonValue::Bool(b), _) => Value::Bool(*b),
        }
    }

    /// Go's zero value of a kind.
    pub(crate) fn zero_of(kind: Kind) -> Self {
        match kind {
            Kind::Any => Value::Nil,
            Kind::Unknown => Value::Zero,
            Kind::String => Value::str(""),
            Kind::Int => Value::Int(0),
            Kind::Float => Value::Float(0.0),
            Kind::Bool => Value::Bool(false),
            Kind::Map(_) | Kind::List(_) | Kind::Struct(_) | Kind::Enum(_) => Value::Json(Json {
                node: None,
                kind,
                tainted: false,
            }),
        }
    }

    /// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Missing | Value::Nil | Value::Zero => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.as_str().is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Record(_) => true,
            Value::Json(j) => match (j.kind, j.node) {
                (_, None) => false,
                (Kind::Enum(def), Some(node)) => enum_number(def.values, node) != 0,
                (Kind::Struct(_), Some(_)) => true,
                (_, Some(JsonValue::Object(m))) => !m.is_empty(),
                (_, Some(JsonValue::Array(a))) => !a.is_empty(),
                (_, Some(_)) => true,
            },
        }
    }

    /// Nil-like: what Go's `eq` treats as nil and a function's typed
    /// argument receives as its zero.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Missing | Value::Nil)
    }

    /// The string inside, if this is a string (or an enum's name, or the
    /// unknown-type zero read as "").
    pub fn as_str(&self) -> Option<Str<'a>> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Zero => Some(Str::borrowed("")),
            Value::Json(j) => j.enum_name(),
            _ => None,
        }
    }

    /// Go's type name, for messages and `%T`.
    pub fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Zero => "<zero>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Record(r) => r.name.into(),
            Value::Json(j) => kind_name(j.kind, j.node),
        }
    }

    /// Number of elements (`len`): bytes of a string, items of a list or map.
    pub fn length(&self) -> Result<usize, String> {
        match self {
            Value::Str(s) => Ok(s.as_str().len()),
            Value::List(l) => Ok(l.len()),
            Value::Map(m) => Ok(m.len()),
            Value::Zero => Ok(0),
            Value::Json(j) if !matches!(j.kind, Kind::Struct(_) | Kind::Enum(_)) => {
                Ok(match j.node {
                    Some(JsonValue::Object(m)) => m.len(),
                    Some(JsonValue::Array(a)) => a.len(),
                    Some(JsonValue::String(s)) => s.len(),
                    _ => 0,
                })
            }
            Value::Missing | Value::Nil => Err("len of nil pointer".into()),
            other => Err(format!("len of type {}", other.type_name())),
        }
    }

    /// The items of a list (`None` if this is not a list).
    pub fn list_items(&self) -> Option<ListItems<'a, '_>> {
        match self {
            Value::List(l) => Some(ListItems::Owned(l.iter())),
            Value::Json(j) => match (j.node, j.kind) {
                (Some(JsonValue::Array(items)), kind) => {
                    Some(ListItems::Json(items.iter(), element_kind(kind), j.tainted))
                }
                (None, Kind::List(_)) => Some(ListItems::Json([].iter(), Kind::Any, false)),
                _ => None,
            },
            Value::Zero => Some(ListItems::Owned([].iter())),
            _ => None,
        }
    }

    /// The entries of a map in key order (`None` if this is not a map).
    pub fn map_entries(&self) -> Option<Vec<(Str<'a>, Value<'a>)>> {
        match self {
            Value::Map(m) => Some(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            Value::Json(j) => match (j.node, j.kind) {
                (Some(JsonValue::Object(object)), kind @ (Kind::Any | Kind::Map(_))) => {
                    let elem = element_kind(kind);
                    let mut entries: Vec<_> = object
                        .iter()
                        .map(|(k, v)| {
                            (
                                key_str(k, j.tainted),
                                Value::from_json(Some(v), elem, j.tainted),
                            )
                        })
                        .collect();
                    if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                        entries.sort_by(|a, b| a.0.cmp(&b.0));
                    }
                    Some(entries)
                }
                (None, Kind::Map(_)) => Some(Vec::new()),
                _ => None,
            },
            Value::Zero => Some(Vec::new()),
            _ => None,
        }
    }

    /// Whether this is a map (of any origin).
    pub fn is_map(&self) -> bool {
        match self {
            Value::Map(_) => true,
            Value::Json(j) => match j.kind {
                Kind::Map(_) => true,
                Kind::Any => matches!(j.node, Some(JsonValue::Object(_))),
                _ => false,
            },
            _ => false,
        }
    }

    /// Looks up a map key as `index` does: a missing key gives the zero value
    /// of the map's element type. `None`: this is not a map.
    pub fn map_get(&self, key: &str) -> Option<Value<'a>> {
        match self {
            Value::Map(m) => Some(m.get(key).cloned().unwrap_or(Value::Nil)),
            Value::Json(j) => match (j.node, j.kind) {
                (Some(JsonValue::Object(object)), kind @ (Kind::Any | Kind::Map(_))) => Some(
                    Value::from_json(object.get(key), element_kind(kind), j.tainted),
                ),
                (None, kind @ Kind::Map(_)) => {
                    Some(Value::from_json(None, element_kind(kind), false))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether a map has a key (`None` if this is not a map).
    pub fn map_has(&self, key: &str) -> Option<bool> {
        match self {
            Value::Map(m) => Some(m.contains_key(key)),
            Value::Json(j) => match (j.node, j.kind) {
                (Some(JsonValue::Object(object)), Kind::Any | Kind::Map(_)) => {
                    Some(object.contains_key(key))
                }
                (None, Kind::Map(_)) => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value of `.name` on this value, as Go evaluates a field (or
    /// argument-less method) in a template.
    pub fn field(&self, name: &str) -> Result<Value<'a>, String> {
        match self {
            Value::Missing => Ok(Value::Missing),
            Value::Zero => Ok(Value::Zero),
            Value::Nil => Err(format!("nil pointer evaluating interface {{}}.{name}")),
            Value::Map(m) => Ok(m.get(name).cloned().unwrap_or(Value::Missing)),
            Value::Record(r) => r
                .fields
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("can't evaluate field {name} in type {}", r.name)),
            Value::Json(j) => j.field(name),
            other => Err(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            )),
        }
    }
}

impl<'a> Json<'a> {
    /// The Go type this node stands for.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The JSON node; `None` when missing (a nil map, slice or pointer).
    pub fn node(&self) -> Option<&'a JsonValue> {
        self.node
    }

    /// Whether strings under this node are tainted.
    pub fn tainted(&self) -> bool {
        self.tainted
    }

    fn field(&self, name: &str) -> Result<Value<'a>, String> {
        match (self.kind, self.node) {
            (Kind::Struct(def), node) => {
                let (key, kind) = def
                    .field(name)
                    .ok_or_else(|| format!("can't evaluate field {name} in type *{}", def.name))?;
                let child = match node {
                    Some(JsonValue::Object(object)) => key.get(object, name),
                    Some(scalar) if key.is_self() => Some(scalar),
                    _ => None,
                };
                Ok(Value::from_json(child, kind, self.tainted))
            }
            (Kind::Enum(_), _) if name == "String" => {
                Ok(self.enum_name().map_or(Value::Missing, Value::Str))
            }
            (Kind::Map(elem), Some(JsonValue::Object(object))) => {
                Ok(object.get(name).map_or(Value::Missing, |v| {
                    Value::from_json(Some(v), *elem, self.tainted)
                }))
            }
            (Kind::Map(_), None) => Ok(Value::Missing),
            (Kind::Any, Some(JsonValue::Object(object))) => {
                Ok(object.get(name).map_or(Value::Missing, |v| {
                    Value::from_json(Some(v), Kind::Any, self.tainted)
                }))
            }
            (kind, node) => Err(format!(
                "can't evaluate field {name} in type {}",
                kind_name(kind, node)
            )),
        }
    }

    /// The name of an enum value.
    fn enum_name(&self) -> Option<Str<'a>> {
        let Kind::Enum(def) = self.kind else {
            return None;
        };
        let name = match self.node {
            Some(JsonValue::String(s)) => s.as_str(),
            Some(node) => usize::try_from(enum_number(def.values, node))
                .ok()
                .and_then(|i| def.values.get(i).copied())
                .unwrap_or(""),
            None => def.values.first().copied().unwrap_or(""),
        };
        Some(match self.node {
            Some(node @ JsonValue::String(_)) if self.tainted => {
                Str::tainted(name, Origin::of_node(node))
            }
            _ => Str::borrowed(name),
        })
    }
}

/// A JSON object key as a string value, tainted if its map is.
fn key_str(key: &str, tainted: bool) -> Str<'_> {
    if tainted {
        Str::tainted(key, Origin::of_key(key))
    } else {
        Str::borrowed(key)
    }
}

fn enum_number(values: &[&str], node: &JsonValue) -> i64 {
    match node {
        JsonValue::String(s) => values
            .iter()
            .position(|v| v == s)
            .map_or(-1, |i| i64::try_from(i).unwrap_or(-1)),
        JsonValue::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// The kind of a collection's elements.
pub(crate) fn element_kind(kind: Kind) -> Kind {
    match kind {
        Kind::Map(elem) | Kind::List(elem) => *elem,
        _ => Kind::Any,
    }
}

fn kind_name(kind: Kind, node: Option<&JsonValue>) -> String {
    match kind {
        Kind::Any | Kind::Unknown => match node {
            Some(JsonValue::Object(_)) => "map[string]interface {}".into(),
            Some(JsonValue::Array(_)) => "[]interface {}".into(),
            _ => "interface {}".into(),
        },
        Kind::String => "string".into(),
        Kind::Int => "int".into(),
        Kind::Float => "float64".into(),
        Kind::Bool => "bool".into(),
        Kind::Map(elem) => format!("map[string]{}", kind_name(*elem, None)),
        Kind::List(elem) => format!("[]{}", kind_name(*elem, None)),
        Kind::Struct(def) => format!("*{}", def.name),
        Kind::Enum(def) => def.name.into(),
    }
}

/// The items of a list, borrowed.
pub enum ListItems<'a, 'v> {
    Owned(std::slice::Iter<'v, Value<'a>>),
    Json(std::slice::Iter<'a, JsonValue>, Kind, bool),
}

impl<'a> Iterator for ListItems<'a, '_> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        match self {
            ListItems::Owned(items) => items.next().cloned(),
            ListItems::Json(items, kind, tainted) => items
                .next()
                .map(|v| Value::from_json(Some(v), *kind, *tainted)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ListItems::Owned(items) => items.size_hint(),
            ListItems::Json(items, ..) => items.size_hint(),
        }
    }
}

impl ExactSizeIterator for ListItems<'_, '_> {}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl<'a> From<Str<'a>> for Value<'a> {
    fn from(s: Str<'a>) -> Self {
        Value::Str(s)
    }
}
impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::string(s)
    }
}
