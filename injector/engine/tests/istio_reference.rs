//! Istio's own injection test data (`../shared/istio-testdata/inject`) as
//! the reference for what an injected pod must look like.
//!
//! For every input Istio injects, our pod must have the same init containers
//! and containers in the same order, the same traffic-capture arguments and
//! the same volume names. Every other field is compared too, after removing
//! formatting noise (Go's empty structs, JSON spacing, quantity spelling);
//! each remaining difference must match an entry of [`EXPLAINED`], which
//! says why we differ, or the test fails. The table of differences is
//! printed, so `cargo test -- --nocapture` shows it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use injector_engine::RawConfig;
use injector_engine::config::ClusterFacts;
use injector_engine::engine::Engine;
use injector_engine::manifest::kube_inject::kube_inject;
use serde_json::{Map, Value, json};
use support::{item_key, names, overlay, pods, status_on_istio_fields};

/// Differences we accept, by path pattern, with the reason.
const EXPLAINED: &[(&str, &str)] = &[
    (
        "annotations.proxy.istio.io/overrides",
        "we record the user's own container fields where they declared them; Istio records them after its own defaulting",
    ),
    (
        "volumes[workload-socket].emptyDir|volumes[credential-socket].emptyDir|volumes[workload-certs].emptyDir",
        "Istio's golden files drop an empty `emptyDir: {}`; a volume needs a source, so we keep it",
    ),
    (
        "initContainers[istio-init].image|initContainers[istio-validation].image",
        "the traffic-capture init container runs our `capture` (the entry point of our image, `global.capture.image`) \
         with istio-iptables' arguments, where Istio runs istio-iptables from its proxy image",
    ),
];

/// Compared after moving Istio's CronJob metadata onto the pod template.
const CRONJOB_METADATA: &str = "Istio puts a CronJob pod's added labels and annotations on jobTemplate.metadata, \
     where they never reach the pods; we put them on the pod template";

/// Compared after moving Istio's proxy back into `containers` where it left
/// the pod none.
const PROXY_ONLY_POD: &str = "when the user's istio-proxy is a pod's only container, Istio makes it a native sidecar \
     and leaves `containers: []`, which the API server rejects; we keep it a regular container \
     (no restartPolicy, no drain hook)";

/// Istio's pod as it would be with its proxy kept a regular container when
/// it moved the pod's only container to `initContainers`; whether it did.
fn proxy_back_into_containers(pod: &mut Value) -> bool {
    let spec = &mut pod["spec"];
    if !spec["containers"].as_array().is_some_and(Vec::is_empty) {
        return false;
    }
    let inits = spec["initContainers"].as_array_mut().unwrap();
    let Some(at) = inits.iter().position(|c| c["name"] == "istio-proxy") else {
        return false;
    };
    let mut proxy = inits.remove(at);
    proxy.as_object_mut().unwrap().remove("restartPolicy");
    proxy.as_object_mut().unwrap().remove("lifecycle");
    spec["containers"] = json!([proxy]);
    let status = pod
        .pointer_mut("/metadata/annotations/sidecar.istio.io~1status")
        .unwrap();
    let mut parsed: Value = serde_json::from_str(status.as_str().unwrap()).unwrap();
    parsed["initContainers"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n != "istio-proxy");
    parsed["containers"] = json!(["istio-proxy"]);
    *status = json!(parsed.to_string());
    true
}

/// Per-case settings, as Istio's injection test sets them.
fn case_values(output: &str) -> Value {
    match output {
        "hello.yaml.cni.injected" => {
            json!({"pilot": {"cni": {"enabled": true}}, "global": {"network": "network1"}})
        }
        "hello.yaml.proxyImageName.injected" => {
            json!({"global": {"proxy": {"image": "proxyTest"}}})
        }
        "hello.yaml.proxyInitImageName.injected" => {
            json!({"global": {"proxy_init": {"image": "proxyInitTest"}}})
        }
        "kubevirtInterfaces.yaml.injected" => json!({"global": {"proxy": {
            "statusPort": 123, "readinessInitialDelaySeconds": 100,
            "readinessPeriodSeconds": 200, "readinessFailureThreshold": 300}}}),
        _ => json!({}),
    }
}

fn case_mesh(output: &str) -> Value {
    match output {
        "traffic-annotations.yaml.injected" => json!({"defaultConfig": {"proxyMetadata": {
            "ISTIO_META_TLS_CLIENT_KEY": "/etc/identity/client/keys/client-key.pem"}}}),
        _ => json!({}),
    }
}

fn testdata() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/istio-testdata/inject");
    assert!(
        dir.is_dir(),
        "Istio's test data is expected at {}",
        dir.display()
    );
    dir
}

/// The default configuration with Istio's test hub and tag, plus the case's
/// own settings, for a cluster running native sidecars as Istio's golden
/// files were made for.
fn engine_for(output: &str) -> Engine {
    let mut config = RawConfig::embedded()
        .with_cluster(ClusterFacts {
            native_sidecars: true,
        })
        .parse()
        .unwrap();
    overlay(
        &mut config.values,
        &json!({"global": {"hub": "registry.istio.io/testing", "tag": "latest"}}),
    );
    overlay(&mut config.values, &case_values(output));
    let mut mesh = serde_json::to_value(&config.mesh).unwrap();
    overlay(&mut mesh, &case_mesh(output));
    config.mesh = serde_json::from_value(mesh).unwrap();
    Engine::compile(config, 0).unwrap()
}

fn capture_args(pod: &Value) -> Option<Value> {
    pod["spec"]["initContainers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == "istio-init" || c["name"] == "istio-validation")
        .map(|c| c["args"].clone())
}

/// A quantity in its smallest unit, so `4000m` equals `4` and `1024Mi` `1Gi`.
fn quantity(q: &str) -> Option<f64> {
    let units = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|(s, f)| q.strip_suffix(s).map(|n| (n, *f)))
        .unwrap_or((q, 1.0));
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// Removes what only formatting or Go's zero values make differ.
fn normalize(v: &mut Value, key: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                normalize(child, k);
            }
            // Go's `omitempty`: null, "" and {} fields are not written (but
            // `emptyDir: {}` is a volume source, and stays).
            map.retain(|k, c| {
                let empty_map = c.as_object().is_some_and(Map::is_empty) && k != "emptyDir";
                !(c.is_null() || c.as_str() == Some("") || empty_map)
            });
        }
        Value::Array(items) => items.iter_mut().for_each(|i| normalize(i, key)),
        Value::String(s) => {
            let parent_is_quantity = matches!(key, "cpu" | "memory");
            if parent_is_quantity && let Some(q) = quantity(s) {
                *v = json!(q);
            } else if let Ok(parsed @ (Value::Object(_) | Value::Array(_))) =
                serde_json::from_str::<Value>(s)
            {
                // JSON held in a string (env values, annotations): compare
                // the data, not the spacing or key order.
                *v = parsed;
                normalize(v, key);
            }
        }
        _ => {}
    }
}

/// Paths where `ours` and `theirs` differ; lists of named items are compared
/// by name.
fn diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&child, x, y, out),
                    _ => out.push(child),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.iter().chain(b).all(|i| item_key(i).is_some()) => {
            let by_key = |items: &Vec<Value>| -> BTreeMap<String, Value> {
                items
                    .iter()
                    .map(|i| (item_key(i).unwrap_or_default(), i.clone()))
                    .collect()
            };
            let (a, b) = (by_key(a), by_key(b));
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let child = format!("{path}[{k}]");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&child, x, y, out),
                    _ => out.push(child),
                }
            }
        }
        (a, b) if a != b => out.push(path.to_string()),
        _ => {}
    }
}

fn explained(path: &str) -> Option<&'static str> {
    EXPLAINED
        .iter()
        .find(|(patterns, _)| {
            patterns
                .split('|')
                .any(|p| path.ends_with(p) || path.contains(&format!("{p}.")))
        })
        .map(|(_, reason)| *reason)
}

#[test]
fn matches_istio_layout_for_every_reference_case() {
    let dir = testdata();
    let mut outputs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".injected"))
        .collect();
    outputs.sort();
    assert!(
        outputs.len() >= 30,
        "expected Istio's full test set, found {}",
        outputs.len()
    );

    let mut failures = Vec::new();
    // reason -> cases where it applies
    let mut table: BTreeMap<&str, std::collections::BTreeSet<String>> = BTreeMap::new();
    for output in &outputs {
        let input = format!("{}.yaml", output.split(".yaml").next().unwrap());
        let input_text = std::fs::read_to_string(dir.join(&input)).unwrap();
        let expected_text = std::fs::read_to_string(dir.join(output)).unwrap();
        let engine = engine_for(output);
        let ours = kube_inject(&engine, &input_text).unwrap_or_else(|e| panic!("{output}: {e}"));
        let (ours, theirs) = (pods(&ours.output), pods(&expected_text));
        assert_eq!(ours.len(), theirs.len(), "{output}: pod count");
        for (i, (mut ours, mut theirs)) in ours.into_iter().zip(theirs).enumerate() {
            let case = format!("{output}#{i}");
            if input_text.contains("kind: CronJob") {
                table
                    .entry(CRONJOB_METADATA)
                    .or_default()
                    .insert(output.clone());
            }
            if proxy_back_into_containers(&mut theirs) {
                table
                    .entry(PROXY_ONLY_POD)
                    .or_default()
                    .insert(output.clone());
            }
            let istio_injected = theirs
                .pointer("/metadata/annotations/sidecar.istio.io~1status")
                .is_some();
            let we_injected = ours
                .pointer("/metadata/annotations/sidecar.istio.io~1status")
                .is_some();
            if istio_injected != we_injected {
                failures.push(format!(
                    "{case}: Istio injected={istio_injected}, we injected={we_injected}"
                ));
                continue;
            }
            for list in ["initContainers", "containers", "volumes"] {
                if names(&ours, list) != names(&theirs, list) {
                    failures.push(format!(
                        "{case}: {list} {:?} != Istio's {:?}",
                        names(&ours, list),
                        names(&theirs, list)
                    ));
                }
            }
            if capture_args(&ours) != capture_args(&theirs) {
                failures.push(format!(
                    "{case}: capture args {:?} != Istio's {:?}",
                    capture_args(&ours),
                    capture_args(&theirs)
                ));
            }
            status_on_istio_fields(&mut ours);
            status_on_istio_fields(&mut theirs);
            normalize(&mut ours, "");
            normalize(&mut theirs, "");
            let mut paths = Vec::new();
            diff("", &ours, &theirs, &mut paths);
            for path in paths {
                match explained(&path) {
                    Some(reason) => {
                        table.entry(reason).or_default().insert(output.clone());
                    }
                    None => failures.push(format!(
                        "{case}: unexplained difference at {path}: ours {} / Istio {}",
                        lookup(&ours, &path),
                        lookup(&theirs, &path)
                    )),
                }
            }
        }
    }
    println!("Differences from Istio's reference output, with reasons:");
    for (reason, cases) in &table {
        println!(
            "- {reason}\n  ({} cases: {})",
            cases.len(),
            cases.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The value at a diff path, for failure messages.
fn lookup(root: &Value, path: &str) -> String {
    let mut v = root;
    for part in path.split('.') {
        let (field, key) = match part.split_once('[') {
            Some((f, k)) => (f, Some(k.trim_end_matches(']'))),
            None => (part, None),
        };
        v = &v[field];
        if let Some(k) = key {
            let found = v
                .as_array()
                .and_then(|items| items.iter().find(|i| item_key(i).as_deref() == Some(k)));
            v = found.unwrap_or(&Value::Null);
        }
    }
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..300])
    } else {
        s
    }
}
