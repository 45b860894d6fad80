//! sprig's integer and float math. Arguments are converted as sprig's
//! `cast` does (numbers, numeric strings; anything else is 0).

use super::{to_float, to_int};
use crate::error::FuncError;
use crate::funcs::{ArgsExt, Funcs};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    funcs
        .insert("add", |args| {
            Ok(Value::Int(
                args.iter().map(to_int).fold(0i64, i64::wrapping_add),
            ))
        })
        .insert("add1", |args| {
            args.exact(1)?;
            Ok(Value::Int(to_int(&args[0]).wrapping_add(1)))
        })
        .insert("sub", |args| int2(args, |a, b| Ok(a.wrapping_sub(b))))
        .insert("mul", |args| {
            Ok(Value::Int(
                args.iter().map(to_int).fold(1i64, i64::wrapping_mul),
            ))
        })
        .insert("div", |args| {
            int2(args, |a, b| {
                a.checked_div(b)
                    .ok_or_else(|| FuncError::new("integer divide by zero"))
            })
        })
        .insert("mod", |args| {
            int2(args, |a, b| {
                a.checked_rem(b)
                    .ok_or_else(|| FuncError::new("integer divide by zero"))
            })
        })
        .insert("max", |args| {
            args.at_least(1)?;
            Ok(Value::Int(args.iter().map(to_int).max().unwrap_or(0)))
        })
        .insert("min", |args| {
            args.at_least(1)?;
            Ok(Value::Int(args.iter().map(to_int).min().unwrap_or(0)))
        })
        .insert("addf", |args| {
            Ok(Value::Float(args.iter().map(to_float).sum()))
        })
        .insert("add1f", |args| {
            args.exact(1)?;
            Ok(Value::Float(to_float(&args[0]) + 1.0))
        })
        .insert("subf", |args| float_fold(args, |a, b| a - b))
        .insert("mulf", |args| {
            Ok(Value::Float(args.iter().map(to_float).product()))
        })
        .insert("divf", |args| float_fold(args, |a, b| a / b))
        .insert("maxf", |args| float_fold(args, f64::max))
        .insert("minf", |args| float_fold(args, f64::min))
        .insert("floor", |args| float1(args, f64::floor))
        .insert("ceil", |args| float1(args, f64::ceil))
        .insert("round", |args| {
            args.at_least(2)?;
            let (x, places) = (to_float(&args[0]), to_int(&args[1]));
            let half = if args.len() > 2 {
                to_float(&args[2])
            } else {
                0.5
            };
            let scale = 10f64.powi(i32::try_from(places.clamp(-300, 300)).unwrap_or(0));
            let digits = x.abs() * scale;
            let rounded = if digits.fract() >= half {
                digits.ceil()
            } else {
                digits.floor()
            };
            Ok(Value::Float((rounded / scale).copysign(x)))
        })
        .insert("int", |args| {
            args.exact(1)?;
            Ok(Value::Int(to_int(&args[0])))
        })
        .insert("int64", |args| {
            args.exact(1)?;
            Ok(Value::Int(to_int(&args[0])))
        })
        .insert("float64", |args| {
            args.exact(1)?;
            Ok(Value::Float(to_float(&args[0])))
        })
        .insert("atoi", |args| {
            args.exact(1)?;
            Ok(Value::Int(args.string(0)?.as_str().parse().unwrap_or(0)))
        });
}

fn int2<'a>(
    args: &[Value<'a>],
    f: impl Fn(i64, i64) -> Result<i64, FuncError>,
) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    Ok(Value::Int(f(to_int(&args[0]), to_int(&args[1]))?))
}

fn float1<'a>(args: &[Value<'a>], f: impl Fn(f64) -> f64) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    Ok(Value::Float(f(to_float(&args[0]))))
}

fn float_fold<'a>(args: &[Value<'a>], f: impl Fn(f64, f64) -> f64) -> Result<Value<'a>, FuncError> {
    args.at_least(1)?;
    Ok(Value::Float(
        args[1..].iter().map(to_float).fold(to_float(&args[0]), f),
    ))
}
