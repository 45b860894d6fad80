//! sprig's dict functions. Dicts are immutable values here: `set`, `unset`
//! and the merges return the changed dict instead of changing it in place
//! (see the crate docs).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::strval;
use crate::error::FuncError;
use crate::funcs::{ArgsExt, Funcs};
use crate::kind::Kind;
use crate::taint::Str;
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    funcs
        .insert("dict", |args| {
            let mut map = BTreeMap::new();
            for pair in args.chunks(2) {
                let value = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
                map.insert(strval(&pair[0]), value);
            }
            Ok(Value::map(map))
        })
        .insert("get", |args| {
            args.exact(2)?;
            let key = args.string(1)?;
            Ok(lookup("get", &args[0], key.as_str())?.unwrap_or_else(|| Value::str("")))
        })
        .insert("hasKey", |args| {
            args.exact(2)?;
            let key = args.string(1)?;
            Ok(Value::Bool(
                lookup("hasKey", &args[0], key.as_str())?.is_some(),
            ))
        })
        .insert("set", |args| {
            args.exact(3)?;
            let mut map = owned("set", &args[0])?;
            map.insert(args.string(1)?, args[2].clone());
            Ok(Value::map(map))
        })
        .insert("unset", |args| {
            args.exact(2)?;
            let mut map = owned("unset", &args[0])?;
            map.remove(args.string(1)?.as_str());
            Ok(Value::map(map))
        })
        .insert("keys", |args| {
            let mut keys = Vec::new();
            for dict in args {
                keys.extend(
                    entries("keys", dict)?
                        .into_iter()
                        .map(|(k, _)| Value::Str(k)),
                );
            }
            Ok(Value::list(keys))
        })
        .insert("values", |args| {
            args.exact(1)?;
            Ok(Value::list(
                entries("values", &args[0])?
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect(),
            ))
        })
        .insert("pluck", |args| {
            args.at_least(1)?;
            let key = args.string(0)?;
            let mut found = Vec::new();
            for dict in &args[1..] {
                found.extend(lookup("pluck", dict, key.as_str())?);
            }
            Ok(Value::list(found))
        })
        .insert("pick", |args| select(args, true))
        .insert("omit", |args| select(args, false))
        .insert("dig", |args| {
            args.at_least(3)?;
            let (keys, rest) = args.split_at(args.len() - 2);
            let mut current = rest[1].clone();
            for key in keys {
                let key = strval(key);
                match current.map_has(key.as_str()) {
                    Some(true) => current = current.map_get(key.as_str()).unwrap_or(Value::Nil),
                    _ => return Ok(rest[0].clone()),
                }
            }
            Ok(current)
        })
        .insert("merge", |args| merge(args, false))
        .insert("mergeOverwrite", |args| merge(args, true));
}

/// The entries of a `map[string]interface{}` argument, which is what sprig's
/// dict functions take: a `map[string]string` (annotations, labels) is an
/// error, as in Go; nil is an empty map.
fn entries<'a>(func: &str, v: &Value<'a>) -> Result<Vec<(Str<'a>, Value<'a>)>, FuncError> {
    if v.is_nil() {
        return Ok(Vec::new());
    }
    any_map(func, v)?;
    v.map_entries().ok_or_else(|| wrong_type(func, v))
}

/// A key's value in a `map[string]interface{}` argument, if present.
fn lookup<'a>(func: &str, v: &Value<'a>, key: &str) -> Result<Option<Value<'a>>, FuncError> {
    if v.is_nil() {
        return Ok(None);
    }
    any_map(func, v)?;
    match v.map_has(key) {
        Some(true) => Ok(v.map_get(key)),
        _ => Ok(None),
    }
}

fn any_map(func: &str, v: &Value<'_>) -> Result<(), FuncError> {
    match v {
        Value::Map(_) => Ok(()),
        Value::Json(j) if matches!(j.kind(), Kind::Any | Kind::Map(Kind::Any)) && v.is_map() => {
            Ok(())
        }
        _ => Err(wrong_type(func, v)),
    }
}

fn wrong_type(func: &str, v: &Value<'_>) -> FuncError {
    FuncError(format!(
        "wrong type for value; expected map[string]interface {{}}; got {} (in {func})",
        v.type_name()
    ))
}

/// A dict's entries to build a changed copy from.
fn owned<'a>(func: &str, v: &Value<'a>) -> Result<BTreeMap<Str<'a>, Value<'a>>, FuncError> {
    match v {
        Value::Map(map) => Ok(Rc::unwrap_or_clone(map.clone())),
        other => Ok(entries(func, other)?.into_iter().collect()),
    }
}

/// `pick` (keep the keys named) or `omit` (drop them).
fn select<'a>(args: &[Value<'a>], keep: bool) -> Result<Value<'a>, FuncError> {
    args.at_least(1)?;
    let names: Vec<Str<'a>> = args[1..].iter().map(strval).collect();
    let picked = entries(if keep { "pick" } else { "omit" }, &args[0])?
        .into_iter()
        .filter(|(k, _)| names.contains(k) == keep)
        .collect();
    Ok(Value::map(picked))
}

/// `merge` (fill what the destination lacks) and `mergeOverwrite` (sources
/// win), recursing into dicts present on both sides.
fn merge<'a>(args: &[Value<'a>], overwrite: bool) -> Result<Value<'a>, FuncError> {
    args.at_least(1)?;
    let mut dst = owned("merge", &args[0])?;
    for src in args[1..].iter().filter(|s| !s.is_nil()) {
        merge_into(&mut dst, entries("merge", src)?, overwrite)?;
    }
    Ok(Value::map(dst))
}

fn merge_into<'a>(
    dst: &mut BTreeMap<Str<'a>, Value<'a>>,
    src: Vec<(Str<'a>, Value<'a>)>,
    overwrite: bool,
) -> Result<(), FuncError> {
    for (key, value) in src {
        let merged = match dst.remove(key.as_str()) {
            Some(old) if old.is_map() && value.is_map() => {
                let mut inner = owned("merge", &old)?;
                merge_into(&mut inner, entries("merge", &value)?, overwrite)?;
                Value::map(inner)
            }
            Some(old) if !overwrite && old.is_true() => old,
            Some(old) if overwrite && !value.is_true() => old,
            _ => value,
        };
        dst.insert(key, merged);
    }
    Ok(())
}
