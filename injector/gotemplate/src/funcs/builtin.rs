//! Go's predefined template functions (`text/template` funcs.go), except
//! `and`/`or` (the executor's, for short-circuit) and `call`.

use std::cmp::Ordering;

use super::compare::{equal, order};
use super::{ArgsExt, Funcs};
use crate::error::FuncError;
use crate::format::{sprint, sprintf, sprintln};
use crate::taint::{Str, StrBuf};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    funcs
        .insert("not", |args| {
            args.exact(1)?;
            Ok(Value::Bool(!args[0].is_true()))
        })
        .insert("len", |args| {
            args.exact(1)?;
            let n = args[0].length()?;
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        })
        .insert("index", index)
        .insert("slice", slice)
        .insert("eq", |args| {
            args.at_least(2)?;
            for other in &args[1..] {
                if equal(&args[0], other)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        })
        .insert("ne", |args| {
            args.exact(2)?;
            Ok(Value::Bool(!equal(&args[0], &args[1])?))
        })
        .insert("lt", |args| compare(args, Ordering::is_lt))
        .insert("le", |args| compare(args, Ordering::is_le))
        .insert("gt", |args| compare(args, Ordering::is_gt))
        .insert("ge", |args| compare(args, Ordering::is_ge))
        .insert("print", |args| {
            let mut out = StrBuf::new();
            sprint(&mut out, args);
            Ok(Value::Str(out.finish()))
        })
        .insert("println", |args| {
            let mut out = StrBuf::new();
            sprintln(&mut out, args);
            Ok(Value::Str(out.finish()))
        })
        .insert("printf", |args| {
            let format = args.string(0)?;
            let mut out = StrBuf::with_capacity(format.as_str().len() + 16 * args.len());
            sprintf(&mut out, &format, &args[1..]);
            Ok(Value::Str(out.finish()))
        })
        .insert("html", |args| {
            Ok(Value::Str(sprint_args(args).map_runs(html_escape)))
        })
        .insert("js", |args| {
            Ok(Value::Str(sprint_args(args).map_runs(js_escape)))
        })
        .insert("urlquery", |args| {
            Ok(Value::Str(sprint_args(args).map_runs(query_escape)))
        });
}

fn compare<'a>(args: &[Value<'a>], want: fn(Ordering) -> bool) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    Ok(Value::Bool(want(order(&args[0], &args[1])?)))
}

/// The arguments as one string: the string itself, or `fmt.Sprint` of them.
fn sprint_args<'a>(args: &[Value<'a>]) -> Str<'a> {
    if let [Value::Str(s)] = args {
        return s.clone();
    }
    let mut out = StrBuf::new();
    sprint(&mut out, args);
    out.finish()
}

/// `index x k1 k2...`: map keys, list and string positions.
fn index<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.at_least(1)?;
    let mut item = args[0].clone();
    for key in &args[1..] {
        item = index_one(&item, key)?;
    }
    Ok(item)
}

fn index_one<'a>(item: &Value<'a>, key: &Value<'a>) -> Result<Value<'a>, FuncError> {
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    if matches!(item, Value::Zero) {
        return Ok(Value::Zero);
    }
    if item.is_map() {
        let Some(k) = key.as_str().filter(|_| !key.is_nil()) else {
            return Err(format!("value has type {}; should be string", key.type_name()).into());
        };
        return Ok(item.map_get(k.as_str()).unwrap_or(Value::Nil));
    }
    if let Some(mut items) = item.list_items() {
        let len = items.len();
        let i = position(key, len)?;
        return items
            .nth(i)
            .ok_or_else(|| format!("index out of range: {i}").into());
    }
    if let Value::Str(s) = item {
        let i = position(key, s.as_str().len())?;
        return Ok(Value::Int(i64::from(s.as_str().as_bytes()[i])));
    }
    Err(format!("can't index item of type {}", item.type_name()).into())
}

/// An integer index within `0..len`.
fn position(key: &Value<'_>, len: usize) -> Result<usize, FuncError> {
    let n = std::slice::from_ref(key).int(0).map_err(|_| {
        FuncError(format!(
            "cannot index slice/array with type {}",
            key.type_name()
        ))
    })?;
    usize::try_from(n)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| FuncError(format!("index out of range: {n}")))
}

/// `slice x i j`: a substring or sub-list.
fn slice<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.at_least(1)?;
    let item = &args[0];
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if args.len() > 4 {
        return Err(format!("too many slice indexes: {}", args.len() - 1).into());
    }
    let len = match item {
        Value::Str(s) => s.as_str().len(),
        other => other
            .list_items()
            .map(|items| items.len())
            .ok_or_else(|| FuncError(format!("can't slice item of type {}", other.type_name())))?,
    };
    let mut bounds = [0, len];
    for (i, idx) in args[1..].iter().take(2).enumerate() {
        let n = args[1..].int(i).map_err(|_| {
            FuncError(format!(
                "cannot index slice/array with type {}",
                idx.type_name()
            ))
        })?;
        bounds[i] = usize::try_from(n)
            .ok()
            .filter(|n| *n <= len)
            .ok_or_else(|| FuncError(format!("index out of range: {n}")))?;
    }
    if bounds[0] > bounds[1] {
        return Err(format!("invalid slice index: {} > {}", bounds[0], bounds[1]).into());
    }
    match item {
        Value::Str(s) => {
            if args.len() == 4 {
                return Err("cannot 3-index slice a string".into());
            }
            if !s.as_str().is_char_boundary(bounds[0]) || !s.as_str().is_char_boundary(bounds[1]) {
                return Err("slice splits a UTF-8 character".into());
            }
            Ok(Value::Str(s.slice(bounds[0]..bounds[1])))
        }
        other => Ok(Value::list(
            other
                .list_items()
                .into_iter()
                .flatten()
                .skip(bounds[0])
                .take(bounds[1] - bounds[0])
                .collect(),
        )),
    }
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(run: &str, out: &mut String) {
    for c in run.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Go's `template.JSEscapeString`.
fn js_escape(run: &str, out: &mut String) {
    for c in run.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c < ' ' || c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(run: &str, out: &mut String) {
    for b in run.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
}
