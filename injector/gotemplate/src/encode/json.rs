//! JSON as Go's `encoding/json` writes it (sorted map keys, HTML-safe
//! escapes unless raw, `MarshalIndent` layout when pretty).

use super::{Shape, shape};
use crate::taint::{Str, StrBuf};
use crate::value::Value;

/// How to write JSON.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonStyle {
    /// Indent nested values by two spaces per level (`toPrettyJson`).
    pub pretty: bool,
    /// Leave `<`, `>`, `&` unescaped (`toRawJson`); Go escapes them by default.
    pub raw: bool,
}

/// A value as JSON text.
pub fn to_json(v: &Value<'_>, style: JsonStyle) -> Str<'static> {
    let mut out = StrBuf::new();
    write_json(&mut out, v, style);
    out.finish()
}

/// Appends a value as JSON.
pub fn write_json(out: &mut StrBuf, v: &Value<'_>, style: JsonStyle) {
    write_shape(out, shape(v), style, 0);
}

fn write_shape(out: &mut StrBuf, s: Shape<'_>, style: JsonStyle, level: usize) {
    match s {
        Shape::Null => out.push_str("null"),
        Shape::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Shape::Int(i) => out.push_str(&i.to_string()),
        Shape::Float(f) => out.push_str(&json_float(f)),
        Shape::Str(s) => write_string(out, &s, style.raw),
        Shape::List(items) => {
            if items.is_empty() {
                return out.push_str("[]");
            }
            out.push_char('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i, style, level + 1);
                write_shape(out, shape(item), style, level + 1);
            }
            close(out, ']', style, level);
        }
        Shape::Map(entries) => {
            if entries.is_empty() {
                return out.push_str("{}");
            }
            out.push_char('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                separator(out, i, style, level + 1);
                write_string(out, key, style.raw);
                out.push_str(if style.pretty { ": " } else { ":" });
                write_shape(out, shape(item), style, level + 1);
            }
            close(out, '}', style, level);
        }
    }
}

fn separator(out: &mut StrBuf, i: usize, style: JsonStyle, level: usize) {
    if i > 0 {
        out.push_char(',');
    }
    if style.pretty {
        out.push_char('\n');
        out.push_str(&"  ".repeat(level));
    }
}

fn close(out: &mut StrBuf, bracket: char, style: JsonStyle, level: usize) {
    if style.pretty {
        out.push_char('\n');
        out.push_str(&"  ".repeat(level));
    }
    out.push_char(bracket);
}

/// A quoted JSON string; only the escaped contents carry the taint.
fn write_string(out: &mut StrBuf, s: &Str<'_>, raw: bool) {
    out.push_char('"');
    out.push_mapped(s, |run, buf| escape(run, buf, raw));
    out.push_char('"');
}

fn escape(run: &str, out: &mut String, raw: bool) {
    for c in run.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if !raw => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Go's float64 in JSON: shortest digits, exponent only below 1e-6 or from
/// 1e21; non-finite numbers (an error in Go) as null.
pub(crate) fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        return match sci.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => sci,
        };
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Origin;

    #[test]
    fn writes_go_json_with_exact_taint() {
        let data = serde_json::json!({"b": [1, 2.5, null], "a": "x<y\n", "k": {}});
        let v = Value::json_tainted(&data, crate::Kind::Any);
        let json = to_json(&v, JsonStyle::default());
        assert_eq!(
            json.as_str(),
            r#"{"a":"x\u003cy\n","b":[1,2.5,null],"k":{}}"#
        );
        let tainted: Vec<&str> = json.spans().map(|s| &json.as_str()[s.range]).collect();
        // keys and string contents, never quotes or punctuation
        assert_eq!(tainted, vec!["a", "x\\u003cy\\n", "b", "k"]);
        let raw = to_json(
            &v,
            JsonStyle {
                raw: true,
                pretty: true,
            },
        );
        assert_eq!(
            raw.as_str(),
            "{\n  \"a\": \"x<y\\n\",\n  \"b\": [\n    1,\n    2.5,\n    null\n  ],\n  \"k\": {}\n}"
        );
        assert!(json.spans().all(|s| s.origin != Origin::new(0)));
    }

    #[test]
    fn floats_as_go_json() {
        assert_eq!(json_float(15020.0), "15020");
        assert_eq!(json_float(0.5), "0.5");
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1e-7), "1e-7");
    }
}
