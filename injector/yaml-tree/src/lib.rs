//! A small, strict, fast YAML reader for the text rendered templates produce.
//!
//! # Why
//!
//! The injection engine renders sidecar templates to YAML, then reads that
//! YAML as JSON. A general YAML parser spends most of an injection's time on
//! the reading; this one reads the subset templates emit many times faster,
//! to the same `serde_json::Value`. And it reports where each scalar's content
//! lies in the text ([`Spans`]), so the engine can check that every byte a
//! pod-controlled string put there stayed inside one scalar: such a string
//! then cannot have added a key, an item or a document.
//!
//! # The subset
//!
//! - Block mappings and sequences, nested by indentation, including
//!   sequences indented as much as their key and compact items (`- a: 1`,
//!   `- - x`).
//! - Flow mappings and sequences (`{"a": [1, 2]}`: JSON), nested, over
//!   several lines, with comments.
//! - Plain, single-quoted and double-quoted scalars (all of YAML's escapes,
//!   `\x`, `\u` with surrogate pairs, `\U`, `\N`, `\_`, `\L`, `\P`, and line
//!   folding); literal (`|`) and folded (`>`) block scalars with chomping and
//!   indentation indicators.
//! - Comments, `---` and `...` document markers, empty values (null).
//!
//! Values resolve as the engine's serde-saphyr setup resolves them into a
//! `serde_json::Value`, by the YAML 1.2 core schema with strict booleans:
//! quoted and block scalars are strings; a plain one is null (empty, `~`,
//! `null`), a boolean (`true`, `True`, `TRUE` and the three `false`s only),
//! an integer (decimal, `0x`, `0o`, `0b`, signs and single underscores
//! allowed), a float (`1e3`, `.5`, what overflows 64 bits, and, as the
//! reference reads it, a decimal with a leading zero: `0127` is 127.0), or a
//! string.
//! Keys are their text (`1.0: a` is `{"1.0": "a"}`); two keys that are the
//! same node (`a` and `'a'`, `16` and `0x10`) are an [`Error::DuplicateKey`].
//! A null key and an infinite or NaN float have no JSON form:
//! [`Error::NotJson`].
//!
//! # What is refused
//!
//! [`Error::Unsupported`] marks YAML this reader leaves to a full parser:
//! anchors, aliases, tags, directives, explicit (`?`) and complex keys, merge
//! keys (`<<`), multi-line implicit keys, single-pair mappings inside flow
//! sequences, tabs in indentation or after `- `, carriage returns and other
//! line breaks than line feed, a byte order mark, and the few spots where the
//! YAML specification and the reference parser disagree. Everything else
//! that is not YAML is an [`Error::Syntax`] (or another variant); nothing is
//! ever read to a value the reference parser would not give.
//!
//! Limits guard against hostile input, set where the reference parser sets
//! its own, so both refuse the same texts ([`Error::Limit`]): 64 levels of
//! nesting, 250,000 nodes and 1,024 documents in a stream, 32 comments
//! between a key or `-` and a value on a later line. Every scanner moves
//! forward through the text, so time is linear in its length.
//!
//! # Example
//!
//! A template pasted a pod's annotation between the quotes of `note`; the
//! result is structure-safe when the pasted bytes lie inside one scalar.
//!
//! ```
//! let (before, annotation) = ("metadata:\n  note: \"", r#"ok: \"quoted\", [not a list]"#);
//! let text = format!("{before}{annotation}\"\n");
//! let pasted = before.len()..before.len() + annotation.len();
//!
//! let document = yaml_tree::parse(&text)?;
//! assert_eq!(document.value["metadata"]["note"], r#"ok: "quoted", [not a list]"#);
//! assert!(document.spans.holds(pasted));
//!
//! // Not YAML this reader reads: ask a full parser.
//! let deferred = yaml_tree::parse("base: &anchor {a: 1}");
//! assert!(matches!(deferred, Err(yaml_tree::Error::Unsupported { .. })));
//! # Ok::<(), yaml_tree::Error>(())
//! ```

mod block;
mod block_scalar;
mod characters;
mod error;
mod flow;
mod mapping;
mod parser;
mod plain;
mod quoted;
mod resolve;
mod spans;
mod stream;

use serde_json::Value;

pub use error::Error;
pub use spans::Spans;

use parser::Parser;

/// One document read: its value and where its scalars lie.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document's value; null for an empty stream.
    pub value: Value,
    pub spans: Spans,
}

/// The documents of a stream, and where their scalars lie.
#[derive(Debug, Clone, PartialEq)]
pub struct Documents {
    /// Each document's value, without the empty (null) ones: the engine has
    /// no use for them.
    pub values: Vec<Value>,
    /// Spans of every document's scalars, the dropped ones' included.
    pub spans: Spans,
}

/// Reads a stream that holds at most one document.
pub fn parse(text: &str) -> Result<Document, Error> {
    let (mut values, spans) = read(text, true)?;
    Ok(Document {
        value: values.pop().unwrap_or(Value::Null),
        spans,
    })
}

/// Reads a stream of any number of documents.
pub fn parse_documents(text: &str) -> Result<Documents, Error> {
    let (mut values, spans) = read(text, false)?;
    values.retain(|v| !v.is_null());
    Ok(Documents { values, spans })
}

fn read(text: &str, only_one: bool) -> Result<(Vec<Value>, Spans), Error> {
    characters::check(text).map_err(|e| e.locate(text))?;
    let mut parser = Parser::new(text);
    let values = parser.stream(only_one).map_err(|e| e.locate(text))?;
    Ok((values, Spans::new(parser.spans)))
}
