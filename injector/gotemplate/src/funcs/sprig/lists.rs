//! sprig's list functions. Lists are values: `append` and friends return a
//! new list, as in sprig.

use super::strslice;
use crate::error::FuncError;
use crate::funcs::compare::deep_equal;
use crate::funcs::{ArgsExt, Funcs};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    funcs
        .insert("list", |args| Ok(Value::list(args.to_vec())))
        .insert("append", push)
        .insert("push", push)
        .insert("prepend", |args| {
            args.exact(2)?;
            let mut items = vec![args[1].clone()];
            items.extend(items_of("prepend", &args[0])?);
            Ok(Value::list(items))
        })
        .insert("first", |args| {
            args.exact(1)?;
            Ok(items_of("first", &args[0])?
                .into_iter()
                .next()
                .unwrap_or(Value::Nil))
        })
        .insert("last", |args| {
            args.exact(1)?;
            Ok(items_of("last", &args[0])?.pop().unwrap_or(Value::Nil))
        })
        .insert("rest", |args| {
            args.exact(1)?;
            let items = items_of("rest", &args[0])?;
            Ok(if items.is_empty() {
                Value::Nil
            } else {
                Value::list(items[1..].to_vec())
            })
        })
        .insert("initial", |args| {
            args.exact(1)?;
            let mut items = items_of("initial", &args[0])?;
            Ok(if items.pop().is_some() {
                Value::list(items)
            } else {
                Value::Nil
            })
        })
        .insert("reverse", |args| {
            args.exact(1)?;
            let mut items = items_of("reverse", &args[0])?;
            items.reverse();
            Ok(Value::list(items))
        })
        .insert("uniq", |args| {
            args.exact(1)?;
            let mut out: Vec<Value<'_>> = Vec::new();
            for item in items_of("uniq", &args[0])? {
                if !out.iter().any(|seen| deep_equal(seen, &item)) {
                    out.push(item);
                }
            }
            Ok(Value::list(out))
        })
        .insert("without", |args| {
            args.at_least(1)?;
            let omit = &args[1..];
            let kept = items_of("without", &args[0])?
                .into_iter()
                .filter(|i| !omit.iter().any(|o| deep_equal(o, i)))
                .collect();
            Ok(Value::list(kept))
        })
        .insert("has", |args| {
            args.exact(2)?;
            if args[1].is_nil() {
                return Ok(Value::Bool(false));
            }
            Ok(Value::Bool(
                items_of("has", &args[1])?
                    .iter()
                    .any(|i| deep_equal(i, &args[0])),
            ))
        })
        .insert("compact", |args| {
            args.exact(1)?;
            Ok(Value::list(
                items_of("compact", &args[0])?
                    .into_iter()
                    .filter(Value::is_true)
                    .collect(),
            ))
        })
        .insert("concat", |args| {
            let mut out = Vec::new();
            for list in args {
                out.extend(items_of("concat", list)?);
            }
            Ok(Value::list(out))
        })
        .insert("sortAlpha", |args| {
            args.exact(1)?;
            let mut items = strslice(&args[0]);
            items.sort();
            Ok(Value::list(items.into_iter().map(Value::Str).collect()))
        })
        .insert("chunk", |args| {
            args.exact(2)?;
            let size = usize::try_from(args.int(0)?)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| FuncError::new("chunk size must be positive"))?;
            let items = items_of("chunk", &args[1])?;
            Ok(Value::list(
                items
                    .chunks(size)
                    .map(|c| Value::list(c.to_vec()))
                    .collect(),
            ))
        })
        .insert("until", |args| {
            args.exact(1)?;
            until(0, args.int(0)?, 1)
        })
        .insert("untilStep", |args| {
            args.exact(3)?;
            until(args.int(0)?, args.int(1)?, args.int(2)?)
        });
}

/// The items of a list argument; anything else is sprig's error.
fn items_of<'a>(func: &str, v: &Value<'a>) -> Result<Vec<Value<'a>>, FuncError> {
    match v.list_items() {
        Some(items) => Ok(items.collect()),
        None => Err(FuncError(format!(
            "Cannot {func} on type {}",
            v.type_name()
        ))),
    }
}

fn push<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    let mut items = items_of("append", &args[0])?;
    items.push(args[1].clone());
    Ok(Value::list(items))
}

/// `until`/`untilStep`: integers from `start` towards `stop` by `step`.
fn until<'a>(start: i64, stop: i64, step: i64) -> Result<Value<'a>, FuncError> {
    const LIMIT: usize = 1 << 20;
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        if out.len() >= LIMIT {
            return Err(FuncError::new("list too long"));
        }
        out.push(Value::Int(i));
        i = i.saturating_add(step);
    }
    Ok(Value::list(out))
}
