//! Go's `fmt` as templates use it: `%v` of every value (`[a b]`,
//! `map[k:v]`, floats as `%g`), `print`/`println`'s spacing, and `printf`'s
//! verbs, flags, width and precision. Tainted strings stay tainted exactly:
//! padding, brackets and quotes are clean.

use crate::taint::{Str, StrBuf};
use crate::value::Value;

/// Writes `v` as `%v` does.
pub fn write_value(out: &mut StrBuf, v: &Value<'_>) {
    format_arg(out, v, &Spec::VERB_V);
}

/// `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(out: &mut StrBuf, args: &[Value<'_>]) {
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push_char(' ');
        }
        write_value(out, arg);
        prev_string = is_string;
    }
}

/// `fmt.Sprintln`: spaces between all operands, and a newline.
pub fn sprintln(out: &mut StrBuf, args: &[Value<'_>]) {
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push_char(' ');
        }
        write_value(out, arg);
    }
    out.push_char('\n');
}

/// One `%` directive.
#[derive(Clone, Copy, Default)]
struct Spec {
    verb: char,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

impl Spec {
    const VERB_V: Spec = Spec {
        verb: 'v',
        minus: false,
        plus: false,
        sharp: false,
        space: false,
        zero: false,
        width: None,
        precision: None,
    };
}

/// `fmt.Sprintf`, with Go's in-band error notes (`%!d(string=x)`,
/// `%!v(MISSING)`, `%!(EXTRA ...)`).
pub fn sprintf(out: &mut StrBuf, format: &Str<'_>, args: &[Value<'_>]) {
    let text = format.as_str();
    let bytes = text.as_bytes();
    let mut next_arg = 0;
    let mut i = 0;
    let mut literal_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        out.push(&format.slice(literal_start..i));
        i += 1;
        let mut spec = Spec::default();
        while let Some(&c) = bytes.get(i) {
            match c {
                b'-' => spec.minus = true,
                b'+' => spec.plus = true,
                b'#' => spec.sharp = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = !spec.minus,
                _ => break,
            }
            i += 1;
        }
        spec.width = read_count(bytes, &mut i, args, &mut next_arg);
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            spec.precision = Some(read_count(bytes, &mut i, args, &mut next_arg).unwrap_or(0));
        }
        // Go refuses widths and precisions beyond a million.
        if spec.width.is_some_and(too_large) {
            out.push_str("%!(BADWIDTH)");
            spec.width = None;
        }
        if spec.precision.is_some_and(too_large) {
            out.push_str("%!(BADPREC)");
            spec.precision = None;
        }
        let Some(verb) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            out.push_str("%!(NOVERB)");
            literal_start = i;
            break;
        };
        i += verb.len_utf8();
        literal_start = i;
        spec.verb = verb;
        if verb == '%' {
            out.push_char('%');
            continue;
        }
        match args.get(next_arg) {
            Some(arg) => {
                next_arg += 1;
                format_arg(out, arg, &spec);
            }
            None => {
                out.push_str("%!");
                out.push_char(verb);
                out.push_str("(MISSING)");
            }
        }
    }
    out.push(&format.slice(literal_start.min(text.len())..text.len()));
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        for (n, arg) in args[next_arg..].iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            out.push_str(&arg.type_name());
            out.push_char('=');
            write_value(out, arg);
        }
        out.push_char(')');
    }
}

fn too_large(n: usize) -> bool {
    n > 1_000_000
}

/// A width or precision: digits, or `*` taking an int argument.
fn read_count(
    bytes: &[u8],
    i: &mut usize,
    args: &[Value<'_>],
    next_arg: &mut usize,
) -> Option<usize> {
    if bytes.get(*i) == Some(&b'*') {
        *i += 1;
        let n = match args.get(*next_arg) {
            Some(Value::Int(n)) => usize::try_from(*n).ok(),
            _ => None,
        };
        *next_arg += 1;
        return n;
    }
    let start = *i;
    while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    std::str::from_utf8(&bytes[start..*i])
        .ok()
        .and_then(|s| s.parse().ok())
}

fn format_arg(out: &mut StrBuf, v: &Value<'_>, spec: &Spec) {
    // The common case, `%v` of a number, written without a temporary.
    if spec.verb == 'v'
        && spec.width.is_none()
        && spec.precision.is_none()
        && !spec.plus
        && !spec.space
    {
        match v {
            Value::Int(n) => return write_display(out, n),
            #[allow(clippy::cast_possible_truncation)]
            Value::Float(f)
                if f.fract() == 0.0 && f.abs() < 1e6 && !(*f == 0.0 && f.is_sign_negative()) =>
            {
                return write_display(out, &(*f as i64));
            }
            _ => {}
        }
    }
    if spec.verb == 'T' {
        pad(out, &Str::owned(v.type_name()), spec);
        return;
    }
    if !matches!(v, Value::Zero) {
        if let Some(items) = v.list_items() {
            out.push_char('[');
            for (n, item) in items.enumerate() {
                if n > 0 {
                    out.push_char(' ');
                }
                format_element(out, &item, spec);
            }
            out.push_char(']');
            return;
        }
        if let Some(entries) = v.map_entries() {
            out.push_str("map[");
            for (n, (key, value)) in entries.iter().enumerate() {
                if n > 0 {
                    out.push_char(' ');
                }
                format_arg(out, &Value::Str(key.clone()), spec);
                out.push_char(':');
                format_element(out, value, spec);
            }
            out.push_char(']');
            return;
        }
    }
    match v {
        Value::Json(j) if j.node.is_none() && matches!(j.kind, crate::Kind::Struct(_)) => {
            pad(out, &Str::borrowed("<nil>"), spec)
        }
        Value::Json(j) => {
            if let Some(name) = v.as_str() {
                format_str(out, &name, spec);
            } else if let Some(serde_json::Value::Object(object)) = j.node {
                // A struct read from JSON: its fields' values, as Go prints a struct.
                out.push_str("{");
                for (n, child) in object.values().enumerate() {
                    if n > 0 {
                        out.push_char(' ');
                    }
                    format_arg(
                        out,
                        &Value::from_json(Some(child), crate::Kind::Any, j.tainted),
                        spec,
                    );
                }
                out.push_str("}");
            }
        }
        Value::Record(r) => {
            out.push_char('{');
            for (n, (_, field)) in r.fields.iter().enumerate() {
                if n > 0 {
                    out.push_char(' ');
                }
                format_arg(out, field, spec);
            }
            out.push_char('}');
        }
        Value::Missing | Value::Nil => match spec.verb {
            'v' => pad(out, &Str::borrowed("<nil>"), spec),
            verb => {
                out.push_str("%!");
                out.push_char(verb);
                out.push_str("(<nil>)");
            }
        },
        Value::Zero => pad(out, &Str::borrowed(""), spec),
        Value::Str(s) => format_str(out, s, spec),
        Value::Bool(b) => match spec.verb {
            'v' | 't' => pad(out, &Str::borrowed(if *b { "true" } else { "false" }), spec),
            _ => bad_verb(out, spec.verb, v),
        },
        Value::Int(n) => format_int(out, *n, spec, v),
        Value::Float(f) => format_float(out, *f, spec, v),
        Value::List(_) | Value::Map(_) => {}
    }
}

/// An element of a list or map: a nil one prints `<nil>` under any verb.
fn format_element(out: &mut StrBuf, v: &Value<'_>, spec: &Spec) {
    if v.is_nil() {
        out.push_str("<nil>");
    } else {
        format_arg(out, v, spec);
    }
}

fn write_display(out: &mut StrBuf, n: &i64) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "{n}");
}

fn bad_verb(out: &mut StrBuf, verb: char, v: &Value<'_>) {
    out.push_str("%!");
    out.push_char(verb);
    out.push_char('(');
    out.push_str(&v.type_name());
    out.push_char('=');
    write_value(out, v);
    out.push_char(')');
}

fn format_str(out: &mut StrBuf, s: &Str<'_>, spec: &Spec) {
    match spec.verb {
        'v' | 's' => {
            let s = match spec.precision {
                Some(p) => s.slice(
                    0..s.as_str()
                        .char_indices()
                        .nth(p)
                        .map_or(s.as_str().len(), |(i, _)| i),
                ),
                None => s.clone(),
            };
            pad(out, &s, spec);
        }
        'q' => {
            let text = s.as_str();
            let mut quoted = StrBuf::new();
            if spec.sharp && !text.contains('`') && text.chars().all(|c| c == '\t' || is_print(c)) {
                // `%#q`: a raw string when one can hold it.
                quoted.push_char('`');
                quoted.push(s);
                quoted.push_char('`');
            } else {
                quoted.push_char('"');
                quoted.push_mapped(
                    s,
                    if spec.plus {
                        go_quote_ascii_run
                    } else {
                        go_quote_run
                    },
                );
                quoted.push_char('"');
            }
            pad(out, &quoted.finish(), spec);
        }
        'x' | 'X' => {
            let upper = spec.verb == 'X';
            let hex = s.map_runs(|run, out| {
                for b in run.bytes() {
                    out.push_str(&if upper {
                        format!("{b:02X}")
                    } else {
                        format!("{b:02x}")
                    });
                }
            });
            pad(out, &hex, spec);
        }
        _ => bad_verb(out, spec.verb, &Value::Str(s.clone())),
    }
}

fn format_int(out: &mut StrBuf, n: i64, spec: &Spec, v: &Value<'_>) {
    let magnitude = n.unsigned_abs();
    let digits = match spec.verb {
        'v' | 'd' => magnitude.to_string(),
        'x' => format!("{}{magnitude:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{magnitude:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{magnitude:o}", if spec.sharp { "0" } else { "" }),
        'O' => format!("0o{magnitude:o}"),
        'b' => format!("{magnitude:b}"),
        'c' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return pad(out, &Str::owned(c.to_string()), spec);
        }
        'q' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            let mut quoted = String::from("'");
            if c == '\'' {
                quoted.push_str("\\'");
            } else if c == '"' {
                quoted.push('"');
            } else {
                go_quote_run(c.encode_utf8(&mut [0; 4]), &mut quoted);
            }
            quoted.push('\'');
            return pad(out, &Str::owned(quoted), spec);
        }
        'U' => format!("U+{magnitude:04X}"),
        _ => return bad_verb(out, spec.verb, v),
    };
    number(out, n < 0, &digits, spec);
}

fn format_float(out: &mut StrBuf, f: f64, spec: &Spec, v: &Value<'_>) {
    if !f.is_finite() {
        // Go writes infinities with their sign, NaN without.
        let text = match (f.is_nan(), spec.plus) {
            (true, true) => "+NaN",
            (true, false) => "NaN",
            (false, _) if f > 0.0 => "+Inf",
            (false, _) => "-Inf",
        };
        return pad(
            out,
            &Str::borrowed(text),
            &Spec {
                zero: false,
                ..*spec
            },
        );
    }
    let body = match spec.verb {
        'v' | 'g' | 'G' => format_g(f.abs(), spec.precision),
        'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), f.abs()),
        'e' | 'E' => format_e(f.abs(), spec.precision.unwrap_or(6)),
        _ => return bad_verb(out, spec.verb, v),
    };
    let body = if matches!(spec.verb, 'G' | 'E') {
        body.to_uppercase()
    } else {
        body
    };
    number(out, f.is_sign_negative(), &body, spec);
}

/// Go's `%g`: shortest digits (or `precision` significant ones), in
/// exponent form when the exponent is below -4 or at least the precision
/// (6 for shortest).
pub(crate) fn format_g(f: f64, precision: Option<usize>) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let sci = match precision {
        Some(p) => format!("{:.*e}", p.max(1) - 1, f),
        None => format!("{f:e}"),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let eprec = match precision {
        None => 6,
        Some(p) => {
            let p = i32::try_from(p.max(1)).unwrap_or(i32::MAX);
            if p > nd && nd > exp { nd } else { p }
        }
    };
    if exp < -4 || exp >= eprec {
        let mut s = digits[..1].to_string();
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push_str(&go_exponent(exp));
        return s;
    }
    if exp < 0 {
        let zeros = usize::try_from(-exp - 1).unwrap_or(0);
        format!("0.{}{digits}", "0".repeat(zeros))
    } else {
        let point = usize::try_from(exp + 1).unwrap_or(0);
        if digits.len() <= point {
            format!("{digits}{}", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    }
}

/// Go's `%e` with a precision: `1.234500e+03`.
fn format_e(f: f64, precision: usize) -> String {
    let sci = format!("{f:.precision$e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    format!("{mantissa}{}", go_exponent(exp.parse().unwrap_or(0)))
}

fn go_exponent(exp: i32) -> String {
    format!(
        "e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    )
}

/// Writes a number (digits without sign) with sign flags and padding.
fn number(out: &mut StrBuf, negative: bool, digits: &str, spec: &Spec) {
    let sign = if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let len = sign.len() + digits.len();
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if spec.zero
        && !spec.minus
        && spec
            .precision
            .is_none_or(|_| matches!(spec.verb, 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'v'))
    {
        out.push_str(sign);
        out.push_str(&"0".repeat(fill));
        out.push_str(digits);
        return;
    }
    if !spec.minus {
        out.push_str(&" ".repeat(fill));
    }
    out.push_str(sign);
    out.push_str(digits);
    if spec.minus {
        out.push_str(&" ".repeat(fill));
    }
}

/// Pads a string to the width (counted in characters), keeping its taint.
fn pad(out: &mut StrBuf, s: &Str<'_>, spec: &Spec) {
    let fill = spec
        .width
        .unwrap_or(0)
        .saturating_sub(s.as_str().chars().count());
    let filler = if spec.zero && !spec.minus { "0" } else { " " };
    if !spec.minus {
        out.push_str(&filler.repeat(fill));
    }
    out.push(s);
    if spec.minus {
        out.push_str(&" ".repeat(fill));
    }
}

/// Escapes text as inside Go's `strconv.Quote` (without the quotes).
pub(crate) fn go_quote_run(run: &str, out: &mut String) {
    quote_into(run, out, false);
}

/// `strconv.QuoteToASCII`'s escaping (`%+q`).
fn go_quote_ascii_run(run: &str, out: &mut String) {
    quote_into(run, out, true);
}

fn quote_into(run: &str, out: &mut String, ascii_only: bool) {
    for c in run.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if !is_print(c) || ascii_only && !c.is_ascii() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
}

/// Close to Go's `strconv.IsPrint`: letters, marks, numbers, punctuation,
/// symbols and the ASCII space; not controls, other spaces, format
/// characters or private use.
fn is_print(c: char) -> bool {
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
        || ('\u{e000}'..='\u{f8ff}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printf(format: &str, args: &[Value<'_>]) -> String {
        let mut out = StrBuf::new();
        sprintf(&mut out, &Str::borrowed(format), args);
        out.as_str().to_owned()
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        // Go: %v of float64 is %g with the shortest digits, exponent from 1e+06.
        for (f, want) in [
            (15020.0, "15020"),
            (1_000_000.0, "1e+06"),
            (123_456.0, "123456"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1234.5, "1234.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-2.5, "-2.5"),
            (0.0, "0"),
        ] {
            let mut out = StrBuf::new();
            write_value(&mut out, &Value::Float(f));
            assert_eq!(out.as_str(), want, "{f}");
        }
    }

    #[test]
    fn printf_verbs_flags_and_errors() {
        use Value::{Bool, Float, Int};
        let s = |x: &'static str| Value::str(x);
        assert_eq!(
            printf(
                "%q %x %5.2f|%-4d|%05d %t %c %g %e",
                &[
                    s("a\"b"),
                    Int(255),
                    Float(3.25159),
                    Int(7),
                    Int(42),
                    Bool(true),
                    Int(65),
                    Float(0.000001),
                    Float(1234.5)
                ]
            ),
            "\"a\\\"b\" ff  3.25|7   |00042 true A 1e-06 1.234500e+03"
        );
        assert_eq!(
            printf("%s %d", &[Int(3), s("x")]),
            "%!s(int=3) %!d(string=x)"
        );
        assert_eq!(printf("%d", &[]), "%!d(MISSING)");
        assert_eq!(printf("%d", &[Int(1), Int(2)]), "1%!(EXTRA int=2)");
        assert_eq!(
            printf("%v|%s|%d", &[Value::Nil, Value::Nil, Float(1.0)]),
            "<nil>|%!s(<nil>)|%!d(float64=1)"
        );
        assert_eq!(
            printf(
                "%.2s|%5s|%-5s|%%|%+d|%x",
                &[s("héllo"), s("ab"), s("ab"), Int(3), s("hi")]
            ),
            "hé|   ab|ab   |%|+3|6869"
        );
        assert_eq!(
            printf(
                "%v %d",
                &[
                    Value::list(vec![s("a"), Int(1)]),
                    Value::list(vec![Int(1), Int(2)])
                ]
            ),
            "[a 1] [1 2]"
        );
    }

    #[test]
    fn print_spaces_between_non_strings_only() {
        let mut out = StrBuf::new();
        sprint(
            &mut out,
            &[
                Value::Int(1),
                Value::Int(2),
                Value::str("a"),
                Value::str("b"),
                Value::Int(3),
            ],
        );
        assert_eq!(out.as_str(), "1 2ab3");
        let mut out = StrBuf::new();
        sprintln(&mut out, &[Value::Int(1), Value::str("a")]);
        assert_eq!(out.as_str(), "1 a\n");
    }

    #[test]
    fn printf_keeps_taint_of_arguments_and_not_of_padding() {
        let origin = crate::Origin::new(9);
        let mut out = StrBuf::new();
        sprintf(
            &mut out,
            &Str::borrowed("x=%5s %q."),
            &[
                Value::Str(Str::tainted("ab", origin)),
                Value::Str(Str::tainted("c\"", origin)),
            ],
        );
        let (text, spans) = out.into_parts();
        assert_eq!(text, "x=   ab \"c\\\"\".");
        let tainted: Vec<&str> = spans.iter().map(|s| &text[s.range.clone()]).collect();
        assert_eq!(tainted, vec!["ab", "c\\\""]);
    }
}
