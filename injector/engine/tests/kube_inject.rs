//! `kube-inject` properties over whole manifests: idempotence and structure
//! safety against hostile labels and annotations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::path::Path;

use injector_engine::engine::{Engine, InjectError};
use injector_engine::manifest::ManifestError;
use injector_engine::manifest::kube_inject::kube_inject;
use injector_engine::{RawConfig, yaml};
use serde_json::{Value, json};

mod common;
use common::{HOSTILE, shape};

fn engine() -> Engine {
    Engine::compile(RawConfig::embedded().parse().unwrap(), 0).unwrap()
}

fn manifests() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in [
        root.join("../shared/istio-testdata/inject"),
        root.join("examples"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    assert!(
        out.len() > 30,
        "expected the reference manifests and examples"
    );
    out
}

#[test]
fn injecting_an_injected_manifest_changes_nothing() {
    let engine = engine();
    for (name, text) in manifests() {
        let once = kube_inject(&engine, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let twice =
            kube_inject(&engine, &once.output).unwrap_or_else(|e| panic!("{name} (again): {e}"));
        assert_eq!(
            once.output, twice.output,
            "{name}: second injection differs"
        );
        assert_eq!(once.skipped.len(), twice.skipped.len(), "{name}");
    }
}

#[test]
fn a_new_configuration_replaces_the_old_sidecar_completely() {
    let old = engine();
    let mut config = RawConfig::embedded().parse().unwrap();
    config.values["global"]["tag"] = json!("9.9.9");
    config.values["global"]["proxy"]["statusPort"] = json!(15999);
    let new = Engine::compile(config, 1).unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bookinfo-ratings.yaml"),
    )
    .unwrap();
    let with_old = kube_inject(&old, &text).unwrap().output;
    let upgraded = kube_inject(&new, &with_old).unwrap().output;
    let fresh = kube_inject(&new, &text).unwrap().output;
    assert_eq!(
        upgraded, fresh,
        "re-injection must equal a fresh injection with the new config"
    );
    assert!(!upgraded.contains("1.28.0") && upgraded.contains("9.9.9"));
}

/// A Deployment whose pod template carries `labels` and `annotations`.
fn deployment(labels: &Value, annotations: &Value) -> String {
    let doc = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": labels, "annotations": annotations},
            "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"name": "http", "containerPort": 8080}]}]}
        }}
    });
    yaml::to_string(&doc).unwrap()
}

fn pod_template(output: &str) -> Value {
    let docs = yaml::parse_documents(output).unwrap();
    assert_eq!(docs.len(), 1, "one document in, one out");
    docs[0]["spec"]["template"].clone()
}

fn env_value(pod: &Value, container: &str, name: &str) -> Value {
    let containers = pod["spec"]["initContainers"].as_array().unwrap();
    let c = containers.iter().find(|c| c["name"] == container).unwrap();
    c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| e["value"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn hostile_labels_and_annotations_never_change_the_structure() {
    let engine = engine();
    let megabyte = "x: y\n- ".repeat(1 << 17);
    let inject = |value: &str| {
        let labels = json!({"app": value, "version": value, "security.istio.io/tlsMode": value});
        let annotations = json!({
            "sidecar.istio.io/logLevel": value,
            "sidecar.istio.io/componentLogLevel": value,
            "kubectl.kubernetes.io/default-container": value,
            "proxy.istio.io/config": yaml::to_string(&json!({"proxyMetadata": {"HOSTILE": value}})).unwrap(),
            "free-form/annotation": value,
        });
        kube_inject(&engine, &deployment(&labels, &annotations))
    };
    let baseline_shape = shape(&pod_template(&inject("benign").unwrap().output));

    for value in HOSTILE.iter().copied().chain([megabyte.as_str()]) {
        let shown: String = value.chars().take(40).collect();
        let output = inject(value)
            .unwrap_or_else(|e| panic!("{shown:?}: {e}"))
            .output;
        let pod = pod_template(&output);
        let s = shape(&pod);
        assert_eq!(
            s, baseline_shape,
            "{shown:?} changed the structure of the injected pod"
        );
        // ... and the value landed verbatim where it belongs.
        let labels = &pod["metadata"]["labels"];
        assert_eq!(labels["app"], json!(value));
        let expected_revision: String = if value.is_empty() {
            "latest".into()
        } else {
            value.chars().take(63).collect::<String>()
        };
        let expected_revision = expected_revision
            .strip_suffix('-')
            .unwrap_or(&expected_revision);
        assert_eq!(
            labels["service.istio.io/canonical-revision"],
            json!(expected_revision),
            "{shown:?}"
        );
        assert_eq!(
            pod["metadata"]["annotations"]["free-form/annotation"],
            json!(value)
        );
        assert_eq!(
            env_value(&pod, "istio-proxy", "HOSTILE"),
            json!(value),
            "{shown:?}"
        );
        let proxy = pod["spec"]["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "istio-proxy")
            .unwrap()
            .clone();
        assert_eq!(
            proxy["args"][4],
            json!(format!("--proxyLogLevel={value}")),
            "{shown:?}"
        );
    }
}

#[test]
fn hostile_values_in_numeric_or_validated_annotations_are_rejected_by_name() {
    let engine = engine();
    for key in [
        "status.sidecar.istio.io/port",
        "readiness.status.sidecar.istio.io/periodSeconds",
        "traffic.sidecar.istio.io/includeInboundPorts",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges",
        "sidecar.istio.io/proxyCPU",
        "sidecar.istio.io/proxyImage",
        "sidecar.istio.io/interceptionMode",
    ] {
        for value in ["15020\n- evil", "1: 2", "{a: b}"] {
            let err = kube_inject(
                &engine,
                &deployment(&json!({"app": "web"}), &json!({key: value})),
            )
            .expect_err(&format!("{key}={value:?} accepted"));
            let message = err.to_string();
            assert!(
                message.contains("Deployment prod/web") && message.contains(key),
                "{message}"
            );
            assert!(
                matches!(
                    err,
                    ManifestError::Inject {
                        error: InjectError::Annotation(_),
                        ..
                    }
                ),
                "{message}"
            );
        }
    }
}
