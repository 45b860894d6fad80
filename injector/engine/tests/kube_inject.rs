//! `kube-inject` properties over whole manifests: idempotence and structure
//! safety against hostile labels and annotations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;
mod support;

use common::{HOSTILE, shape};

use std::path::Path;

use injector_engine::engine::{Engine, InjectError};
use injector_engine::manifest::ManifestError;
use injector_engine::manifest::kube_inject::kube_inject;
use injector_engine::{RawConfig, yaml};
use serde_json::{Value, json};

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
    deployment_with_container(labels, annotations, "web")
}

/// The same, with the application container named `container`.
fn deployment_with_container(labels: &Value, annotations: &Value, container: &str) -> String {
    let doc = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": labels, "annotations": annotations},
            "spec": {"containers": [{"name": container, "image": "web:1", "ports": [{"name": "http", "containerPort": 8080}]}]}
        }}
    });
    yaml::to_string(&doc).unwrap()
}

fn pod_template(output: &str) -> Value {
    let docs = yaml::parse_documents(output).unwrap();
    assert_eq!(docs.len(), 1, "one document in, one out");
    docs[0]["spec"]["template"].clone()
}

/// The proxy container, wherever the template put it.
fn proxy(pod: &Value) -> Option<&Value> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|list| pod["spec"][*list].as_array().into_iter().flatten())
        .find(|c| c["name"] == "istio-proxy")
}

fn env_value(container: &Value, name: &str) -> Value {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| e["value"].clone())
        .unwrap_or(Value::Null)
}

/// Every embedded template, with and without Multus (so the networks
/// annotation is rewritten too), gets hostile labels, annotations and
/// container names: the injected pod's structure never changes, and each
/// value lands verbatim where it belongs.
#[test]
fn hostile_labels_and_annotations_never_change_the_structure() {
    let mut multus = RawConfig::embedded().parse().unwrap();
    multus.values["pilot"]["cni"] = json!({"enabled": true, "provider": "multus"});
    let engines = [
        ("default", engine()),
        ("multus", Engine::compile(multus, 0).unwrap()),
    ];
    let templates: Vec<String> = engines[0]
        .1
        .config()
        .inject
        .templates
        .keys()
        .cloned()
        .collect();
    assert!(templates.len() >= 4, "{templates:?}");
    let megabyte = megabyte();
    let mut cases = 0;
    let mut escapes = Vec::new();
    for (config, engine) in &engines {
        for template in &templates {
            let inject = |value: &str| {
                let labels =
                    json!({"app": value, "version": value, "security.istio.io/tlsMode": value});
                let annotations = json!({
                    "inject.istio.io/templates": template,
                    "sidecar.istio.io/logLevel": value,
                    "sidecar.istio.io/componentLogLevel": value,
                    "kubectl.kubernetes.io/default-container": value,
                    "k8s.v1.cni.cncf.io/networks": value,
                    "proxy.istio.io/config": yaml::to_string(&json!({"proxyMetadata": {"HOSTILE": value}})).unwrap(),
                    "free-form/annotation": value,
                });
                let container = format!("web{value}");
                kube_inject(
                    engine,
                    &deployment_with_container(&labels, &annotations, &container),
                )
            };
            let baseline_shape = shape(&pod_template(&inject("benign").unwrap().output));
            // The megabyte (a size check more than a structure one, and
            // seconds per case) with the default sidecar only.
            let huge = (*config == "default" && template == "sidecar").then_some(megabyte.as_str());
            for value in HOSTILE.iter().copied().chain(huge) {
                cases += 1;
                let shown: String = value.chars().take(40).collect();
                let case = format!("{template} ({config}) with {shown:?}");
                let output = inject(value)
                    .unwrap_or_else(|e| panic!("{case}: {e}"))
                    .output;
                let pod = pod_template(&output);
                let s = shape(&pod);
                if s != baseline_shape {
                    escapes.push(case);
                    continue;
                }
                check_verbatim(&pod, value, &case);
            }
        }
    }
    assert!(cases > 4 * 2 * HOSTILE.len(), "{cases} cases");
    assert_eq!(escapes, Vec::<String>::new(), "structure escapes");
}

/// The hostile `value` landed verbatim where the templates put it.
fn check_verbatim(pod: &Value, value: &str, case: &str) {
    let labels = &pod["metadata"]["labels"];
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(labels["app"], json!(value), "{case}");
    assert_eq!(annotations["free-form/annotation"], json!(value), "{case}");
    let container = format!("web{value}");
    let app = &pod["spec"]["containers"][0];
    assert_eq!(app["name"], json!(container), "{case}");
    if let Some(networks) = annotations["k8s.v1.cni.cncf.io/networks"].as_str()
        && networks != value
    {
        let expected = if value.is_empty() {
            "default/istio-cni".to_string()
        } else {
            format!("{value}, default/istio-cni")
        };
        assert_eq!(networks, expected, "{case}");
    }
    if !labels["service.istio.io/canonical-revision"].is_null() {
        let expected: String = if value.is_empty() {
            "latest".into()
        } else {
            value.chars().take(63).collect::<String>()
        };
        let expected = expected.strip_suffix('-').unwrap_or(&expected);
        assert_eq!(
            labels["service.istio.io/canonical-revision"],
            json!(expected),
            "{case}"
        );
    }
    if let Some(proxy) = proxy(pod).filter(|p| p["args"][0] == "proxy") {
        assert_eq!(env_value(proxy, "HOSTILE"), json!(value), "{case}");
        assert_eq!(
            proxy["args"][4],
            json!(format!("--proxyLogLevel={value}")),
            "{case}"
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

/// The labels and annotations a hostile test sets, each to `value`.
fn hostile_metadata(value: &str) -> (Value, Value) {
    let labels = json!({"app": value, "version": value, "security.istio.io/tlsMode": value});
    let annotations = json!({
        "sidecar.istio.io/logLevel": value,
        "sidecar.istio.io/componentLogLevel": value,
        "kubectl.kubernetes.io/default-container": value,
        "proxy.istio.io/config": yaml::to_string(&json!({"proxyMetadata": {"HOSTILE": value}})).unwrap(),
        "free-form/annotation": value,
    });
    (labels, annotations)
}

fn megabyte() -> String {
    "x: y\n- ".repeat(1 << 17)
}

/// Istio's own templates paste pod strings into YAML unescaped; with them
/// a hostile value must either land as a value, the pod's structure
/// unchanged, or be refused with an error naming the label or annotation.
#[test]
fn hostile_labels_and_annotations_never_change_the_structure_with_istios_templates() {
    for native in [true, false] {
        let engine = Engine::compile(support::istio_config(native), 0).unwrap();
        let inject = |value: &str| {
            let (labels, annotations) = hostile_metadata(value);
            kube_inject(&engine, &deployment(&labels, &annotations))
        };
        let baseline = shape(&pod_template(&inject("benign").unwrap().output));
        let (hostile_labels, hostile_annotations) = hostile_metadata("");
        let names: Vec<String> = hostile_labels
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("label {k:?}"))
            .chain(
                hostile_annotations
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|k| format!("annotation {k:?}")),
            )
            .collect();
        let megabyte = megabyte();
        let (mut escapes, mut refused) = (Vec::new(), 0);
        for value in HOSTILE.iter().copied().chain([megabyte.as_str()]) {
            let shown: String = value.chars().take(40).collect();
            match inject(value) {
                Ok(report) => {
                    let pod = pod_template(&report.output);
                    let s = shape(&pod);
                    let extra: Vec<&String> = s.iter().filter(|p| !baseline.contains(p)).collect();
                    let missing: Vec<&String> =
                        baseline.iter().filter(|p| !s.contains(p)).collect();
                    // Go's types write an empty env value as no value.
                    let empty_env = |p: &&String| {
                        value.is_empty() && p.contains("/env/") && p.ends_with("/value: string")
                    };
                    if !extra.is_empty() || !missing.iter().all(empty_env) {
                        escapes.push(format!("{shown:?}: +{extra:?} -{missing:?}"));
                    }
                    assert_eq!(pod["metadata"]["labels"]["app"], json!(value), "{shown:?}");
                    assert_eq!(
                        pod["metadata"]["annotations"]["free-form/annotation"],
                        json!(value),
                        "{shown:?}"
                    );
                }
                Err(error) => {
                    refused += 1;
                    let message = error.to_string();
                    assert!(
                        matches!(
                            error,
                            ManifestError::Inject {
                                error: InjectError::Template(_),
                                ..
                            }
                        ),
                        "{shown:?}: refused by the template check: {message}"
                    );
                    // Refused is safe; an error that cannot name the value
                    // (the rendered YAML broke where no pod string can be
                    // blamed) is listed, to be improved.
                    if !names.iter().any(|n| message.contains(n.as_str())) {
                        println!(
                            "{shown:?}: refused without naming the label or annotation: {message}"
                        );
                    }
                }
            }
        }
        println!(
            "Istio's templates, native sidecars {native}: {} hostile values, {refused} refused by name, {} structure escapes",
            HOSTILE.len() + 1,
            escapes.len()
        );
        assert!(
            escapes.is_empty(),
            "native={native}: structure escapes for {escapes:?}"
        );
        assert!(
            refused < HOSTILE.len(),
            "native={native}: benign-looking values must inject ({refused} refused)"
        );
    }
}
