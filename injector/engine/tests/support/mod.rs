//! What several engine tests share: Istio's own ConfigMaps, read at run
//! time from `../shared/istio-configmaps` (never copied into the repository).

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};

use injector_engine::config::{ClusterFacts, Text};
use injector_engine::manifest::{ShapeError, for_each_pod};
use injector_engine::{Config, RawConfig, yaml};
use serde_json::{Map, Value};

pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Istio's two ConfigMaps, as its default installation renders them.
pub fn istio_raw_config() -> RawConfig {
    let dir = shared().join("istio-configmaps");
    let read = |name: &str| {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("Istio's ConfigMap {}: {e}", path.display()));
        (text, path.display().to_string())
    };
    let (injector, injector_path) = read("istio-sidecar-injector.yaml");
    let (mesh, mesh_path) = read("istio.yaml");
    RawConfig {
        config: Text::from_file(injector.clone(), &injector_path, "config").unwrap(),
        values: Text::from_file(injector, &injector_path, "values").unwrap(),
        mesh: Text::from_file(mesh, &mesh_path, "mesh").unwrap(),
        cluster: ClusterFacts::default(),
    }
}

/// Istio's configuration with native sidecars on or off.
pub fn istio_config(native: bool) -> Config {
    let mut config = istio_raw_config().parse().unwrap();
    native_sidecars(&mut config, native);
    config
}

/// Native sidecars on or off for the whole configuration, as the config
/// server decides for a cluster (Istio's tests: nodes at 1.33/1.34 on,
/// a node at 1.28 off).
pub fn native_sidecars(config: &mut Config, on: bool) {
    config.cluster.native_sidecars = on;
}

/// Sets the value at a dotted path, creating the maps on the way.
pub fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut at = root;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !at[*part].is_object() {
            at[*part] = Value::Object(Map::new());
        }
        at = &mut at[*part];
    }
    at[parts[parts.len() - 1]] = value;
}

/// The pods of a manifest, in order. Istio puts a CronJob pod's metadata
/// on `jobTemplate.metadata` (its pods never see it); compared where the
/// pod template has it.
/// The names of a pod's `containers` or `initContainers`, in order.
pub fn names(pod: &Value, list: &str) -> Vec<String> {
    pod["spec"][list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

pub fn pods(manifest: &str) -> Vec<Value> {
    let mut docs = yaml::parse_documents(manifest).unwrap();
    let mut out = Vec::new();
    for (i, doc) in docs.iter_mut().enumerate() {
        if doc["kind"] == "CronJob"
            && let Some(meta) = doc.pointer("/spec/jobTemplate/metadata").cloned()
            && meta.as_object().is_some_and(|m| !m.is_empty())
        {
            doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"] = meta;
        }
        for_each_pod(doc, i, &mut |site| {
            out.push(site.pod.clone());
            Ok::<(), ShapeError>(())
        })
        .unwrap();
    }
    out
}

/// The status annotation on Istio's fields only, empty lists as Go's null.
pub fn status_on_istio_fields(pod: &mut Value) {
    if let Some(Value::String(status)) =
        pod.pointer_mut("/metadata/annotations/sidecar.istio.io~1status")
    {
        let mut parsed: Value = serde_json::from_str(status).unwrap();
        if let Value::Object(fields) = &mut parsed {
            fields.remove("templateHash");
            fields.remove("snapshotVersion");
            for list in [
                "initContainers",
                "containers",
                "volumes",
                "imagePullSecrets",
            ] {
                if fields
                    .get(list)
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
                {
                    fields.insert(list.to_string(), Value::Null);
                }
            }
        }
        *status = parsed.to_string();
    }
}

/// The key a list item is compared by.
pub fn item_key(item: &Value) -> Option<String> {
    ["name", "mountPath", "containerPort"].iter().find_map(|k| {
        item.get(*k).map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
    })
}

/// `top` merged into `base`: maps key by key, anything else replaced.
pub fn overlay(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                overlay(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, t) => *b = t.clone(),
    }
}
