//! How Go would see a JSON node: the caller's description of its data model.
//!
//! Go templates behave differently on structs and maps: a struct field is
//! named in Go (`.ObjectMeta.Annotations`) and a missing one is its type's
//! zero value; a `map[string]any` key is exact and a missing one is "no
//! value"; `index` on a `map[string]string` gives "" for a missing key. The
//! data is JSON, which knows none of this, so the caller attaches a [`Kind`]
//! to each JSON root and the kinds of struct fields say the rest.
//!
//! Kinds are `'static` so that a model is written once as statics (which may
//! refer to each other, also cyclically) and values carry a plain reference.

/// The Go type of a JSON node.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `any` filled by `encoding/json`: objects are `map[string]any`, arrays
    /// `[]any`, numbers `float64`; missing is nil.
    Any,
    /// A struct field whose Go type the model does not say: present, it reads
    /// like [`Kind::Any`]; missing, it is [`crate::Value::Zero`], which acts as
    /// the zero of whatever type the template expects.
    Unknown,
    /// `string`; missing is "".
    String,
    /// A Go integer type; missing is 0.
    Int,
    /// `float64`; missing is 0.
    Float,
    /// `bool`; missing is false.
    Bool,
    /// `map[string]T`; missing is a nil map (empty); `index` of a missing key
    /// is T's zero (so "" for `map[string]string`).
    Map(&'static Kind),
    /// `[]T`; missing is a nil slice (empty).
    List(&'static Kind),
    /// A pointer to a struct: fields by Go name; missing is a nil pointer
    /// (false, prints `<nil>`); fields of a nil pointer read as zero values,
    /// as protobuf getters (`GetTracing`) do.
    Struct(&'static StructDef),
    /// A protobuf enum: JSON holds its name (or number); missing is the first
    /// name; prints as its name; has the `String` method.
    Enum(&'static EnumDef),
}

impl Kind {
    /// `map[string]string`.
    pub const STRING_MAP: Kind = Kind::Map(&Kind::String);
    /// `map[string]any`.
    pub const ANY_MAP: Kind = Kind::Map(&Kind::Any);
}

/// A Go struct type.
#[derive(Debug)]
pub struct StructDef {
    /// The Go type name, for error messages (`ObjectMeta`).
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    /// When true, a Go field name not listed reads the JSON key spelled with
    /// its first letter lower-cased (Kubernetes' convention) as
    /// [`Kind::Unknown`]; when false it is an error, as in Go.
    pub lower_camel_rest: bool,
}

/// One field (or argument-less getter method) of a struct.
#[derive(Debug)]
pub struct FieldDef {
    /// The Go name (`Annotations`, `GetTracing`).
    pub name: &'static str,
    /// The JSON key it reads (`annotations`, `tracing`); "" reads the node
    /// itself, as `GetValue` of a protobuf wrapper (`BoolValue`), which JSON
    /// writes as a bare scalar.
    pub key: &'static str,
    pub kind: Kind,
}

impl FieldDef {
    pub const fn new(name: &'static str, key: &'static str, kind: Kind) -> Self {
        Self { name, key, kind }
    }
}

/// A protobuf enum type: its value names by number.
#[derive(Debug)]
pub struct EnumDef {
    pub name: &'static str,
    pub values: &'static [&'static str],
}

impl StructDef {
    /// Resolves a Go field name to the JSON key and kind it reads.
    pub(crate) fn field(&self, name: &str) -> Option<(FieldKey, Kind)> {
        if let Some(def) = self.fields.iter().find(|f| f.name == name) {
            return Some((FieldKey::Static(def.key), def.kind));
        }
        if self.lower_camel_rest && name.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Some((FieldKey::LowerCamel, Kind::Unknown));
        }
        None
    }
}

/// The JSON key of a resolved field.
pub(crate) enum FieldKey {
    Static(&'static str),
    /// The Go name with its first letter lower-cased.
    LowerCamel,
}

impl FieldKey {
    pub(crate) fn is_self(&self) -> bool {
        matches!(self, FieldKey::Static(""))
    }

    pub(crate) fn get<'a>(
        &self,
        object: &'a serde_json::Map<String, serde_json::Value>,
        go_name: &str,
    ) -> Option<&'a serde_json::Value> {
        match self {
            FieldKey::Static(key) => object.get(*key),
            FieldKey::LowerCamel => {
                // The key is the Go name with its first letter lower-cased,
                // built on the stack (names are short): no allocation.
                let mut buf = [0u8; 64];
                let Some(key) = buf.get_mut(..go_name.len()) else {
                    let mut long = go_name.to_owned();
                    if let Some(first) = long.get_mut(..1) {
                        first.make_ascii_lowercase();
                    }
                    return object.get(&long);
                };
                key.copy_from_slice(go_name.as_bytes());
                key.first_mut()?.make_ascii_lowercase();
                object.get(std::str::from_utf8(key).ok()?)
            }
        }
    }
}
