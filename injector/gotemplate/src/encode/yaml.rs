//! YAML as Go's `sigs.k8s.io/yaml.Marshal` writes it (JSON, then yaml.v2):
//! block style, sorted keys, two-space indent, lists not indented under
//! their key, strings quoted only when they would read back as something
//! else or break the syntax.

use super::json::json_float;
use super::{Shape, shape};
use crate::format::format_g;
use crate::taint::{Str, StrBuf};
use crate::value::Value;

/// A value as YAML text, without the final newline (as sprig's and
/// Istio's `toYaml` trim it).
pub fn to_yaml(v: &Value<'_>) -> Str<'static> {
    let mut out = StrBuf::new();
    write_yaml(&mut out, v);
    out.finish()
}

/// Appends a value as YAML (without a final newline).
pub fn write_yaml(out: &mut StrBuf, v: &Value<'_>) {
    write_node(out, shape(v), 0);
}

/// Writes a node whose first line starts at the current position, at
/// block indentation `indent`.
fn write_node(out: &mut StrBuf, s: Shape<'_>, indent: usize) {
    match s {
        Shape::Map(entries) if !entries.is_empty() => {
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    newline(out, indent);
                }
                write_scalar_str(out, key);
                out.push_char(':');
                match block(shape(item)) {
                    Ok(Shape::Map(m)) => {
                        newline(out, indent + 2);
                        write_node(out, Shape::Map(m), indent + 2);
                    }
                    Ok(list) => {
                        newline(out, indent);
                        write_node(out, list, indent);
                    }
                    Err(scalar) => {
                        out.push_char(' ');
                        write_node(out, scalar, indent);
                    }
                }
            }
        }
        Shape::List(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    newline(out, indent);
                }
                out.push_str("- ");
                write_node(out, shape(item), indent + 2);
            }
        }
        Shape::Map(_) => out.push_str("{}"),
        Shape::List(_) => out.push_str("[]"),
        Shape::Null => out.push_str("null"),
        Shape::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Shape::Int(i) => out.push_str(&i.to_string()),
        Shape::Float(f) => out.push_str(&yaml_float(f)),
        Shape::Str(s) => write_scalar_str(out, &s),
    }
}

/// `Ok` for a non-empty map or list (written on the following lines), else
/// `Err` with the scalar (written after the key).
fn block(s: Shape<'_>) -> Result<Shape<'_>, Shape<'_>> {
    match s {
        Shape::Map(ref m) if !m.is_empty() => Ok(s),
        Shape::List(ref l) if !l.is_empty() => Ok(s),
        other => Err(other),
    }
}

fn newline(out: &mut StrBuf, indent: usize) {
    out.push_char('\n');
    for _ in 0..indent {
        out.push_char(' ');
    }
}

/// A number that went through JSON: integral values as integers, others
/// as yaml.v2 formats a float64.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+.inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return json_float(f);
    }
    let g = format_g(f.abs(), None);
    if f < 0.0 { format!("-{g}") } else { g }
}

/// A string scalar: plain when it reads back as the same string, double
/// quoted when it would read as another type or holds special characters,
/// single quoted when only its punctuation needs it.
fn write_scalar_str(out: &mut StrBuf, s: &Str<'_>) {
    let text = s.as_str();
    if needs_double_quotes(text) {
        out.push_char('"');
        out.push_mapped(s, escape_double);
        out.push_char('"');
    } else if needs_quotes(text) {
        out.push_char('\'');
        out.push_mapped(s, |run, buf| buf.push_str(&run.replace('\'', "''")));
        out.push_char('\'');
    } else {
        out.push(s);
    }
}

/// Strings that would resolve to another type, or hold characters only
/// double quotes can escape.
fn needs_double_quotes(s: &str) -> bool {
    s.is_empty()
        || resolves_to_non_string(s)
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let plain = s.replace('_', "");
    is_go_int(&plain) || is_yaml_float(&plain) || is_base60(s)
}

fn digits(s: &str, radix: u32) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_digit(radix))
}

/// What `strconv.ParseInt(s, 0, 64)` accepts (yaml.v2's int resolution).
fn is_go_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        digits(hex, 16)
    } else if let Some(oct) = lower.strip_prefix("0o") {
        digits(oct, 8)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        digits(bin, 2)
    } else {
        digits(body, 10)
    }
}

/// yaml.v2's float pattern: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac, 10),
        Some((int, frac)) => digits(int, 10) && (frac.is_empty() || digits(frac, 10)),
        None => digits(mantissa, 10),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e), 10))
}

/// yaml.v2's base-60 float: `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?`.
fn is_base60(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    let sexagesimal: Vec<&str> = parts.collect();
    head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_')
        && !sexagesimal.is_empty()
        && sexagesimal.iter().all(|p| {
            (1..=2).contains(&p.len()) && digits(p, 10) && p.len() == 1
                || p.as_bytes()
                    .first()
                    .is_some_and(|b| (b'0'..=b'5').contains(b))
                    && p.len() == 2
                    && digits(p, 10)
        })
        && frac.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Strings whose punctuation would be read as YAML syntax when plain.
fn needs_quotes(s: &str) -> bool {
    const LEADING: &[char] = &[
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ];
    s.starts_with(LEADING)
        || s.starts_with([' ', '\t'])
        || s.ends_with([' ', '\t', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(":\t")
        || s.contains('\t')
}

fn escape_double(run: &str, out: &mut String) {
    for c in run.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{feff}' => {
                if (c as u32) <= 0xff {
                    out.push_str(&format!("\\x{:02X}", c as u32));
                } else {
                    out.push_str(&format!("\\u{:04X}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    fn yaml(json: serde_json::Value) -> String {
        to_yaml(&Value::json(&json, Kind::Any)).as_str().to_owned()
    }

    #[test]
    fn block_layout_as_yaml_v2() {
        let text = yaml(serde_json::json!({
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            "list": ["a", {"k": 1, "l": [true]}, []],
            "empty": {},
            "n": null,
        }));
        assert_eq!(
            text,
            "empty: {}\nlist:\n- a\n- k: 1\n  l:\n  - true\n- []\n\"n\": null\nresources:\n  requests:\n    cpu: 100m\n    memory: 128Mi"
        );
    }

    #[test]
    fn strings_are_quoted_when_they_would_mean_something_else() {
        let cases = [
            ("plain", "plain"),
            ("", "\"\""),
            ("true", "\"true\""),
            ("1", "\"1\""),
            ("1.5", "\"1.5\""),
            ("0x1F", "\"0x1F\""),
            ("a: b", "'a: b'"),
            ("- x", "'- x'"),
            ("it's", "it's"),
            ("it's #1", "'it''s #1'"),
            ("n", "\"n\""),
            ("x #y", "'x #y'"),
            ("two\nlines", "\"two\\nlines\""),
            ("1.2.3.4/8", "1.2.3.4/8"),
            ("10.0.0.1", "10.0.0.1"),
            ("1e3", "\"1e3\""),
            ("1_000", "\"1_000\""),
            ("12:30", "\"12:30\""),
            ("1.0.0", "1.0.0"),
        ];
        for (input, want) in cases {
            assert_eq!(yaml(serde_json::json!(input)), want, "{input:?}");
        }
    }

    #[test]
    fn tainted_scalars_taint_their_contents_only() {
        let json = serde_json::json!({"k": "a: b"});
        let out = to_yaml(&Value::json_tainted(&json, Kind::Any));
        assert_eq!(out.as_str(), "k: 'a: b'");
        let tainted: Vec<&str> = out.spans().map(|s| &out.as_str()[s.range]).collect();
        assert_eq!(tainted, vec!["k", "a: b"]);
    }
}
