//! sprig's text functions (github.com/Masterminds/sprig/v3 `TxtFuncMap`),
//! the deterministic, I/O-free ones: strings, lists, dicts, math, defaults,
//! conversions and encodings. Each follows sprig's argument order (the
//! subject last, so it can be piped) and its treatment of odd input.

mod defaults;
mod dicts;
mod lists;
mod math;
mod paths;
mod strings;

use super::Funcs;
use crate::format::write_value;
use crate::taint::{Str, StrBuf};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    strings::register(funcs);
    lists::register(funcs);
    dicts::register(funcs);
    math::register(funcs);
    defaults::register(funcs);
    paths::register(funcs);
    // sprig's other names for the same functions; its `must` variants
    // return errors where the plain ones panic, which is the same here.
    for (name, existing) in [
        ("trimall", "trimAll"),
        ("biggest", "max"),
        ("tuple", "list"),
        ("mustAppend", "append"),
        ("mustPush", "push"),
        ("mustPrepend", "prepend"),
        ("mustFirst", "first"),
        ("mustLast", "last"),
        ("mustRest", "rest"),
        ("mustInitial", "initial"),
        ("mustReverse", "reverse"),
        ("mustUniq", "uniq"),
        ("mustWithout", "without"),
        ("mustHas", "has"),
        ("mustCompact", "compact"),
        ("mustChunk", "chunk"),
        ("mustMerge", "merge"),
        ("mustMergeOverwrite", "mergeOverwrite"),
        ("mustToJson", "toJson"),
        ("mustToPrettyJson", "toPrettyJson"),
        ("mustToRawJson", "toRawJson"),
        ("mustDeepCopy", "deepCopy"),
    ] {
        funcs.alias(name, existing);
    }
}

/// sprig's `strval`: a string as it is, anything else as `%v` prints it.
fn strval<'a>(v: &Value<'a>) -> Str<'a> {
    match v.as_str() {
        Some(s) if !v.is_nil() => s,
        _ => {
            let mut out = StrBuf::new();
            write_value(&mut out, v);
            out.finish()
        }
    }
}

/// sprig's `strslice`: a list's non-nil items as strings, or one value as a
/// one-item list (nothing for nil).
fn strslice<'a>(v: &Value<'a>) -> Vec<Str<'a>> {
    match v.list_items() {
        Some(items) if !matches!(v, Value::Zero) => {
            items.filter(|i| !i.is_nil()).map(|i| strval(&i)).collect()
        }
        _ if v.is_nil() => Vec::new(),
        _ => vec![strval(v)],
    }
}

/// `cast.ToInt64`, as sprig's math uses it: numbers truncated, strings
/// parsed (else 0), bools 0/1, anything else 0.
#[allow(clippy::cast_possible_truncation)]
fn to_int(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int(s.as_str().trim()).unwrap_or(0),
        _ => 0,
    }
}

/// `strconv.ParseInt(s, 0, 64)`: decimal, or 0x/0o/0b/0-prefixed.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.replace('_', "");
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let n = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -n } else { n })
}

/// `cast.ToFloat64`.
#[allow(clippy::cast_precision_loss)]
fn to_float(v: &Value<'_>) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.as_str().trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}
