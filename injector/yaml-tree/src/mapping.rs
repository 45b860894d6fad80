//! Mapping keys, and building a JSON object from them without losing a
//! duplicate.
//!
//! A key becomes its text, as the reference parser does when it reads into a
//! `serde_json::Value`: the plain key `1.0` is `"1.0"`, `0x10` is `"0x10"`.
//! Two keys are duplicates when they are the same YAML node: the same string,
//! or plain integers of equal value however spelled (`0x10` and `16`). The
//! plain `1` and the quoted `"1"` are different nodes with the same JSON
//! text; the reference parser keeps the last, silently. This reader refuses
//! that as unsupported rather than pick one.

use std::collections::BTreeMap;

use serde_json::map::Entry;
use serde_json::{Map, Value};

use crate::error::{Fault, Located, Result, not_json, unsupported};
use crate::resolve;

/// A mapping key, read.
pub(crate) struct Key {
    pub(crate) text: String,
    /// The value, if the key is a plain scalar spelling an integer.
    integer: Option<(bool, u128)>,
    pub(crate) at: usize,
}

impl Key {
    /// A plain key. Null keys have no JSON form; `<<` is a merge key, which
    /// this reader leaves to a full parser.
    pub(crate) fn plain(text: &str, at: usize) -> Result<Self> {
        if resolve::is_null(text) {
            return not_json(at, "a null mapping key");
        }
        if text == "<<" {
            return unsupported(at, "a merge key (<<)");
        }
        Ok(Self {
            text: text.to_owned(),
            integer: resolve::integer(text),
            at,
        })
    }

    /// A quoted key: always a string.
    pub(crate) fn quoted(text: String, at: usize) -> Self {
        Self {
            text,
            integer: None,
            at,
        }
    }
}

/// A JSON object under construction.
#[derive(Default)]
pub(crate) struct Object {
    map: Map<String, Value>,
    /// The text of each integer key by its value; empty unless some key is one.
    integers: BTreeMap<(bool, u128), String>,
}

impl Object {
    pub(crate) fn insert(&mut self, key: Key, value: Value) -> Result<()> {
        if let Some(n) = key.integer
            && self.integers.insert(n, key.text.clone()).is_some()
        {
            return duplicate(key.at, key.text);
        }
        match self.map.entry(key.text) {
            Entry::Vacant(slot) => {
                slot.insert(value);
                Ok(())
            }
            Entry::Occupied(slot) => {
                let text = slot.key();
                let other_is_integer = resolve::integer(text)
                    .is_some_and(|n| self.integers.get(&n).is_some_and(|t| t == text));
                if key.integer.is_some() || other_is_integer {
                    return unsupported(
                        key.at,
                        "a key with the text of a key of another type (1 and \"1\")",
                    );
                }
                duplicate(key.at, text.clone())
            }
        }
    }

    pub(crate) fn finish(self) -> Value {
        Value::Object(self.map)
    }
}

fn duplicate(at: usize, key: String) -> Result<()> {
    Err(Located {
        at,
        fault: Fault::DuplicateKey(key),
    })
}
