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

/// Values that mean something to YAML, JSON, handlebars or Go templates:
/// pod-controlled values that must not change what is injected.
pub const HOSTILE: &[&str] = &[
    "a\"b'c",
    "line1\nline2",
    "key: value",
    "- item",
    "{flow: map}",
    "[flow, list]",
    "---\napiVersion: v1\nkind: Secret",
    "...",
    "&anchor value",
    "*alias",
    "<<: *merge",
    "# comment",
    "!!binary aGk=",
    "|\n  block",
    ">-\n  folded",
    "}}{{",
    "{{ .Values }}",
    "{{{toJSON this}}}",
    "\\",
    "\t",
    "\u{85}\u{2028}\u{feff}\u{0}\u{1b}[31m",
    "\u{1F600}\u{200d}\u{1F469}",
    "123",
    "-1",
    "1e400",
    "0x1F",
    "true",
    "null",
    "~",
    "",
    " ",
];
