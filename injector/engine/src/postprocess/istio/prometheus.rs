//! Istio's Prometheus metrics merge (`applyPrometheusMerge`): the pod's
//! `prometheus.io/*` annotations move into the proxy's
//! `ISTIO_PROMETHEUS_ANNOTATIONS` env and are replaced by the agent's
//! endpoint, which serves the app's metrics merged with Envoy's.
//!
//! Annotation keys are matched as Prometheus sanitizes them
//! (`prometheus.io/port` and `prometheus_io_port` are the same key).

use serde_json::{Map, Value, json};

use super::gotypes::quote;
use super::{Context, IstioError, annotations_mut, parse_bool, sidecar_mut};

const SCRAPE: &str = "prometheus_io_scrape";
const PORT: &str = "prometheus_io_port";
const PATH: &str = "prometheus_io_path";
const TARGETS: &str = "prometheus_istio_io_scrape_targets";
const SECURE_PORT: &str = "prometheus_istio_io_secure_port";
const MERGE_METRICS: &str = "prometheus.istio.io/merge-metrics";
const ENV: &str = "ISTIO_PROMETHEUS_ANNOTATIONS";

/// Ports the proxy owns, which the agent must not be asked to scrape.
const RESERVED: &[(&str, &str)] = &[
    ("15000", "Envoy admin"),
    ("15001", "outbound traffic capture"),
    ("15004", "pilot debug"),
    ("15006", "inbound traffic capture"),
    ("15008", "HBONE tunnel"),
    ("15020", "pilot-agent status / merged Prometheus"),
    ("15021", "Envoy health"),
    ("15053", "DNS proxy"),
    ("15090", "Envoy Prometheus (already merged)"),
];

/// Prometheus' `SanitizeLabelName`: anything but `[a-zA-Z0-9_]` becomes `_`.
fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn annotations(pod: &Value) -> impl Iterator<Item = (&String, &str)> {
    pod["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k, v.as_str()?)))
}

fn find<'a>(pod: &'a Value, sanitized: &str) -> Option<&'a str> {
    annotations(pod)
        .find(|(k, _)| sanitize(k) == sanitized)
        .map(|(_, v)| v)
}

/// The pod's `prometheus.io/port`, if any.
pub fn port(pod: &Value) -> Option<String> {
    find(pod, PORT).map(str::to_string)
}

/// Removes every variant of the scrape annotations.
pub fn clear(annotations: &mut Map<String, Value>) {
    annotations.retain(|k, _| !matches!(sanitize(k).as_str(), SCRAPE | PORT | PATH | TARGETS));
}

fn check_port(port: &str, target: &str, what: &str) -> Result<(), IstioError> {
    let invalid = || {
        IstioError::Prometheus(format!(
            "invalid prometheus {what}: invalid{} port {port:?}",
            if what == "scrape targets" {
                " target"
            } else {
                ""
            }
        ))
    };
    let number: i64 = port.parse().map_err(|_| invalid())?;
    if !(1..=65535).contains(&number) {
        return Err(invalid());
    }
    let canonical = number.to_string();
    if canonical == target {
        return Err(IstioError::Prometheus(format!(
            "invalid prometheus {what}: {}port {port} conflicts with agent port",
            if what == "scrape targets" {
                "target "
            } else {
                ""
            }
        )));
    }
    if let Some((_, reason)) = RESERVED.iter().find(|(p, _)| *p == canonical) {
        return Err(IstioError::Prometheus(format!(
            "invalid prometheus {what}: {}port {port} is reserved for Istio ({reason}) and cannot be scraped",
            if what == "scrape targets" {
                "target "
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// `applyPrometheusMerge`.
pub fn merge(pod: &mut Value, ctx: &Context<'_>) -> Result<(), IstioError> {
    let scrape = find(pod, SCRAPE).and_then(parse_bool).unwrap_or(true);
    let enabled = annotations(pod)
        .find(|(k, _)| *k == MERGE_METRICS)
        .and_then(|(_, v)| parse_bool(v))
        .or_else(|| ctx.mesh["enablePrometheusMerge"].as_bool())
        .unwrap_or(true);
    if !scrape || !enabled {
        return Ok(());
    }
    let target = ctx.status_port().to_string();
    if port(pod).as_deref() == Some(target.as_str()) {
        return Ok(());
    }
    let mut config = [
        ("scrape", find(pod, SCRAPE).unwrap_or("").to_string()),
        ("path", find(pod, PATH).unwrap_or("").to_string()),
        ("port", find(pod, PORT).unwrap_or("").to_string()),
    ];
    let targets = find(pod, TARGETS)
        .and_then(scrape_targets)
        .unwrap_or_default();
    if let Some((port, path)) = targets.first() {
        config[1].1 = path.clone();
        config[2].1 = port.clone();
        for (port, _) in &targets {
            check_port(port, &target, "scrape targets")?;
        }
    } else if !config[2].1.is_empty() {
        check_port(&config[2].1, &target, "scrape configuration")?;
    }
    let empty = config.iter().all(|(_, v)| v.is_empty()) && targets.is_empty();
    if !empty && let Some(sidecar) = sidecar_mut(pod) {
        // Go's field order: scrape, path, port, targets.
        let text = format!(
            "{{\"scrape\":{},\"path\":{},\"port\":{}{}}}",
            quote(&config[0].1),
            quote(&config[1].1),
            quote(&config[2].1),
            if targets.is_empty() {
                String::new()
            } else {
                format!(
                    ",\"targets\":[{}]",
                    targets
                        .iter()
                        .map(|(port, path)| format!(
                            "{{\"port\":{},\"path\":{}}}",
                            quote(port),
                            quote(path)
                        ))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        );
        let env = sidecar.entry("env").or_insert_with(|| json!([]));
        if let Some(env) = env.as_array_mut() {
            env.push(json!({"name": ENV, "value": text}));
        }
    }
    if let Some(annotations) = annotations_mut(pod) {
        clear(annotations);
        annotations.insert("prometheus.io/port".into(), json!(target));
        annotations.insert("prometheus.io/path".into(), json!("/stats/prometheus"));
        annotations.insert("prometheus.io/scrape".into(), json!("true"));
    }
    Ok(())
}

/// `ParseScrapeTargets`: `port:path` pairs, the path `/metrics` by default.
fn scrape_targets(raw: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (port, path) = entry.split_once(':').unwrap_or((entry, ""));
        let port = port.trim();
        if port.is_empty() {
            return None;
        }
        let path = match path.trim() {
            "" => "/metrics",
            p => p,
        };
        out.push((port.to_string(), path.to_string()));
    }
    Some(out)
}

/// `applySecurePrometheusAnnotation`: a proxy serving merged metrics over
/// TLS (`ENVOY_SECURE_MERGED_METRICS_PORT`) is announced, unless the pod
/// already says where.
pub fn secure_port(pod: &mut Value) {
    if find(pod, SECURE_PORT).is_some() {
        return;
    }
    let port = sidecar_mut(pod).and_then(|sidecar| {
        sidecar.get("env")?.as_array()?.iter().find_map(|e| {
            let value = e["value"].as_str()?;
            (e["name"] == "ENVOY_SECURE_MERGED_METRICS_PORT" && !value.is_empty() && value != "0")
                .then(|| value.to_string())
        })
    });
    if let Some(port) = port
        && let Some(annotations) = annotations_mut(pod)
    {
        annotations.insert("prometheus.istio.io/secure-port".into(), json!(port));
    }
}
