//! Template helpers, named and shaped like Istio's template functions so
//! templates move between the two with little change.
//!
//! Every helper accepts missing arguments (strict mode would otherwise make
//! `annotation`'s whole point, a missing key, an error) and returns a JSON
//! value, so helpers compose as subexpressions. What a helper returns is
//! quoted like any other interpolation; only `int` and `quote` write their
//! output directly, and both write a single validated scalar.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::{Map, Value};

use super::escape::yaml_quoted;
use crate::template::multus;

type Args<'a> = [Option<&'a Value>];
type HelperFn = fn(&Args<'_>) -> Result<Value, String>;

/// A helper computing a value from its arguments.
struct Computed(&'static str, HelperFn);

impl HelperDef for Computed {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let args = present(h);
        (self.1)(&args)
            .map(ScopedJson::Derived)
            .map_err(|e| failed(self.0, h, e).into())
    }
}

/// A helper whose output is written as-is: the helper itself guarantees it
/// is one well-formed YAML scalar.
struct Scalar(&'static str, fn(&Args<'_>) -> Result<String, String>);

impl HelperDef for Scalar {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let args = present(h);
        let text = (self.1)(&args).map_err(|e| failed(self.0, h, e))?;
        out.write(&text)?;
        Ok(())
    }
}

/// The helper's arguments; `None` for a path the data does not have.
fn present<'a>(h: &'a Helper<'_>) -> Vec<Option<&'a Value>> {
    h.params()
        .iter()
        .map(|p| (!p.is_value_missing()).then(|| p.value()))
        .collect()
}

/// A helper failure, naming the data paths that were missing: the usual
/// cause is a values or mesh field the template expects and the config
/// lacks.
fn failed(name: &str, h: &Helper<'_>, error: String) -> RenderErrorReason {
    let missing: Vec<&str> = h
        .params()
        .iter()
        .filter(|p| p.is_value_missing())
        .filter_map(|p| p.relative_path().map(String::as_str))
        .collect();
    if missing.is_empty() {
        RenderErrorReason::Other(format!("{name}: {error}"))
    } else {
        RenderErrorReason::Other(format!("{name}: {error} (missing: {})", missing.join(", ")))
    }
}

/// Registers every helper on `registry`.
pub fn register(registry: &mut Handlebars<'_>) {
    let computed: [(&'static str, HelperFn); 25] = [
        ("annotation", annotation),
        ("index", index),
        ("valueOrDefault", value_or_default),
        ("default", default),
        ("isset", isset),
        ("contains", contains),
        ("toJSON", to_json),
        ("fromJSON", from_json),
        ("toYaml", to_yaml),
        ("indent", |a| indent(a, false)),
        ("nindent", |a| indent(a, true)),
        ("toLower", |a| {
            Ok(Value::String(text(arg(a, 0)).to_lowercase()))
        }),
        ("trunc", trunc),
        ("trimSuffix", trim_suffix),
        ("labelValue", label_value),
        ("join", join),
        ("concat", concat),
        ("pluck", pluck),
        ("flatten", flatten),
        ("omit", omit),
        ("strdict", strdict),
        ("mergeMaps", merge_maps),
        ("excludeInboundPort", exclude_inbound_port),
        ("includeInboundPorts", include_inbound_ports),
        ("appendMultusNetwork", append_multus_network),
    ];
    for (name, f) in computed {
        registry.register_helper(name, Box::new(Computed(name, f)));
    }
    registry.register_helper(
        "quote",
        Box::new(Scalar("quote", |a| Ok(yaml_quoted(&text(arg(a, 0)))))),
    );
    registry.register_helper("int", Box::new(Scalar("int", int)));
}

fn arg<'a>(args: &Args<'a>, i: usize) -> Option<&'a Value> {
    args.get(i).copied().flatten()
}

/// A value as text, the way Go's `fmt.Sprint` shows scalars; missing and
/// null are empty.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Sprig's notion of empty: missing, null, "", 0, false, [] and {}.
fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
    }
}

fn or_null(v: Option<&Value>) -> Value {
    v.cloned().unwrap_or(Value::Null)
}

/// A fallback argument that was given but names data that does not exist
/// is an error (in the spirit of strict mode) rather than a silent null.
fn fallback<'a>(a: &Args<'a>, i: usize) -> Result<Option<&'a Value>, String> {
    match a.get(i) {
        Some(None) => Err("the fallback value does not exist".into()),
        Some(Some(v)) => Ok(Some(*v)),
        None => Ok(None),
    }
}

/// `annotation META KEY DEFAULT`: the annotation if the pod sets it.
fn annotation(a: &Args<'_>) -> Result<Value, String> {
    let key = text(arg(a, 1));
    let found = arg(a, 0)
        .and_then(|meta| meta.get("annotations"))
        .and_then(|anns| anns.get(&key));
    match found {
        Some(v) => Ok(v.clone()),
        None => Ok(or_null(fallback(a, 2)?)),
    }
}

/// `index MAP KEY`: the entry, or null when absent (never a strict error).
fn index(a: &Args<'_>) -> Result<Value, String> {
    let key = text(arg(a, 1));
    Ok(or_null(arg(a, 0).and_then(|m| match m {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        other => other.get(&key),
    })))
}

/// `valueOrDefault VALUE DEFAULT`: VALUE unless missing, null or "".
fn value_or_default(a: &Args<'_>) -> Result<Value, String> {
    let v = arg(a, 0);
    let unset = matches!(v, None | Some(Value::Null)) || v.and_then(Value::as_str) == Some("");
    Ok(or_null(if unset { fallback(a, 1)? } else { v }))
}

/// `default DEFAULT VALUE`: VALUE unless empty (Sprig's argument order).
fn default(a: &Args<'_>) -> Result<Value, String> {
    let v = arg(a, 1);
    Ok(or_null(if is_empty(v) { fallback(a, 0)? } else { v }))
}

/// `isset MAP KEY`: whether the key is present and not null.
fn isset(a: &Args<'_>) -> Result<Value, String> {
    let key = text(arg(a, 1));
    let set = arg(a, 0)
        .and_then(|m| m.get(&key))
        .is_some_and(|v| !v.is_null());
    Ok(Value::Bool(set))
}

/// `contains HAYSTACK NEEDLE`: substring, list member or map key.
fn contains(a: &Args<'_>) -> Result<Value, String> {
    let needle = arg(a, 1);
    let found = match arg(a, 0) {
        Some(Value::String(s)) => s.contains(&text(needle)),
        Some(Value::Array(items)) => items.iter().any(|i| Some(i) == needle),
        Some(Value::Object(m)) => m.contains_key(&text(needle)),
        _ => false,
    };
    Ok(Value::Bool(found))
}

fn to_json(a: &Args<'_>) -> Result<Value, String> {
    Ok(Value::String(or_null(arg(a, 0)).to_string()))
}

fn from_json(a: &Args<'_>) -> Result<Value, String> {
    let s = text(arg(a, 0));
    if s.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&s).map_err(|e| format!("not JSON: {e}"))
}

fn to_yaml(a: &Args<'_>) -> Result<Value, String> {
    let v = or_null(arg(a, 0));
    let s = crate::yaml::to_string(&v).map_err(|e| e.to_string())?;
    Ok(Value::String(s.trim_end_matches('\n').to_string()))
}

/// `indent N TEXT` / `nindent N TEXT`: every line indented by N spaces.
fn indent(a: &Args<'_>, leading_newline: bool) -> Result<Value, String> {
    let n = arg(a, 0)
        .and_then(Value::as_u64)
        .ok_or("the first argument must be a number of spaces")?;
    let pad = " ".repeat(n as usize);
    let body = text(arg(a, 1))
        .lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Value::String(if leading_newline {
        format!("\n{body}")
    } else {
        body
    }))
}

/// `trunc N TEXT`: at most N characters.
fn trunc(a: &Args<'_>) -> Result<Value, String> {
    let n = arg(a, 0)
        .and_then(Value::as_u64)
        .ok_or("the first argument must be a length")?;
    Ok(Value::String(
        text(arg(a, 1)).chars().take(n as usize).collect(),
    ))
}

/// `trimSuffix SUFFIX TEXT`.
fn trim_suffix(a: &Args<'_>) -> Result<Value, String> {
    let suffix = text(arg(a, 0));
    let s = text(arg(a, 1));
    Ok(Value::String(
        s.strip_suffix(&suffix).unwrap_or(&s).to_string(),
    ))
}

/// `labelValue TEXT`: at most 63 characters, without trailing `-`, as a
/// label value must be. Every trailing `-` goes, not one as with
/// `trimSuffix`, so the result is its own label value: a pod injected
/// again (the label now set) gets the same label, whatever its name.
fn label_value(a: &Args<'_>) -> Result<Value, String> {
    let s: String = text(arg(a, 0)).chars().take(63).collect();
    Ok(Value::String(s.trim_end_matches('-').to_string()))
}

/// `join SEP LIST`.
fn join(a: &Args<'_>) -> Result<Value, String> {
    let sep = text(arg(a, 0));
    let items = match arg(a, 1) {
        Some(Value::Array(items)) => items.iter().map(|i| text(Some(i))).collect::<Vec<_>>(),
        other => vec![text(other)],
    };
    Ok(Value::String(items.join(&sep)))
}

/// `concat A B ...`: the arguments' text, end to end.
fn concat(a: &Args<'_>) -> Result<Value, String> {
    Ok(Value::String(a.iter().map(|v| text(*v)).collect()))
}

/// `pluck LIST KEY`: the KEY field of every object in LIST that has one.
fn pluck(a: &Args<'_>) -> Result<Value, String> {
    let key = text(arg(a, 1));
    let items = arg(a, 0).and_then(Value::as_array).into_iter().flatten();
    Ok(Value::Array(
        items.filter_map(|i| i.get(&key).cloned()).collect(),
    ))
}

/// `flatten LIST`: the items of LIST's lists, one level deep.
fn flatten(a: &Args<'_>) -> Result<Value, String> {
    let items = arg(a, 0).and_then(Value::as_array).into_iter().flatten();
    Ok(Value::Array(
        items
            .flat_map(|i| match i {
                Value::Array(inner) => inner.clone(),
                other => vec![other.clone()],
            })
            .collect(),
    ))
}

/// `omit MAP KEY...`: MAP without the named keys.
fn omit(a: &Args<'_>) -> Result<Value, String> {
    let mut map = arg(a, 0)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for key in a.iter().skip(1) {
        map.remove(&text(*key));
    }
    Ok(Value::Object(map))
}

/// `strdict K1 V1 K2 V2 ...`: a map of strings.
fn strdict(a: &Args<'_>) -> Result<Value, String> {
    if !a.len().is_multiple_of(2) {
        return Err("needs key/value pairs".into());
    }
    Ok(Value::Object(
        a.chunks(2)
            .map(|kv| (text(kv[0]), Value::String(text(kv[1]))))
            .collect(),
    ))
}

/// `mergeMaps A B ...`: later maps win, key by key, one level deep.
fn merge_maps(a: &Args<'_>) -> Result<Value, String> {
    let mut out = Map::new();
    for m in a.iter().filter_map(|v| v.and_then(Value::as_object)) {
        out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(Value::Object(out))
}

fn split_ports(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// `excludeInboundPort PORT LIST`: LIST with PORT appended unless PORT is
/// empty, 0, or already listed (the status port must bypass capture).
fn exclude_inbound_port(a: &Args<'_>) -> Result<Value, String> {
    let port = text(arg(a, 0));
    let port = port.trim();
    let list = text(arg(a, 1));
    let mut ports: Vec<&str> = split_ports(&list).collect();
    if !port.is_empty() && port != "0" && !ports.contains(&port) {
        ports.push(port);
    }
    Ok(Value::String(ports.join(",")))
}

/// `includeInboundPorts CONTAINERS`: the container ports the pod declares,
/// comma-separated.
fn include_inbound_ports(a: &Args<'_>) -> Result<Value, String> {
    let containers = arg(a, 0).and_then(Value::as_array).into_iter().flatten();
    let ports: Vec<String> = containers
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.get("containerPort").map(|v| text(Some(v))))
        .collect();
    Ok(Value::String(ports.join(",")))
}

/// `appendMultusNetwork EXISTING NETWORK`: the pod's
/// `k8s.v1.cni.cncf.io/networks` value (missing is empty) with the Istio
/// CNI network added, in the value's own list form.
fn append_multus_network(a: &Args<'_>) -> Result<Value, String> {
    Ok(Value::String(multus::append(
        &text(arg(a, 0)),
        &text(arg(a, 1)),
    )))
}

/// `int X`: X as a plain YAML integer; anything else is an error, so a
/// pod annotation can never smuggle structure through a numeric field.
fn int(a: &Args<'_>) -> Result<String, String> {
    match arg(a, 0) {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| format!("{s:?} is not an integer")),
        other => Err(format!("{} is not an integer", or_null(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(f: HelperFn, args: &[Option<Value>]) -> Value {
        let refs: Vec<Option<&Value>> = args.iter().map(Option::as_ref).collect();
        f(&refs).unwrap()
    }

    #[test]
    fn annotation_falls_back_on_missing_key() {
        let meta = json!({"annotations": {"a/b": "x"}});
        assert_eq!(
            call(
                annotation,
                &[Some(meta.clone()), Some(json!("a/b")), Some(json!("d"))]
            ),
            json!("x")
        );
        assert_eq!(
            call(
                annotation,
                &[Some(meta), Some(json!("c")), Some(json!("d"))]
            ),
            json!("d")
        );
        assert_eq!(
            call(annotation, &[Some(json!({})), Some(json!("c"))]),
            Value::Null
        );
    }

    #[test]
    fn defaults() {
        assert_eq!(
            call(value_or_default, &[Some(json!("")), Some(json!(1))]),
            json!(1)
        );
        assert_eq!(
            call(value_or_default, &[Some(json!(0)), Some(json!(1))]),
            json!(0)
        );
        assert_eq!(call(default, &[Some(json!(1)), Some(json!(0))]), json!(1));
        assert_eq!(call(default, &[Some(json!(1)), None]), json!(1));
        let missing_fallback: [Option<&Value>; 2] = [None, None];
        assert!(default(&missing_fallback).is_err());
        assert!(value_or_default(&missing_fallback).is_err());
    }

    #[test]
    fn ports() {
        let r = call(
            exclude_inbound_port,
            &[Some(json!(15020)), Some(json!("4, 5,6"))],
        );
        assert_eq!(r, json!("4,5,6,15020"));
        let r = call(exclude_inbound_port, &[Some(json!("0")), Some(json!("4"))]);
        assert_eq!(r, json!("4"));
        let r = call(exclude_inbound_port, &[Some(json!("4")), Some(json!("4"))]);
        assert_eq!(r, json!("4"));
        let containers = json!([{"ports": [{"containerPort": 80}, {"containerPort": 81}]}, {}]);
        assert_eq!(
            call(include_inbound_ports, &[Some(containers)]),
            json!("80,81")
        );
    }

    #[test]
    fn int_rejects_non_integers() {
        let f = |v: Value| int(&[Some(&v)]);
        assert_eq!(f(json!(15020)).unwrap(), "15020");
        assert_eq!(f(json!(" 123 ")).unwrap(), "123");
        assert!(f(json!("12\nkey: value")).is_err());
        assert!(f(json!(1.5)).is_err());
    }

    #[test]
    fn text_helpers() {
        assert_eq!(
            call(trunc, &[Some(json!(3)), Some(json!("abcdef"))]),
            json!("abc")
        );
        assert_eq!(
            call(trim_suffix, &[Some(json!("-")), Some(json!("ab-"))]),
            json!("ab")
        );
        assert_eq!(call(label_value, &[Some(json!("a--"))]), json!("a"));
        let long = format!("{}--b", "a".repeat(61));
        assert_eq!(
            call(label_value, &[Some(json!(long))]),
            json!("a".repeat(61))
        );
        assert_eq!(
            call(join, &[Some(json!(",")), Some(json!(["a", 1]))]),
            json!("a,1")
        );
        assert_eq!(
            call(concat, &[Some(json!("a")), Some(json!(1)), None]),
            json!("a1")
        );
        assert_eq!(
            call(|a| indent(a, false), &[Some(json!(2)), Some(json!("a\nb"))]),
            json!("  a\n  b")
        );
        assert_eq!(
            call(strdict, &[Some(json!("k")), Some(json!(1))]),
            json!({"k": "1"})
        );
        assert_eq!(
            call(
                merge_maps,
                &[Some(json!({"a": 1, "b": 1})), Some(json!({"b": 2}))]
            ),
            json!({"a": 1, "b": 2})
        );
        assert_eq!(
            call(omit, &[Some(json!({"a": 1, "b": 1})), Some(json!("a"))]),
            json!({"b": 1})
        );
        assert_eq!(
            call(
                pluck,
                &[
                    Some(json!([{"name": "a"}, {}, {"name": "b"}])),
                    Some(json!("name"))
                ]
            ),
            json!(["a", "b"])
        );
    }
}
