//! sprig's slash-separated path functions (Go's `path` package).

use crate::error::FuncError;
use crate::funcs::{ArgsExt, Funcs};
use crate::taint::Str;
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    funcs
        .insert("base", |args| path1(args, |p| base(p)))
        .insert("dir", |args| {
            path1(args, |p| {
                whole(
                    p,
                    clean(&p.as_str()[..p.as_str().rfind('/').map_or(0, |i| i + 1)]),
                )
            })
        })
        .insert("clean", |args| path1(args, |p| whole(p, clean(p.as_str()))))
        .insert("ext", |args| {
            path1(args, |p| {
                let text = p.as_str();
                let start = text
                    .rfind(['.', '/'])
                    .filter(|i| text.as_bytes()[*i] == b'.')
                    .unwrap_or(text.len());
                p.slice(start..text.len())
            })
        })
        .insert("isAbs", |args| {
            args.exact(1)?;
            Ok(Value::Bool(args.string(0)?.as_str().starts_with('/')))
        });
}

fn path1<'a>(args: &[Value<'a>], f: impl Fn(&Str<'a>) -> Str<'a>) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    Ok(Value::Str(f(&args.string(0)?)))
}

fn whole<'a>(input: &Str<'_>, output: String) -> Str<'a> {
    Str::owned(output).with_origin(input.first_origin())
}

/// `path.Base`: the last element, trailing slashes removed; "." for "".
fn base<'a>(p: &Str<'a>) -> Str<'a> {
    let text = p.as_str();
    if text.is_empty() {
        return Str::borrowed(".");
    }
    let trimmed = text.trim_end_matches('/');
    if trimmed.is_empty() {
        return Str::borrowed("/");
    }
    let start = trimmed.rfind('/').map_or(0, |i| i + 1);
    p.slice(start..trimmed.len())
}

/// `path.Clean`: the shortest equivalent path.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}
