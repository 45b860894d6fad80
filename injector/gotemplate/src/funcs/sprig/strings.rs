//! sprig's string functions. Their results keep the taint of the input
//! bytes they copy; only `title` and the base64 codecs (whose output bytes
//! do not map to input bytes) taint their whole output.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{strslice, strval};
use crate::error::FuncError;
use crate::format::go_quote_run;
use crate::funcs::{ArgsExt, Funcs};
use crate::taint::{Str, StrBuf};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    funcs
        .insert("trim", |args| {
            str1(args, |s| trim_by(s, |c| c.is_whitespace(), true, true))
        })
        .insert("trimAll", |args| {
            args.exact(2)?;
            let cutset = args.string(0)?;
            let s = args.string(1)?;
            Ok(Value::Str(trim_by(
                &s,
                |c| cutset.as_str().contains(c),
                true,
                true,
            )))
        })
        .insert("trimPrefix", |args| {
            args.exact(2)?;
            let (prefix, s) = (args.string(0)?, args.string(1)?);
            let start = if s.as_str().starts_with(prefix.as_str()) {
                prefix.as_str().len()
            } else {
                0
            };
            Ok(Value::Str(s.slice(start..s.as_str().len())))
        })
        .insert("trimSuffix", |args| {
            args.exact(2)?;
            let (suffix, s) = (args.string(0)?, args.string(1)?);
            let len = s.as_str().len();
            let end = if s.as_str().ends_with(suffix.as_str()) {
                len - suffix.as_str().len()
            } else {
                len
            };
            Ok(Value::Str(s.slice(0..end)))
        })
        .insert("upper", |args| {
            str1(args, |s| {
                s.map_runs(|run, out| out.push_str(&run.to_uppercase()))
            })
        })
        .insert("lower", |args| {
            str1(args, |s| {
                s.map_runs(|run, out| out.push_str(&run.to_lowercase()))
            })
        })
        .insert("title", |args| str1(args, |s| whole(s, title(s.as_str()))))
        .insert("untitle", |args| {
            str1(args, |s| whole(s, untitle(s.as_str())))
        })
        .insert("nospace", |args| {
            str1(args, |s| {
                s.map_runs(|run, out| out.extend(run.chars().filter(|c| !c.is_whitespace())))
            })
        })
        .insert("repeat", |args| {
            args.exact(2)?;
            let count = usize::try_from(args.int(0)?)
                .map_err(|_| FuncError::new("strings: negative Repeat count"))?;
            let s = args.string(1)?;
            if count.saturating_mul(s.as_str().len()) > 1 << 24 {
                return Err(FuncError::new("strings: Repeat output too large"));
            }
            let mut out = StrBuf::with_capacity(count * s.as_str().len());
            for _ in 0..count {
                out.push(&s);
            }
            Ok(Value::Str(out.finish()))
        })
        .insert("substr", |args| {
            args.exact(3)?;
            let (start, end, s) = (args.int(0)?, args.int(1)?, args.string(2)?);
            let len = s.as_str().len();
            let clamp = |n: i64| usize::try_from(n).map_or(0, |n| n.min(len));
            let (from, to) = if start < 0 {
                (0, clamp(end))
            } else if usize::try_from(end).is_ok_and(|e| e <= len) {
                (clamp(start), clamp(end))
            } else {
                (clamp(start), len)
            };
            Ok(Value::Str(
                s.slice(floor_char(&s, from.min(to))..floor_char(&s, to)),
            ))
        })
        .insert("trunc", |args| {
            args.exact(2)?;
            let (c, s) = (args.int(0)?, args.string(1)?);
            let len = i64::try_from(s.as_str().len()).unwrap_or(i64::MAX);
            let range = if c >= 0 && len > c {
                0..floor_char(&s, usize::try_from(c).unwrap_or(0))
            } else if c < 0 && len + c > 0 {
                ceil_char(&s, usize::try_from(len + c).unwrap_or(0))..s.as_str().len()
            } else {
                0..s.as_str().len()
            };
            Ok(Value::Str(s.slice(range)))
        })
        .insert("contains", |args| {
            args.exact(2)?;
            Ok(Value::Bool(
                args.string(1)?.as_str().contains(args.string(0)?.as_str()),
            ))
        })
        .insert("hasPrefix", |args| {
            args.exact(2)?;
            Ok(Value::Bool(
                args.string(1)?
                    .as_str()
                    .starts_with(args.string(0)?.as_str()),
            ))
        })
        .insert("hasSuffix", |args| {
            args.exact(2)?;
            Ok(Value::Bool(
                args.string(1)?.as_str().ends_with(args.string(0)?.as_str()),
            ))
        })
        .insert("quote", |args| {
            Ok(joined(args, |out, s| {
                out.push_char('"');
                out.push_mapped(s, go_quote_run);
                out.push_char('"');
            }))
        })
        .insert("squote", |args| {
            Ok(joined(args, |out, s| {
                out.push_char('\'');
                out.push(s);
                out.push_char('\'');
            }))
        })
        .insert("cat", |args| Ok(joined(args, |out, s| out.push(s))))
        .insert("indent", |args| {
            args.exact(2)?;
            let mut out = StrBuf::new();
            indent_into(&mut out, args.int(0)?, &args.string(1)?);
            Ok(Value::Str(out.finish()))
        })
        .insert("nindent", |args| {
            args.exact(2)?;
            let mut out = StrBuf::new();
            out.push_char('\n');
            indent_into(&mut out, args.int(0)?, &args.string(1)?);
            Ok(Value::Str(out.finish()))
        })
        .insert("replace", |args| {
            args.exact(3)?;
            Ok(Value::Str(replace(
                &args.string(2)?,
                args.string(0)?.as_str(),
                &args.string(1)?,
            )))
        })
        .insert("plural", |args| {
            args.exact(3)?;
            Ok(args.arg(if args.int(2)? == 1 { 0 } else { 1 }))
        })
        .insert("toString", |args| {
            args.exact(1)?;
            Ok(Value::Str(strval(&args[0])))
        })
        .insert("toStrings", |args| {
            args.exact(1)?;
            Ok(Value::list(
                strslice(&args[0]).into_iter().map(Value::Str).collect(),
            ))
        })
        .insert("join", |args| {
            args.exact(2)?;
            let sep = args.string(0)?;
            let mut out = StrBuf::new();
            for (i, s) in strslice(&args[1]).iter().enumerate() {
                if i > 0 {
                    out.push(&sep);
                }
                out.push(s);
            }
            Ok(Value::Str(out.finish()))
        })
        .insert("splitList", |args| {
            args.exact(2)?;
            Ok(Value::list(
                split(&args.string(1)?, args.string(0)?.as_str(), usize::MAX)
                    .into_iter()
                    .map(Value::Str)
                    .collect(),
            ))
        })
        .insert("split", |args| {
            args.exact(2)?;
            Ok(numbered(split(
                &args.string(1)?,
                args.string(0)?.as_str(),
                usize::MAX,
            )))
        })
        .insert("splitn", |args| {
            args.exact(3)?;
            let n = args.int(1)?;
            let parts = match usize::try_from(n) {
                Ok(0) => Vec::new(),
                Ok(n) => split(&args.string(2)?, args.string(0)?.as_str(), n),
                Err(_) => split(&args.string(2)?, args.string(0)?.as_str(), usize::MAX),
            };
            Ok(numbered(parts))
        })
        .insert("b64enc", |args| {
            str1(args, |s| whole(s, STANDARD.encode(s.as_str())))
        })
        .insert("b64dec", |args| {
            str1(args, |s| match STANDARD.decode(s.as_str()) {
                Ok(bytes) => whole(s, String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) => Str::owned(e.to_string()),
            })
        });
}

/// A one-string function.
fn str1<'a>(args: &[Value<'a>], f: impl Fn(&Str<'a>) -> Str<'a>) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    Ok(Value::Str(f(&args.string(0)?)))
}

/// Output that cannot be mapped byte by byte: all tainted like the input.
fn whole<'a>(input: &Str<'_>, output: String) -> Str<'a> {
    Str::owned(output).with_origin(input.first_origin())
}

/// Each non-nil argument formatted by `item`, separated by spaces.
fn joined<'a>(args: &[Value<'a>], item: impl Fn(&mut StrBuf, &Str<'a>)) -> Value<'a> {
    let size = args
        .iter()
        .filter_map(Value::as_str)
        .map(|s| s.as_str().len() + 3)
        .sum();
    let mut out = StrBuf::with_capacity(size);
    for (i, arg) in args.iter().filter(|a| !a.is_nil()).enumerate() {
        if i > 0 {
            out.push_char(' ');
        }
        item(&mut out, &strval(arg));
    }
    Value::Str(out.finish())
}

fn trim_by<'a>(s: &Str<'a>, cut: impl Fn(char) -> bool, start: bool, end: bool) -> Str<'a> {
    let text = s.as_str();
    let from = if start {
        text.len() - text.trim_start_matches(&cut).len()
    } else {
        0
    };
    let to = if end {
        text.trim_end_matches(&cut).len()
    } else {
        text.len()
    };
    s.slice(from..to.max(from))
}

/// The largest char boundary at or below `i`.
fn floor_char(s: &Str<'_>, mut i: usize) -> usize {
    while !s.as_str().is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary at or above `i`.
fn ceil_char(s: &Str<'_>, mut i: usize) -> usize {
    while !s.as_str().is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `indent`: the pad before the string and after each newline.
pub(crate) fn indent_into(out: &mut StrBuf, spaces: i64, s: &Str<'_>) {
    let pad = " ".repeat(usize::try_from(spaces).unwrap_or(0).min(1 << 16));
    out.push_str(&pad);
    let mut start = 0;
    for (i, _) in s.as_str().match_indices('\n') {
        out.push(&s.slice(start..i + 1));
        out.push_str(&pad);
        start = i + 1;
    }
    out.push(&s.slice(start..s.as_str().len()));
}

/// `strings.Replace(s, old, new, -1)`, keeping the taint of both the kept
/// bytes of `s` and the inserted `new`.
fn replace<'a>(s: &Str<'a>, old: &str, new: &Str<'_>) -> Str<'a> {
    let text = s.as_str();
    let mut out = StrBuf::with_capacity(text.len());
    if old.is_empty() {
        // Go inserts `new` before every character and at the end.
        for (i, c) in text.char_indices() {
            out.push(new);
            out.push(&s.slice(i..i + c.len_utf8()));
        }
        out.push(new);
        return out.finish();
    }
    let mut start = 0;
    for (i, _) in text.match_indices(old) {
        out.push(&s.slice(start..i));
        out.push(new);
        start = i + old.len();
    }
    out.push(&s.slice(start..text.len()));
    out.finish()
}

/// `strings.SplitN(s, sep, n)`.
fn split<'a>(s: &Str<'a>, sep: &str, n: usize) -> Vec<Str<'a>> {
    let text = s.as_str();
    if sep.is_empty() {
        let mut parts: Vec<Str<'a>> = Vec::new();
        for (i, c) in text.char_indices() {
            if parts.len() + 1 == n {
                parts.push(s.slice(i..text.len()));
                return parts;
            }
            parts.push(s.slice(i..i + c.len_utf8()));
        }
        return parts;
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices(sep) {
        if parts.len() + 1 >= n {
            break;
        }
        parts.push(s.slice(start..i));
        start = i + sep.len();
    }
    parts.push(s.slice(start..text.len()));
    parts
}

/// sprig's `split` result: a dict `_0`, `_1`...
fn numbered(parts: Vec<Str<'_>>) -> Value<'_> {
    Value::map(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| (Str::owned(format!("_{i}")), Value::Str(p)))
            .collect(),
    )
}

/// `strings.Title`: the first letter of each word upper-cased.
fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) {
                c.to_uppercase().collect::<String>()
            } else {
                c.to_string()
            };
            prev = c;
            out
        })
        .collect()
}

/// sprig's `untitle`: the first letter of each word lower-cased.
fn untitle(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if prev.is_whitespace() {
                c.to_lowercase().collect::<String>()
            } else {
                c.to_string()
            };
            prev = c;
            out
        })
        .collect()
}

fn is_separator(c: char) -> bool {
    !(c.is_alphanumeric() || c == '_')
}
