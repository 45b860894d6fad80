//! sprig's defaults, flow helpers, type inspection and JSON encoders.

use crate::encode::{JsonStyle, to_json};
use crate::error::FuncError;
use crate::funcs::compare::deep_equal;
use crate::funcs::{ArgsExt, Funcs};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    funcs
        .insert("default", |args| {
            args.at_least(1)?;
            Ok(match args.get(1) {
                Some(given) if given.is_true() => given.clone(),
                _ => args[0].clone(),
            })
        })
        .insert("empty", |args| {
            args.exact(1)?;
            Ok(Value::Bool(!args[0].is_true()))
        })
        .insert("coalesce", |args| {
            Ok(args
                .iter()
                .find(|v| v.is_true())
                .cloned()
                .unwrap_or(Value::Nil))
        })
        .insert("all", |args| {
            Ok(Value::Bool(args.iter().all(Value::is_true)))
        })
        .insert("any", |args| {
            Ok(Value::Bool(args.iter().any(Value::is_true)))
        })
        .insert("ternary", |args| {
            args.exact(3)?;
            match &args[2] {
                Value::Bool(b) => Ok(args[if *b { 0 } else { 1 }].clone()),
                other => Err(FuncError(format!(
                    "wrong type for value; expected bool; got {}",
                    other.type_name()
                ))),
            }
        })
        .insert("fail", |args| {
            args.exact(1)?;
            Err(FuncError(args.string(0)?.as_str().to_owned()))
        })
        .insert("typeOf", |args| {
            args.exact(1)?;
            Ok(Value::string(args[0].type_name()))
        })
        .insert("typeIs", |args| {
            args.exact(2)?;
            Ok(Value::Bool(args.string(0)?.as_str() == args[1].type_name()))
        })
        .insert("kindOf", |args| {
            args.exact(1)?;
            Ok(Value::str(kind_of(&args[0])))
        })
        .insert("kindIs", |args| {
            args.exact(2)?;
            Ok(Value::Bool(args.string(0)?.as_str() == kind_of(&args[1])))
        })
        .insert("deepEqual", |args| {
            args.exact(2)?;
            Ok(Value::Bool(deep_equal(&args[0], &args[1])))
        })
        .insert("deepCopy", |args| {
            // Values are immutable: a copy is the value itself.
            args.exact(1)?;
            Ok(args[0].clone())
        })
        .insert("fromJson", |args| {
            args.exact(1)?;
            let text = args.string(0)?;
            let origin = text.first_origin();
            // Like sprig, a parse error gives nil.
            Ok(serde_json::from_str(text.as_str())
                .map_or(Value::Nil, |json| Value::from_owned_json(json, origin)))
        })
        .insert("mustFromJson", |args| {
            args.exact(1)?;
            let text = args.string(0)?;
            let json = serde_json::from_str(text.as_str()).map_err(|e| FuncError(e.to_string()))?;
            Ok(Value::from_owned_json(json, text.first_origin()))
        })
        .insert("toJson", |args| json(args, JsonStyle::default()))
        .insert("toPrettyJson", |args| {
            json(
                args,
                JsonStyle {
                    pretty: true,
                    raw: false,
                },
            )
        })
        .insert("toRawJson", |args| {
            json(
                args,
                JsonStyle {
                    pretty: false,
                    raw: true,
                },
            )
        });
}

fn json<'a>(args: &[Value<'a>], style: JsonStyle) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    Ok(Value::Str(to_json(&args[0], style)))
}

/// Go's `reflect.Kind` name of a value.
fn kind_of(v: &Value<'_>) -> &'static str {
    match v {
        Value::Missing | Value::Nil | Value::Zero => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Record(_) => "struct",
        Value::Json(j) => match j.kind {
            crate::Kind::Struct(_) => "ptr",
            crate::Kind::Enum(_) => "int32",
            _ if v.is_map() => "map",
            _ => "slice",
        },
    }
}
