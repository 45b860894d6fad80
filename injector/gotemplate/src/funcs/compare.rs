//! Go's template comparisons (`eq`, `lt`...): values compare only within
//! one basic kind (bool, int, float, string); nil equals only nil; the
//! unknown-type zero equals any zero.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::value::Value;

enum Basic<'v> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'v, str>),
    Nil,
    Zero,
    Other,
}

fn basic<'v>(v: &'v Value<'_>) -> Basic<'v> {
    match v {
        Value::Bool(b) => Basic::Bool(*b),
        Value::Int(i) => Basic::Int(*i),
        Value::Float(f) => Basic::Float(*f),
        Value::Str(s) => Basic::Str(Cow::Borrowed(s.as_str())),
        Value::Missing | Value::Nil => Basic::Nil,
        Value::Zero => Basic::Zero,
        other => match other.as_str() {
            Some(name) => Basic::Str(Cow::Owned(name.as_str().to_owned())),
            None => Basic::Other,
        },
    }
}

const INCOMPATIBLE: &str = "incompatible types for comparison";

/// Whether a value is its type's zero (for the unknown-type zero's sake).
fn is_zero(v: &Value<'_>) -> bool {
    !v.is_true() && !matches!(v, Value::Record(_))
}

/// `eq a b`: Go's rules, including its errors.
pub(crate) fn equal(a: &Value<'_>, b: &Value<'_>) -> Result<bool, String> {
    match (basic(a), basic(b)) {
        (Basic::Zero, _) => Ok(is_zero(b)),
        (_, Basic::Zero) => Ok(is_zero(a)),
        (Basic::Nil, Basic::Nil) => Ok(true),
        (Basic::Nil, _) | (_, Basic::Nil) => Ok(false),
        (Basic::Bool(x), Basic::Bool(y)) => Ok(x == y),
        (Basic::Int(x), Basic::Int(y)) => Ok(x == y),
        (Basic::Float(x), Basic::Float(y)) => Ok(x == y),
        (Basic::Str(x), Basic::Str(y)) => Ok(x == y),
        (Basic::Other, Basic::Other) => Err(format!(
            "non-comparable types {}: {}",
            a.type_name(),
            b.type_name()
        )),
        _ => Err(INCOMPATIBLE.into()),
    }
}

/// `lt a b` and friends: ordered basic kinds only.
pub(crate) fn order(a: &Value<'_>, b: &Value<'_>) -> Result<Ordering, String> {
    let ord = match (basic(a), basic(b)) {
        (Basic::Int(x), Basic::Int(y)) => x.cmp(&y),
        (Basic::Float(x), Basic::Float(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Basic::Str(x), Basic::Str(y)) => x.cmp(&y),
        (Basic::Zero, Basic::Int(y)) => 0.cmp(&y),
        (Basic::Int(x), Basic::Zero) => x.cmp(&0),
        (Basic::Zero, Basic::Float(y)) => 0.0f64.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Basic::Float(x), Basic::Zero) => x.partial_cmp(&0.0).unwrap_or(Ordering::Equal),
        (Basic::Zero, Basic::Str(y)) => "".cmp(&*y),
        (Basic::Str(x), Basic::Zero) => (*x).cmp(""),
        (Basic::Zero, Basic::Zero) => Ordering::Equal,
        (Basic::Bool(_), Basic::Bool(_))
        | (Basic::Nil, _)
        | (_, Basic::Nil)
        | (Basic::Other, _)
        | (_, Basic::Other) => {
            return Err("invalid type for comparison".into());
        }
        _ => return Err(INCOMPATIBLE.into()),
    };
    Ok(ord)
}

/// Go's `reflect.DeepEqual` as sprig's list functions use it: same types,
/// same contents.
pub(crate) fn deep_equal<'a>(a: &Value<'a>, b: &Value<'a>) -> bool {
    if let (Some(x), Some(y)) = (a.list_items(), b.list_items())
        && !matches!(a, Value::Zero)
        && !matches!(b, Value::Zero)
    {
        return x.len() == y.len() && x.zip(y).all(|(x, y)| deep_equal(&x, &y));
    }
    if let (Some(x), Some(y)) = (a.map_entries(), b.map_entries()) {
        return x.len() == y.len()
            && x.iter()
                .zip(&y)
                .all(|((kx, vx), (ky, vy))| kx == ky && deep_equal(vx, vy));
    }
    equal(a, b).unwrap_or(false)
        && !matches!((a, b), (Value::Zero, v) | (v, Value::Zero) if !matches!(v, Value::Zero))
}
