//! What a plain scalar means: null, boolean, integer, float or string.
//!
//! These are the rules the engine's serde-saphyr setup applies when it reads
//! into a `serde_json::Value` (YAML 1.2 core schema, strict booleans), down to
//! its quirks, so that this reader and that one never disagree on a value:
//! - null is empty, `~`, `null`, `Null` or `NULL`;
//! - booleans are `true`/`True`/`TRUE` and `false`/`False`/`FALSE` only;
//! - integers are decimal, `0x` hex, `0o` octal or `0b` binary, with an
//!   optional sign and single underscores between digits; a decimal with a
//!   leading zero (`0127`) is not an integer;
//! - an integer out of the 64-bit range, and anything else Rust's `f64`
//!   parser takes that starts with a digit, a dot or a sign (`1e5`, `.5`,
//!   `0127`), is a float; infinities and NaN (`.inf`, `-.Inf`, `.nan`, `1e999`)
//!   have no JSON form and are refused;
//! - everything else is a string.
//!
//! Quoted and block scalars are always strings; that is decided by the caller.

use serde_json::{Number, Value};

/// What went wrong resolving a scalar.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NonFinite;

/// The value of a plain scalar.
pub(crate) fn plain(text: &str) -> Result<Value, NonFinite> {
    if is_null(text) {
        return Ok(Value::Null);
    }
    // Only text that starts like a number, or spells a boolean, can be one.
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.' | b't' | b'T' | b'f' | b'F'))
    {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(b) = boolean(text) {
        return Ok(Value::Bool(b));
    }
    if let Some((negative, magnitude)) = integer(text)
        && let Ok(m) = u64::try_from(magnitude)
    {
        if !negative {
            return Ok(Value::from(m));
        }
        if let Some(n) = 0i64.checked_sub_unsigned(m) {
            return Ok(Value::from(n));
        }
    }
    match float(text) {
        Some(f) => Number::from_f64(f).map(Value::Number).ok_or(NonFinite),
        None => Ok(Value::String(text.to_owned())),
    }
}

/// Whether a plain scalar is null.
pub(crate) fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// The sign and magnitude of an integer spelling, within the range the
/// reference parser compares keys in (`i128::MIN` to `u128::MAX`).
///
/// `-0` is not negative: as keys, `-0` and `0` are the same.
pub(crate) fn integer(text: &str) -> Option<(bool, u128)> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        b'0'..=b'9' => (false, text),
        _ => return None,
    };
    let (radix, digits) = if let Some(d) = strip_radix(rest, b'x') {
        (16, d)
    } else if let Some(d) = strip_radix(rest, b'o') {
        (8, d)
    } else if let Some(d) = strip_radix(rest, b'b') {
        (2, d)
    } else {
        if rest.len() > 1 && rest.starts_with('0') {
            return None;
        }
        (10, rest)
    };
    let magnitude = digits_value(digits, radix)?;
    if negative && magnitude > 1u128 << 127 {
        return None;
    }
    Some((negative && magnitude != 0, magnitude))
}

/// The digits after `0x`/`0X` (or `o`, `b`), if `rest` starts so.
fn strip_radix(rest: &str, letter: u8) -> Option<&str> {
    let b = rest.as_bytes();
    (b.len() >= 2 && b[0] == b'0' && b[1].eq_ignore_ascii_case(&letter)).then(|| &rest[2..])
}

/// Digits in `radix`, with single underscores allowed between them.
fn digits_value(digits: &str, radix: u32) -> Option<u128> {
    let b = digits.as_bytes();
    let mut value: u128 = 0;
    let mut seen = false;
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let between = i > 0 && b[i - 1] != b'_' && b.get(i + 1).is_some_and(|&n| n != b'_');
            if !between {
                return None;
            }
            continue;
        }
        let d = char::from(c).to_digit(radix)?;
        value = value
            .checked_mul(u128::from(radix))?
            .checked_add(u128::from(d))?;
        seen = true;
    }
    seen.then_some(value)
}

/// A float spelling: YAML's `.inf`/`.nan` forms, or what Rust's parser
/// takes (it also takes `inf`, `nan` and `infinity`, which YAML keeps as
/// strings unless they start with a digit, as in `1e999`).
fn float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(
        unsigned,
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN"
    ) {
        return Some(f64::INFINITY); // the sign does not matter: it is refused
    }
    let f: f64 = text.parse().ok()?;
    (f.is_finite() || unsigned.as_bytes().first().is_some_and(u8::is_ascii_digit)).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_by_the_core_schema_with_strict_booleans() {
        for (text, want) in [
            ("", json!(null)),
            ("~", json!(null)),
            ("Null", json!(null)),
            ("nULL", json!("nULL")),
            ("True", json!(true)),
            ("FALSE", json!(false)),
            ("yes", json!("yes")),
            ("on", json!("on")),
            ("y", json!("y")),
            ("0", json!(0)),
            ("-0", json!(0)),
            ("+12", json!(12)),
            ("1_000", json!(1000)),
            ("1__0", json!("1__0")),
            ("_1", json!("_1")),
            ("0x1F", json!(31)),
            ("-0x10", json!(-16)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("0x", json!("0x")),
            ("0o8", json!("0o8")),
            ("0127", json!(127.0)),
            ("-0127", json!(-127.0)),
            ("0_1", json!("0_1")),
            ("1.", json!(1.0)),
            (".5", json!(0.5)),
            ("-1.5e3", json!(-1500.0)),
            ("18446744073709551615", json!(u64::MAX)),
            ("18446744073709551616", json!(18_446_744_073_709_551_616.0)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("-9223372036854775809", json!(-9_223_372_036_854_775_809.0)),
            ("0x1FFFFFFFFFFFFFFFF", json!("0x1FFFFFFFFFFFFFFFF")),
            ("inf", json!("inf")),
            ("nan", json!("nan")),
            ("Infinity", json!("Infinity")),
            ("1e", json!("1e")),
            ("1.2.3", json!("1.2.3")),
            ("true story", json!("true story")),
        ] {
            assert_eq!(plain(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn refuses_what_json_cannot_hold() {
        for text in [".inf", "-.Inf", "+.INF", ".nan", "-.NaN", "1e999", "-1e999"] {
            assert_eq!(plain(text), Err(NonFinite), "{text:?}");
        }
    }

    #[test]
    fn integer_identity_ignores_spelling() {
        assert_eq!(integer("0x10"), integer("16"));
        assert_eq!(integer("+1_6"), integer("16"));
        assert_eq!(integer("-0"), integer("0"));
        assert_ne!(integer("-1"), integer("1"));
        assert_eq!(integer("0127"), None);
        assert_eq!(
            integer("340282366920938463463374607431768211455"),
            Some((false, u128::MAX))
        );
        assert_eq!(integer("340282366920938463463374607431768211456"), None);
        assert_eq!(
            integer("-170141183460469231731687303715884105728"),
            Some((true, 1 << 127))
        );
        assert_eq!(integer("-170141183460469231731687303715884105729"), None);
    }
}
