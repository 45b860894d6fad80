//! Istio's probe rewrite (`applyRewrite`, app_probe.go): the app
//! containers' HTTP, TCP and gRPC probes and lifecycle hooks are pointed at
//! the agent's status port, and what they probed goes to the proxy in
//! `ISTIO_KUBE_APP_PROBERS`, as Go's JSON writes it.

use serde_json::{Map, Value, json};

use super::gotypes::{self, Field, Kind};
use super::{Context, PROXY, annotations, list, list_mut, parse_bool, sidecar_mut};
use crate::pod::name_of;

const ENV: &str = "ISTIO_KUBE_APP_PROBERS";
const REWRITE: &str = "sidecar.istio.io/rewriteAppHTTPProbers";

/// Istio's `Prober`.
static PROBER: &[Field] = &[
    ("httpGet", Kind::PtrStruct(gotypes::HTTP_GET)),
    ("tcpSocket", Kind::PtrStruct(gotypes::TCP_SOCKET)),
    ("grpc", Kind::PtrStruct(gotypes::GRPC)),
    ("timeoutSeconds", Kind::Int),
];

/// `KubeAppProbers`: probers by agent path.
static PROBERS: Kind = Kind::Map(&Kind::Struct(PROBER));

/// The agent paths of one container's probes and hooks.
fn urls(container: &str) -> [(&'static str, String); 5] {
    [
        ("readinessProbe", format!("/app-health/{container}/readyz")),
        ("livenessProbe", format!("/app-health/{container}/livez")),
        ("startupProbe", format!("/app-health/{container}/startupz")),
        ("preStop", format!("/app-lifecycle/{container}/prestopz")),
        (
            "postStart",
            format!("/app-lifecycle/{container}/poststartz"),
        ),
    ]
}

/// `applyRewrite`.
pub fn rewrite(pod: &mut Value, ctx: &Context<'_>) {
    if sidecar_mut(pod).is_none() {
        return;
    }
    let by_values = ctx
        .values
        .pointer("/sidecarInjectorWebhook/rewriteAppHTTPProbe")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let enabled = annotations::get(&pod["metadata"], REWRITE)
        .and_then(parse_bool)
        .unwrap_or(by_values);
    if !enabled {
        return;
    }
    let target = ctx.status_port();
    let probers = app_probers(pod, target);
    if !probers.is_empty() {
        let mut text = String::new();
        gotypes::write_json(&Value::Object(probers), PROBERS, &mut text);
        let previously = annotations::get(&pod["metadata"], annotations::STATUS).is_some();
        if let Some(sidecar) = sidecar_mut(pod) {
            add_probers(sidecar, text, previously);
        }
    }
    let port = match annotations::get(&pod["metadata"], annotations::STATUS_PORT) {
        Some(p) => p.parse().unwrap_or(0),
        None => target,
    };
    for field in ["containers", "initContainers"] {
        for container in list_mut(pod, field).into_iter().flatten() {
            if name_of(container) != Some(PROXY) {
                convert(container, port);
            }
        }
    }
}

/// `mergeOrAppendProbers`: appended, or merged into the proxy's existing
/// list on a re-injection.
fn add_probers(sidecar: &mut Map<String, Value>, text: String, previously: bool) {
    let env = sidecar.entry("env").or_insert_with(|| json!([]));
    let Some(env) = env.as_array_mut() else {
        return;
    };
    if previously && let Some(existing) = env.iter_mut().find(|e| e["name"] == ENV) {
        let old: Option<Map<String, Value>> = existing["value"]
            .as_str()
            .and_then(|v| serde_json::from_str(v).ok());
        let new: Option<Map<String, Value>> = serde_json::from_str(&text).ok();
        if let (Some(old), Some(mut new)) = (old, new) {
            new.extend(old);
            let mut merged = String::new();
            gotypes::write_json(&Value::Object(new), PROBERS, &mut merged);
            *existing = json!({"name": ENV, "value": merged});
        }
        return;
    }
    env.push(json!({"name": ENV, "value": text}));
}

/// `DumpAppProbers`: each app probe and hook the agent must run, by agent
/// path; named ports resolved, probes already at `target` left out.
fn app_probers(pod: &Value, target: i64) -> Map<String, Value> {
    let mut out = Map::new();
    for container in list(pod, "initContainers")
        .iter()
        .chain(list(pod, "containers"))
    {
        let Some(name) = name_of(container) else {
            continue;
        };
        if name == PROXY {
            continue;
        }
        let ports: Vec<(&str, &Value)> = container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p["name"].as_str().filter(|n| !n.is_empty())?,
                    &p["containerPort"],
                ))
            })
            .collect();
        for (field, url) in urls(name) {
            let (source, hook) = match field {
                "preStop" | "postStart" => (&container["lifecycle"][field], true),
                _ => (&container[field], false),
            };
            if let Some(prober) = prober(source, hook, &ports, target) {
                out.insert(url, prober);
            }
        }
    }
    out
}

fn prober(probe: &Value, hook: bool, ports: &[(&str, &Value)], target: i64) -> Option<Value> {
    let timeout = if hook {
        Value::Null
    } else {
        probe["timeoutSeconds"].clone()
    };
    let (kind, action) = ["httpGet", "tcpSocket", "grpc"]
        .into_iter()
        .filter(|k| !(hook && *k == "grpc"))
        .find_map(|k| {
            probe
                .get(k)
                .filter(|a| a.is_object())
                .map(|a| (k, a.clone()))
        })?;
    let mut action = action;
    if kind != "grpc" {
        match &action["port"] {
            Value::String(named) => {
                let (_, port) = ports.iter().find(|(n, _)| n == named)?;
                action["port"] = (*port).clone();
            }
            port if port.as_i64() == Some(target) => return None,
            _ => {}
        }
    }
    let mut prober = Map::new();
    prober.insert(kind.to_string(), action);
    if timeout.as_i64().is_some_and(|t| t != 0) {
        prober.insert("timeoutSeconds".into(), timeout);
    }
    Some(Value::Object(prober))
}

/// `convertProbe`: probes and hooks become HTTP GETs on the agent.
fn convert(container: &mut Value, port: i64) {
    let Some(name) = name_of(container).map(str::to_string) else {
        return;
    };
    for (field, url) in urls(&name) {
        let hook = matches!(field, "preStop" | "postStart");
        let probe = if hook {
            container
                .get_mut("lifecycle")
                .and_then(|l| l.get_mut(field))
        } else {
            container.get_mut(field)
        };
        let Some(Value::Object(probe)) = probe else {
            continue;
        };
        let mut get = match probe.get("httpGet") {
            Some(Value::Object(get)) => get.clone(),
            _ if probe.get("tcpSocket").is_some_and(Value::is_object) => Map::new(),
            _ if !hook && probe.get("grpc").is_some_and(Value::is_object) => Map::new(),
            _ => continue,
        };
        probe.remove("tcpSocket");
        if !hook {
            probe.remove("grpc");
        }
        get.insert("port".into(), json!(port));
        get.insert("path".into(), json!(url));
        if get.get("scheme").and_then(Value::as_str) == Some("HTTPS") {
            get.insert("scheme".into(), json!("HTTP"));
        }
        probe.insert("httpGet".into(), Value::Object(get));
    }
}
