//! YAML in and out, with one set of parser options for the whole product.
//!
//! We parse YAML 1.2 booleans only (`true`/`false`): a label value `y` or `on`
//! stays the string the user typed, and the sidecar renderer never emits a
//! YAML 1.1 boolean by accident. Duplicate keys are an error, and the alias
//! budget stays on, so a hostile document cannot grow without bound.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use serde_saphyr::Error as ParseError;
pub use serde_saphyr::SerializeError;

fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options
}

/// Parses one YAML document.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ParseError> {
    serde_saphyr::from_str_with_options(text, options())
}

/// Parses a multi-document YAML stream; empty documents are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, ParseError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Serializes one value as a YAML document.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, SerializeError> {
    serde_saphyr::to_string(value)
}
