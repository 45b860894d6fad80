//! The one rule that keeps rendered sidecars structure-safe: every `{{ }}`
//! interpolation becomes a YAML double-quoted scalar.
//!
//! Pod strings (names, labels, annotations) reach the template, and YAML is
//! a language in which a quote, a newline, `: ` or `- ` changes structure.
//! Quoting every interpolated value, with every character that YAML could
//! read as syntax escaped, means a value can only ever be the one string it
//! was. Numbers come out as strings too; a template that needs a number
//! writes `{{int x}}`, which fails loudly on anything but an integer.

/// Renders `s` as a YAML 1.2 double-quoted scalar that parses back to
/// exactly `s`. Everything outside printable ASCII is escaped, so no
/// line-break look-alike (NEL, LS, PS), BOM or control character survives.
pub fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn round_trip(s: &str) -> Value {
        let doc = format!("k: {}\n", yaml_quoted(s));
        let v: Value = crate::yaml::parse(&doc).unwrap();
        v["k"].clone()
    }

    #[test]
    fn hostile_strings_round_trip_verbatim() {
        for s in [
            "plain",
            "",
            "a: b",
            "- item",
            "\"quoted\" \\ back",
            "line1\nline2\n---\nkind: Secret",
            "{a: 1}",
            "[x]",
            "&anchor *alias",
            "# comment",
            "tab\there\r",
            "\u{85}\u{2028}\u{2029}\u{feff}",
            "é😀\u{0}\u{7f}",
            "true",
            "123",
            "null",
            "~",
        ] {
            assert_eq!(round_trip(s), Value::String(s.to_string()), "{s:?}");
        }
    }
}
