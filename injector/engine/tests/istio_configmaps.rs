//! Istio's ConfigMaps in, Istio's pods out: with Istio's own
//! `istio-sidecar-injector` and `istio` ConfigMaps (read at run time from
//! `../shared/istio-configmaps`) and each case's settings from
//! `test-settings.json`, `kube-inject` on every input of Istio's injection
//! tests must give Istio's golden pod:
//! - init containers and containers equal as whole objects, in order;
//! - volumes, labels and annotations equal, `sidecar.istio.io/status`
//!   compared on Istio's fields (ours adds the template hash and the
//!   snapshot version);
//! - expected-error cases fail with that error.
//!
//! The test prints every remaining difference and fails on any not listed
//! in [`ACCEPTED`]. `ISTIO_INJECT_TESTDATA` points it at another copy of
//! Istio's `testdata/inject` (Istio's full set has cases the shared folder
//! lacks), so more cases are checked the same way without copying them in.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use injector_engine::engine::Engine;
use injector_engine::manifest::kube_inject::kube_inject;
use injector_engine::{Config, yaml};
use serde_json::{Map, Value};
use support::{
    istio_config, item_key, names, overlay, pods, set_path, shared, status_on_istio_fields,
};

/// Differences accepted, as `(case substring, path prefix, reason)`.
const ACCEPTED: &[(&str, &str, &str)] = &[];

fn testdata() -> PathBuf {
    std::env::var_os("ISTIO_INJECT_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared().join("istio-testdata/inject"))
}

fn remove_path(root: &mut Value, path: &str) {
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    let mut at = root;
    for part in parent.split('.').filter(|p| !p.is_empty()) {
        at = &mut at[part];
    }
    if let Value::Object(map) = at {
        map.remove(last);
    }
}

/// One case of Istio's `TestInjection` / `TestInjectionOlderVersion`.
struct Case {
    name: String,
    settings: Value,
}

impl Case {
    fn input(&self) -> &str {
        self.settings["in"].as_str().unwrap()
    }

    fn want(&self) -> Option<&str> {
        self.settings["want"].as_str()
    }

    fn expected_error(&self) -> Option<&str> {
        self.settings["expectedError"].as_str()
    }

    /// TestInjection's fake nodes (kubelet 1.33/1.34) turn native sidecars
    /// on; TestInjectionOlderVersion's (1.28) turn them off; a case may
    /// turn them off with ENABLE_NATIVE_SIDECARS=false.
    fn native_sidecars(&self) -> bool {
        let disabled = self.settings["setup"]
            .as_str()
            .is_some_and(|s| s.contains("NativeSidecarModeDisabled"));
        self.settings["test"] == "TestInjection" && !disabled
    }

    /// The configuration with this case's settings applied.
    fn config(&self) -> Config {
        let mut config = istio_config(self.native_sidecars());
        let rendered = &self.settings["rendered"];
        for change in rendered["values_changes"].as_array().into_iter().flatten() {
            let path = change["path"].as_str().unwrap();
            if change["removed"] == true {
                remove_path(&mut config.values, path);
            } else {
                set_path(&mut config.values, path, change["value"].clone());
            }
        }
        if let Some(added) = rendered["templates_added"].as_object() {
            for (name, text) in added {
                config
                    .inject
                    .templates
                    .insert(name.clone(), text.as_str().unwrap().to_string());
            }
        }
        if let Some(setup) = self.settings["setup"].as_str()
            && setup.contains("CompliancePolicy")
        {
            // istiod's environment, as the chart's `pilot.env` gives it.
            set_path(
                &mut config.values,
                "pilot.env.COMPLIANCE_POLICY",
                Value::String("fips-140-3".into()),
            );
        }
        if let Some(fragment) = self.settings["mesh"].as_str() {
            let fragment: Value = yaml::parse(fragment).unwrap();
            let mut mesh = serde_json::to_value(&config.mesh).unwrap();
            overlay(&mut mesh, &fragment);
            config.mesh = serde_json::from_value(mesh).unwrap();
        }
        config
    }
}

fn cases(dir: &Path) -> Vec<Case> {
    let path = shared().join("istio-configmaps/test-settings.json");
    let all: Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.into_iter()
        .map(|(name, settings)| Case { name, settings })
        // Istio checks these through its webhook only (with the cluster's
        // namespace in hand), never through kube-inject.
        .filter(|c| c.settings["skipInjection"] != true)
        .filter(|c| {
            dir.join(c.input()).is_file()
                && (c.expected_error().is_some() || c.want().is_some_and(|w| dir.join(w).is_file()))
        })
        .collect()
}

fn short(v: Option<&Value>) -> String {
    let s = v.map_or("(absent)".to_string(), Value::to_string);
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// Leaf differences between `ours` and `theirs`, with keyed list items
/// named by their key; a list whose keys differ in order differs as a whole.
fn diff(path: &str, ours: Option<&Value>, theirs: Option<&Value>, out: &mut Vec<(String, String)>) {
    match (ours, theirs) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                diff(&format!("{path}.{k}"), a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b)))
            if a.iter().chain(b).all(|i| item_key(i).is_some()) =>
        {
            let keys =
                |items: &Vec<Value>| -> Vec<String> { items.iter().filter_map(item_key).collect() };
            let (ka, kb) = (keys(a), keys(b));
            let unique = |k: &Vec<String>| k.iter().collect::<BTreeSet<_>>().len() == k.len();
            if !unique(&ka) || !unique(&kb) {
                if a != b {
                    out.push((path.to_string(), format!("ours {ka:?} / Istio {kb:?}")));
                }
                return;
            }
            let common: Vec<&String> = ka.iter().filter(|k| kb.contains(k)).collect();
            let common_b: Vec<&String> = kb.iter().filter(|k| ka.contains(k)).collect();
            if common != common_b {
                out.push((
                    format!("{path} (order)"),
                    format!("ours {ka:?} / Istio {kb:?}"),
                ));
            }
            let find = |items: &'_ Vec<Value>, k: &str| -> Option<Value> {
                items
                    .iter()
                    .find(|i| item_key(i).as_deref() == Some(k))
                    .cloned()
            };
            let all: BTreeSet<&String> = ka.iter().chain(&kb).collect();
            for k in all {
                diff(
                    &format!("{path}[{k}]"),
                    find(a, k).as_ref(),
                    find(b, k).as_ref(),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push((
            path.to_string(),
            format!("ours {} / Istio {}", short(a), short(b)),
        )),
        _ => {}
    }
}

/// The parts of a pod compared: whole containers, volumes, labels and
/// annotations.
fn compared(pod: &Value) -> Value {
    let mut out = Map::new();
    for (name, pointer) in [
        ("initContainers", "/spec/initContainers"),
        ("containers", "/spec/containers"),
        ("volumes", "/spec/volumes"),
        ("labels", "/metadata/labels"),
        ("annotations", "/metadata/annotations"),
    ] {
        out.insert(
            name.to_string(),
            pod.pointer(pointer).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

fn accepted(case: &str, path: &str) -> Option<&'static str> {
    ACCEPTED
        .iter()
        .find(|(c, p, _)| case.contains(c) && path.starts_with(p))
        .map(|(_, _, reason)| *reason)
}

/// Runs one case; every difference as `(path, detail)`.
fn run(case: &Case, dir: &Path) -> Vec<(String, String)> {
    let input = std::fs::read_to_string(dir.join(case.input())).unwrap();
    let engine = match Engine::compile(case.config(), 0) {
        Ok(engine) => engine,
        Err(e) => return vec![("(compile)".into(), e.to_string())],
    };
    let result = kube_inject(&engine, &input);
    if let Some(expected) = case.expected_error() {
        return match result {
            Err(e) if e.to_string().to_lowercase().contains(expected) => Vec::new(),
            Err(e) => vec![("(error)".into(), format!("expected {expected:?}, got {e}"))],
            Ok(_) => vec![("(error)".into(), format!("expected {expected:?}, got none"))],
        };
    }
    let ours = match result {
        Ok(report) => report.output,
        Err(e) => return vec![("(error)".into(), e.to_string())],
    };
    let want = std::fs::read_to_string(dir.join(case.want().unwrap())).unwrap();
    let (ours, theirs) = (pods(&ours), pods(&want));
    if ours.len() != theirs.len() {
        return vec![(
            "(pods)".into(),
            format!("ours {} / Istio {}", ours.len(), theirs.len()),
        )];
    }
    let mut out = Vec::new();
    for (i, (mut ours, mut theirs)) in ours.into_iter().zip(theirs).enumerate() {
        status_on_istio_fields(&mut ours);
        status_on_istio_fields(&mut theirs);
        let prefix = if i == 0 {
            String::new()
        } else {
            format!("#{i}")
        };
        diff(
            &prefix,
            Some(&compared(&ours)),
            Some(&compared(&theirs)),
            &mut out,
        );
    }
    out
}

#[test]
fn istio_configmaps_give_istios_pods() {
    let dir = testdata();
    let cases = cases(&dir);
    assert!(
        cases.len() >= 40,
        "expected Istio's cases in {}, found {}",
        dir.display(),
        cases.len()
    );
    let mut unaccepted = 0;
    let mut table: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut total = 0;
    for case in &cases {
        for (path, detail) in run(case, &dir) {
            total += 1;
            let reason = match accepted(&case.name, &path) {
                Some(reason) => reason.to_string(),
                None => {
                    unaccepted += 1;
                    "NOT ACCEPTED".to_string()
                }
            };
            table
                .entry(reason)
                .or_default()
                .push(format!("{}: {path}: {detail}", case.name));
        }
    }
    println!(
        "{} cases from {}; {total} differences, {unaccepted} not accepted",
        cases.len(),
        dir.display()
    );
    for (reason, rows) in &table {
        println!("== {reason} ({})", rows.len());
        for row in rows {
            println!("  {row}");
        }
    }
    assert_eq!(
        unaccepted, 0,
        "differences from Istio's goldens not accepted"
    );
}

/// The one pod of a one-document manifest after `kube-inject` with Istio's
/// ConfigMaps (native sidecars on, as on a current cluster).
fn inject_one(manifest: &Value) -> Value {
    let engine = Engine::compile(istio_config(true), 0).unwrap();
    let report = kube_inject(&engine, &yaml::to_string(manifest).unwrap()).unwrap();
    assert_eq!(report.injected, 1, "{:?}", report.skipped);
    pods(&report.output).remove(0)
}

fn container<'a>(pod: &'a Value, list: &str, name: &str) -> &'a Value {
    pod["spec"][list]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {list} {name} in {pod}"))
}

fn deployment(annotations: Value, labels: Value, containers: Value) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "prod"},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"annotations": annotations, "labels": labels},
            "spec": {"containers": containers}
        }}
    })
}

/// A gateway declares its own `istio-proxy` with `image: auto`: the
/// gateway template fills it in, the injected image replaces `auto`, and
/// the pod's own fields are kept and recorded as overrides.
#[test]
fn gateway_template_fills_in_the_pods_own_proxy() {
    let pod = inject_one(&deployment(
        serde_json::json!({"inject.istio.io/templates": "gateway"}),
        serde_json::json!({"istio": "ingressgateway", "app": "istio-ingressgateway"}),
        serde_json::json!([{"name": "istio-proxy", "image": "auto",
            "securityContext": {"runAsUser": 1337}}]),
    ));
    assert_eq!(names(&pod, "containers"), ["istio-proxy"]);
    assert!(names(&pod, "initContainers").is_empty(), "{pod}");
    let proxy = container(&pod, "containers", "istio-proxy");
    assert_eq!(proxy["image"], "registry.istio.io/testing/proxyv2:latest");
    assert_eq!(proxy["args"][0], "proxy");
    assert_eq!(proxy["args"][1], "router");
    assert_eq!(proxy["securityContext"]["runAsUser"], 1337);
    let overrides: Value = serde_json::from_str(
        pod["metadata"]["annotations"]["proxy.istio.io/overrides"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(overrides["containers"][0]["name"], "istio-proxy");
    assert!(
        overrides["containers"][0].get("image").is_none(),
        "{overrides}"
    );
}

/// `grpc-agent` adds the agent as a sidecar; `grpc-simple` adds the
/// bootstrap init container and points each app container at it.
#[test]
fn grpc_templates_inject_their_pods() {
    let app = serde_json::json!([{"name": "app", "image": "app:1",
        "ports": [{"containerPort": 8080}]}]);
    let pod = inject_one(&deployment(
        serde_json::json!({"inject.istio.io/templates": "grpc-agent"}),
        serde_json::json!({"app": "app"}),
        app.clone(),
    ));
    let all: Vec<String> = names(&pod, "initContainers")
        .into_iter()
        .chain(names(&pod, "containers"))
        .collect();
    assert!(all.contains(&"istio-proxy".to_string()), "{all:?}");
    assert!(all.contains(&"app".to_string()), "{all:?}");
    let proxy = find_anywhere(&pod, "istio-proxy");
    assert_eq!(proxy["args"][0], "proxy");
    assert_eq!(proxy["args"][1], "sidecar");

    let pod = inject_one(&deployment(
        serde_json::json!({"inject.istio.io/templates": "grpc-simple"}),
        serde_json::json!({"app": "app"}),
        app,
    ));
    assert_eq!(names(&pod, "initContainers"), ["grpc-bootstrap-init"]);
    assert_eq!(names(&pod, "containers"), ["app"]);
    let env = &container(&pod, "containers", "app")["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "GRPC_XDS_BOOTSTRAP"),
        "{env}"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["sidecar.istio.io/rewriteAppHTTPProbers"],
        "false"
    );
    assert!(names(&pod, "volumes").contains(&"grpc-io-proxyless-bootstrap".to_string()));
}

fn find_anywhere<'a>(pod: &'a Value, name: &str) -> &'a Value {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|list| pod["spec"][list].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {pod}"))
}
