//! Istio's template functions (pkg/kube/inject/template.go), registered
//! over sprig's as `Funcs(sprig.TxtFuncMap()).Funcs(istio)` does: Istio's
//! `indent`, `toYaml`, `contains` and `omit` replace sprig's.
//!
//! Each keeps Go's semantics, including the odd ones (`fromJSON` of bad
//! JSON is the string `"{}"`, `annotation` prints its default with
//! `fmt.Sprint`), and keeps the taint of what it is given: a pod string
//! stays tainted byte for byte through every function here, so the
//! structure check sees where it lands.

use std::collections::BTreeMap;

use gotemplate::{
    ArgsExt, FuncError, Funcs, JsonStyle, Kind, Str, StrBuf, Value, sprint, to_json, to_yaml,
    write_json,
};

use super::proto;
use crate::template::multus;

/// sprig, then Istio's functions. `env` reads `environment`, the values the
/// engine was given for istiod's environment variables (the engine reads no
/// process environment).
pub fn istio(environment: &BTreeMap<String, String>) -> Funcs {
    let mut funcs = Funcs::with_sprig();
    let environment = environment.clone();
    funcs
        .insert("formatDuration", format_duration)
        .insert("isset", isset)
        .insert("excludeInboundPort", exclude_inbound_port)
        .insert("includeInboundPorts", |args| container_ports(args, false))
        .insert("applicationPorts", |args| container_ports(args, true))
        .insert("kubevirtInterfaces", identity)
        .insert("excludeInterfaces", identity)
        .insert("annotation", annotation)
        .insert("valueOrDefault", value_or_default)
        .insert("toJSON", to_json_map)
        .insert("fromJSON", from_json)
        .insert("structToJSON", struct_to_json)
        .insert("protoToJSON", proto_to_json)
        .insert("toYaml", |args| {
            args.exact(1)?;
            Ok(Value::Str(to_yaml(&args[0])))
        })
        .insert("indent", indent)
        .insert("directory", directory)
        .insert("contains", |args| {
            args.exact(2)?;
            let (needle, haystack) = (args.string(0)?, args.string(1)?);
            Ok(Value::Bool(haystack.as_str().contains(needle.as_str())))
        })
        .insert("toLower", |args| {
            args.exact(1)?;
            let s = args.string(0)?;
            Ok(Value::Str(
                s.map_runs(|run, out| out.push_str(&run.to_lowercase())),
            ))
        })
        .insert("appendMultusNetwork", append_multus_network)
        .insert("env", move |args| {
            args.exact(2)?;
            let key = args.string(0)?;
            match environment.get(key.as_str()).filter(|v| !v.is_empty()) {
                Some(value) => Ok(Value::string(value.as_str())),
                None => Ok(Value::Str(args.string(1)?)),
            }
        })
        .insert("omit", omit)
        .insert("strdict", strdict)
        .insert("toJsonMap", |args| {
            let merged = merge_maps(args)?;
            Ok(Value::Str(to_json(&merged, JsonStyle::default())))
        })
        .insert("mergeMaps", merge_maps)
        .insert("omitNil", |args| {
            args.exact(1)?;
            Ok(omit_nil(&args[0]).unwrap_or(Value::Nil))
        })
        .insert("otelResourceAttributes", otel_resource_attributes);
    funcs
}

fn identity<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    Ok(Value::Str(args.string(0)?))
}

/// `fmt.Sprint(args...)`, taint kept.
fn sprinted<'a>(args: &[Value<'a>]) -> Str<'a> {
    let mut out = StrBuf::new();
    sprint(&mut out, args);
    out.finish()
}

/// `formatDuration d`: a protobuf Duration (JSON `"23s"`) as Go's
/// `time.Duration.String()` writes it (`23s`, `1m30s`, `1.5s`).
fn format_duration<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    let text = args.string(0)?;
    let nanos = proto::duration_nanos(text.as_str())
        .ok_or_else(|| FuncError::new(format!("{:?} is not a duration", text.as_str())))?;
    Ok(Value::string(proto::go_duration(nanos)))
}

/// `isset MAP KEY`: whether the map has the key (even with an empty value).
fn isset<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    let key = args.string(1)?;
    Ok(Value::Bool(args[0].map_has(key.as_str()).unwrap_or(false)))
}

/// `annotation META NAME DEFAULT`: the annotation if set, else the default
/// as `fmt.Sprint` prints it.
fn annotation<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(3)?;
    let annotations = args[0].field("Annotations").map_err(FuncError::new)?;
    let name = args.string(1)?;
    if annotations.map_has(name.as_str()) == Some(true)
        && let Some(value) = annotations.map_get(name.as_str())
    {
        return Ok(value);
    }
    Ok(Value::Str(sprinted(&args[2..])))
}

/// `valueOrDefault VALUE DEFAULT`: the default when the value is nil or "".
fn value_or_default<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    let empty = match &args[0] {
        Value::Missing | Value::Nil | Value::Zero => true,
        Value::Str(s) => s.as_str().is_empty(),
        other => other.is_nil(),
    };
    Ok(args[if empty { 1 } else { 0 }].clone())
}

/// `excludeInboundPort PORT EXCLUDED`: EXCLUDED with PORT appended unless
/// it is there already (or is empty or 0).
fn exclude_inbound_port<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    let port = sprinted(&args[..1]);
    let port_text = port.as_str().trim();
    let excluded = args.string(1)?;
    if port_text.is_empty() || port_text == "0" {
        return Ok(Value::Str(excluded));
    }
    let mut out = StrBuf::new();
    let mut offset = 0;
    for part in excluded.as_str().split(',') {
        let range = offset..offset + part.len();
        offset = range.end + 1;
        if part == port_text {
            return Ok(Value::Str(excluded));
        }
        let trimmed = part.trim();
        if trimmed.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_char(',');
        }
        let start = range.start + (part.len() - part.trim_start().len());
        out.push(&excluded.slice(start..start + trimmed.len()));
    }
    if !out.is_empty() {
        out.push_char(',');
    }
    let start = port.as_str().len() - port.as_str().trim_start().len();
    out.push(&port.slice(start..start + port_text.len()));
    Ok(Value::Str(out.finish()))
}

/// `includeInboundPorts CONTAINERS` (and `applicationPorts`, which leaves
/// out the proxy): the containers' TCP ports, comma-separated.
fn container_ports<'a>(args: &[Value<'a>], skip_proxy: bool) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    let mut out = StrBuf::new();
    for container in args[0].list_items().into_iter().flatten() {
        let name = container.field("Name").map_err(FuncError::new)?;
        if skip_proxy && name.as_str().is_some_and(|n| n.as_str() == "istio-proxy") {
            continue;
        }
        let ports = container.field("Ports").map_err(FuncError::new)?;
        for port in ports.list_items().into_iter().flatten() {
            let protocol = port.field("Protocol").map_err(FuncError::new)?;
            if protocol
                .as_str()
                .is_some_and(|p| matches!(p.as_str(), "UDP" | "SCTP"))
            {
                continue;
            }
            if !out.is_empty() {
                out.push_char(',');
            }
            let number = port.field("ContainerPort").map_err(FuncError::new)?;
            out.push(&sprinted(std::slice::from_ref(&number)));
        }
    }
    Ok(Value::Str(out.finish()))
}

/// `toJSON MAP`: a `map[string]string` as JSON; nil is `{}`.
fn to_json_map<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    if args[0].is_nil() || matches!(args[0], Value::Missing | Value::Zero) {
        return Ok(Value::str("{}"));
    }
    Ok(Value::Str(to_json(&args[0], JsonStyle::default())))
}

/// `fromJSON TEXT`: the parsed value, or (Go's quirk) the string `{}` when
/// the text is not JSON. What the text held stays tainted.
fn from_json<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    let text = args.string(0)?;
    match serde_json::from_str::<serde_json::Value>(text.as_str()) {
        Ok(json) => Ok(Value::from_owned_json(json, text.first_origin())),
        Err(_) => Ok(Value::str("{}")),
    }
}

/// `structToJSON V`: `encoding/json` of a Go struct, fields in the struct's
/// declaration order, empty ones left out; nil is `{}`.
fn struct_to_json<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    let value = &args[0];
    if value.is_nil() || matches!(value, Value::Missing) {
        return Ok(Value::str("{}"));
    }
    let Value::Json(json) = value else {
        return Ok(Value::Str(to_json(value, JsonStyle::default())));
    };
    let Kind::Struct(def) = json.kind() else {
        return Ok(Value::Str(to_json(value, JsonStyle::default())));
    };
    let mut out = StrBuf::new();
    out.push_char('{');
    let mut first = true;
    for field in def.fields.iter().filter(|f| !f.name.starts_with("Get")) {
        let v = value.field(field.name).map_err(FuncError::new)?;
        if is_empty_value(&v) {
            continue;
        }
        if !first {
            out.push_char(',');
        }
        first = false;
        write_json(&mut out, &Value::str(field.key), JsonStyle::default());
        out.push_char(':');
        write_json(&mut out, &v, JsonStyle::default());
    }
    out.push_char('}');
    Ok(Value::Str(out.finish()))
}

/// Go's `omitempty`: false, 0, "", and empty or nil lists and maps.
fn is_empty_value(v: &Value<'_>) -> bool {
    match v {
        Value::Missing | Value::Nil | Value::Zero => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::Str(s) => s.as_str().is_empty(),
        other => other.length().is_ok_and(|n| n == 0),
    }
}

/// `protoToJSON PROXYCONFIG`: the proxy config without the fields equal to
/// Istio's defaults, as protobuf JSON in the message's field order.
fn proto_to_json<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    Ok(Value::Str(proto::proxy_config_json(&args[0])))
}

/// Istio's `indent N TEXT`: every line but the first gets N spaces.
fn indent<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    let pad = " ".repeat(usize::try_from(args.int(0)?).unwrap_or(0));
    let source = args.string(1)?;
    let mut out = StrBuf::new();
    let mut start = 0;
    for (i, _) in source.as_str().match_indices('\n') {
        out.push(&source.slice(start..i + 1));
        out.push_str(&pad);
        start = i + 1;
    }
    out.push(&source.slice(start..source.as_str().len()));
    Ok(Value::Str(out.finish()))
}

/// `directory PATH`: everything up to and including the last `/`.
fn directory<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    let path = args.string(0)?;
    let end = path.as_str().rfind('/').map_or(0, |i| i + 1);
    Ok(Value::Str(path.slice(0..end)))
}

/// `appendMultusNetwork EXISTING NETWORK`: the pod's
/// `k8s.v1.cni.cncf.io/networks` value with the Istio CNI network added
/// ([`multus::edit`]), the pod's text keeping its taint around the addition.
fn append_multus_network<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(2)?;
    let existing = match &args[0] {
        Value::Missing | Value::Nil | Value::Zero => Str::borrowed(""),
        _ => args.string(0)?,
    };
    let network = args.string(1)?;
    let end = existing.as_str().len();
    let mut out = StrBuf::new();
    match multus::edit(existing.as_str(), network.as_str()) {
        multus::Edit::Network => return Ok(Value::Str(network)),
        multus::Edit::Keep => return Ok(Value::Str(existing)),
        multus::Edit::InsertJson { at, entry } => {
            out.push(&existing.slice(0..at));
            out.push_str(&entry);
            out.push(&existing.slice(at..end));
        }
        multus::Edit::AppendItem => {
            out.push(&existing);
            out.push_str(", ");
            out.push(&network);
        }
    }
    Ok(Value::Str(out.finish()))
}

/// `omit MAP KEY...`: a copy of the map without the keys.
fn omit<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.at_least(1)?;
    let drop: Vec<Str<'a>> = (1..args.len())
        .map(|i| args.string(i))
        .collect::<Result<_, _>>()?;
    let kept = args[0]
        .map_entries()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !drop.iter().any(|d| d.as_str() == k.as_str()));
    Ok(Value::map(kept.collect()))
}

/// `strdict K V K V...`: a `map[string]string`; a last key without a value
/// maps to "".
fn strdict<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    let mut map = BTreeMap::new();
    for i in (0..args.len()).step_by(2) {
        let key = args.string(i)?;
        let value = if i + 1 < args.len() {
            Value::Str(args.string(i + 1)?)
        } else {
            Value::str("")
        };
        map.insert(key, value);
    }
    Ok(Value::map(map))
}

/// `mergeMaps MAP...`: later maps win; no maps at all is nil.
fn merge_maps<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    if args.is_empty() {
        return Ok(Value::Nil);
    }
    let mut merged = BTreeMap::new();
    for map in args {
        merged.extend(map.map_entries().unwrap_or_default());
    }
    Ok(Value::map(merged))
}

/// `omitNil V`: V without nil map entries and list items, recursively; a
/// map or list left empty that way is nil itself. `None` stands for nil.
fn omit_nil<'a>(v: &Value<'a>) -> Option<Value<'a>> {
    if v.is_nil() || matches!(v, Value::Missing) {
        return None;
    }
    if v.is_map() {
        let entries = v.map_entries().unwrap_or_default();
        if !entries.iter().any(|(_, e)| has_nil(e)) {
            return Some(v.clone());
        }
        let kept: BTreeMap<_, _> = entries
            .into_iter()
            .filter_map(|(k, e)| omit_nil(&e).map(|e| (k, e)))
            .collect();
        return (!kept.is_empty()).then(|| Value::map(kept));
    }
    if let Some(items) = v.list_items() {
        let items: Vec<Value<'a>> = items.collect();
        if !items.iter().any(has_nil) {
            return Some(v.clone());
        }
        let kept: Vec<Value<'a>> = items.iter().filter_map(omit_nil).collect();
        return (!kept.is_empty()).then(|| Value::list(kept));
    }
    Some(v.clone())
}

/// Whether `omitNil` would change `v`.
fn has_nil(v: &Value<'_>) -> bool {
    if v.is_nil() || matches!(v, Value::Missing) {
        return true;
    }
    if v.is_map() {
        return v
            .map_entries()
            .unwrap_or_default()
            .iter()
            .any(|(_, e)| has_nil(e));
    }
    match v.list_items() {
        Some(items) => items.collect::<Vec<_>>().iter().any(has_nil),
        None => false,
    }
}

/// `otelResourceAttributes MESH ANNOTATIONS LABELS NAMESPACE CONTAINERS`:
/// `OTEL_RESOURCE_ATTRIBUTES` per OpenTelemetry's Kubernetes service
/// attributes, when a tracing provider asks for OTel semantic conventions;
/// "" otherwise.
fn otel_resource_attributes<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(5)?;
    let providers = args[0]
        .field("ExtensionProviders")
        .map_err(FuncError::new)?;
    let wanted = providers.list_items().into_iter().flatten().any(|p| {
        p.field("Opentelemetry")
            .and_then(|o| o.field("ServiceAttributeEnrichment"))
            .is_ok_and(|e| {
                e.as_str()
                    .is_some_and(|e| e.as_str() == "OTEL_SEMANTIC_CONVENTIONS")
            })
    });
    if !wanted {
        return Ok(Value::str(""));
    }
    let (annotations, labels, namespace, containers) = (&args[1], &args[2], &args[3], &args[4]);
    let text_of = |map: &Value<'a>, key: &str| -> Option<Str<'a>> {
        map.map_get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.as_str().is_empty())
    };
    let mut attrs: Vec<StrBuf> = Vec::new();
    let attr = |key: &str, value: &Str<'a>| {
        let mut buf = StrBuf::new();
        buf.push_str(key);
        buf.push_char('=');
        buf.push(value);
        buf
    };
    let namespace = namespace.as_str().unwrap_or(Str::borrowed(""));
    if let Some(ns) = text_of(annotations, "resource.opentelemetry.io/service.namespace") {
        attrs.push(attr("service.namespace", &ns));
    } else if !namespace.as_str().is_empty() {
        attrs.push(attr("service.namespace", &namespace));
    }
    let items: Vec<Value<'a>> = containers.list_items().into_iter().flatten().collect();
    if let Some(v) = text_of(annotations, "resource.opentelemetry.io/service.version")
        .or_else(|| text_of(labels, "app.kubernetes.io/version"))
    {
        attrs.push(attr("service.version", &v));
    } else if let [only] = items.as_slice() {
        let image = only.field("Image").map_err(FuncError::new)?;
        let image = image.as_str().unwrap_or(Str::borrowed(""));
        if let Some(version) = image_version(image.as_str()) {
            attrs.push(attr("service.version", &Str::owned(version)));
        }
    }
    if let Some(id) = text_of(annotations, "resource.opentelemetry.io/service.instance.id") {
        attrs.push(attr("service.instance.id", &id));
    } else if let Some(first) = items.first() {
        let name = first.field("Name").map_err(FuncError::new)?;
        let mut id = StrBuf::new();
        id.push(&namespace);
        id.push_str(".$(POD_NAME).");
        id.push(&name.as_str().unwrap_or(Str::borrowed("")));
        attrs.push(attr("service.instance.id", &id.finish()));
    }
    let mut out = StrBuf::new();
    for (i, a) in attrs.into_iter().enumerate() {
        if i > 0 {
            out.push_char(',');
        }
        out.push(&a.finish());
    }
    Ok(Value::Str(out.finish()))
}

/// The version an image reference carries: `tag@digest`, the digest, or
/// the tag.
fn image_version(image: &str) -> Option<String> {
    let (image, digest) = match image.split_once('@') {
        Some((image, digest)) => (image, digest),
        None => (image, ""),
    };
    let tag = match (image.rfind(':'), image.rfind('/')) {
        (Some(colon), Some(slash)) if colon > slash => &image[colon + 1..],
        (Some(colon), None) => &image[colon + 1..],
        _ => "",
    };
    match (tag.is_empty(), digest.is_empty()) {
        (false, false) => Some(format!("{tag}@{digest}")),
        (true, false) => Some(digest.to_string()),
        (false, true) => Some(tag.to_string()),
        (true, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, source: &str, data: serde_json::Value) -> String {
        let funcs = istio(&BTreeMap::new());
        let template = gotemplate::Template::parse(name, source, &funcs).unwrap();
        let value = Value::json(&data, Kind::Any);
        template.execute(&value).unwrap().text
    }

    #[test]
    fn annotation_and_defaults() {
        let data = serde_json::json!({"m": {"annotations": {"a": "x", "e": ""}}, "n": 15020});
        let meta = r#"{{ annotation (dict "Annotations" .m.annotations) "#;
        assert_eq!(call("t", &format!("{meta}\"a\" 1 }}}}"), data.clone()), "x");
        assert_eq!(call("t", &format!("{meta}\"e\" 1 }}}}"), data.clone()), "");
        assert_eq!(
            call("t", &format!("{meta}\"z\" .n }}}}"), data.clone()),
            "15020"
        );
        assert_eq!(
            call(
                "t",
                r#"{{ valueOrDefault "" "d" }}{{ valueOrDefault .nope "e" }}"#,
                data
            ),
            "de"
        );
    }

    #[test]
    fn ports_and_networks() {
        let data = serde_json::json!({});
        assert_eq!(
            call(
                "t",
                r#"{{ excludeInboundPort 15020 "1, 2" }}"#,
                data.clone()
            ),
            "1,2,15020"
        );
        assert_eq!(
            call("t", r#"{{ excludeInboundPort "2" "1,2" }}"#, data.clone()),
            "1,2"
        );
        assert_eq!(
            call("t", r#"{{ excludeInboundPort 0 "" }}"#, data.clone()),
            ""
        );
        assert_eq!(
            call(
                "t",
                r#"{{ appendMultusNetwork "a, b" "default/istio-cni" }}"#,
                data.clone()
            ),
            "a, b, default/istio-cni"
        );
        assert_eq!(
            call(
                "t",
                r#"{{ appendMultusNetwork `[{"name": "a"}]` "default/istio-cni" }}"#,
                data.clone()
            ),
            r#"[{"name": "a"}, {"name": "istio-cni", "namespace": "default"}]"#
        );
        assert_eq!(
            call(
                "t",
                r#"{{ appendMultusNetwork `[{"name":"istio-cni","namespace":"default"}]` "default/istio-cni" }}"#,
                data.clone()
            ),
            r#"[{"name":"istio-cni","namespace":"default"}]"#
        );
        assert_eq!(call("t", r#"{{ appendMultusNetwork "" "x" }}"#, data), "x");
    }

    #[test]
    fn json_and_maps() {
        let data = serde_json::json!({"m": {"b": "<2>", "a": "1"}, "v": {"x": null, "y": {"z": null}, "w": 1}});
        assert_eq!(
            call("t", "{{ toJSON .m }}", data.clone()),
            r#"{"a":"1","b":"\u003c2\u003e"}"#
        );
        assert_eq!(call("t", "{{ toJSON .nope }}", data.clone()), "{}");
        assert_eq!(
            call("t", r#"{{ (fromJSON "not json") }}"#, data.clone()),
            "{}"
        );
        assert_eq!(
            call("t", r#"{{ (fromJSON `{"k": [1]}`).k }}"#, data.clone()),
            "[1]"
        );
        assert_eq!(
            call(
                "t",
                r#"{{ toJsonMap (strdict "a" "1") (strdict "a" "2" "b") }}"#,
                data.clone()
            ),
            r#"{"a":"2","b":""}"#
        );
        assert_eq!(
            call("t", r#"{{ omit .m "a" | toJSON }}"#, data.clone()),
            r#"{"b":"\u003c2\u003e"}"#
        );
        assert_eq!(call("t", "{{ omitNil .v | toJSON }}", data), r#"{"w":1}"#);
    }

    #[test]
    fn text_helpers() {
        let data = serde_json::json!({});
        assert_eq!(
            call("t", "{{ indent 2 \"a\\nb\\nc\" }}", data.clone()),
            "a\n  b\n  c"
        );
        assert_eq!(
            call("t", r#"{{ directory "/etc/certs/ca.pem" }}"#, data.clone()),
            "/etc/certs/"
        );
        assert_eq!(
            call(
                "t",
                r#"{{ contains "/" "a/b" }} {{ toLower "AbC" }}"#,
                data.clone()
            ),
            "true abc"
        );
        assert_eq!(
            call(
                "t",
                r#"{{ formatDuration "90s" }} {{ formatDuration "1.5s" }}"#,
                data
            ),
            "1m30s 1.5s"
        );
        assert_eq!(
            image_version("reg:5000/app:1.2@sha256:ab").as_deref(),
            Some("1.2@sha256:ab")
        );
        assert_eq!(image_version("app").as_deref(), None);
    }
}
