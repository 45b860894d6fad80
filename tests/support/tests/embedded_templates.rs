//! Every template of the embedded default, in both modes, injects pods that
//! kube-apiserver accepts: classic sidecars on an API server without
//! sidecar containers (1.28), native ones where they are GA (1.33), and
//! classic ones there too. Checked on every pod of Istio's injection
//! manifests and our examples, each template asked for by annotation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use injector_engine::config::ClusterFacts;
use injector_engine::engine::Engine;
use injector_engine::manifest::kube_inject::kube_inject;
use injector_engine::{RawConfig, yaml};
use serde_json::{Value, json};
use test_support::config::reference_manifests;
use test_support::pod_rules;

fn engine(native_sidecars: bool) -> Engine {
    let raw = RawConfig::embedded().with_cluster(ClusterFacts { native_sidecars });
    Engine::compile(raw.parse().unwrap(), 0).unwrap()
}

/// The pod specs of a manifest's documents (pods and pod templates).
fn pods(manifest: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut stack = yaml::parse_documents(manifest).unwrap();
    while let Some(doc) = stack.pop() {
        if let Some(items) = doc["items"].as_array() {
            stack.extend(items.iter().cloned());
        } else if doc["kind"] == "Pod" {
            out.push(doc);
        } else if doc["spec"]["template"].is_object() {
            out.push(doc["spec"]["template"].clone());
        } else if doc["spec"]["jobTemplate"]["spec"]["template"].is_object() {
            out.push(doc["spec"]["jobTemplate"]["spec"]["template"].clone());
        }
    }
    out
}

/// What an API server at `version` answers for `pod`: its validation
/// failures after dropping what its features do not know.
fn refusals(pod: &Value, version: &str) -> Vec<String> {
    let mut pod = pod.clone();
    pod_rules::drop_disabled_fields(&mut pod, pod_rules::sidecar_containers_on(version));
    pod_rules::validate(&pod)
        .iter()
        .map(pod_rules::Cause::text)
        .collect()
}

/// The manifest with every pod asking for `template` by annotation.
fn asking_for(manifest: &str, template: &str) -> String {
    let docs: Vec<Value> = yaml::parse_documents(manifest)
        .unwrap()
        .into_iter()
        .map(|mut doc| {
            let meta = if doc["kind"] == "Pod" {
                &mut doc["metadata"]
            } else if doc["spec"]["template"].is_object() {
                &mut doc["spec"]["template"]["metadata"]
            } else {
                return doc;
            };
            if !meta["annotations"].is_object() {
                meta["annotations"] = json!({});
            }
            meta["annotations"]["inject.istio.io/templates"] = json!(template);
            doc
        })
        .collect();
    docs.iter()
        .map(|d| yaml::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn every_embedded_template_injects_pods_the_api_server_accepts_in_both_modes() {
    let classic = engine(false);
    let native = engine(true);
    let templates: Vec<String> = classic.config().inject.templates.keys().cloned().collect();
    let mut checked = 0;
    for (name, text) in reference_manifests() {
        for template in &templates {
            let manifest = asking_for(&text, template);
            for (engine, versions) in [
                (&classic, ["v1.28.4", "v1.33.0"]),
                (&native, ["v1.33.0", "v1.33.0"]),
            ] {
                let injected = kube_inject(engine, &manifest)
                    .unwrap_or_else(|e| panic!("{name} ({template}): {e}"))
                    .output;
                for pod in pods(&injected) {
                    // A pod of nothing but `istio-proxy` (a gateway) keeps
                    // the proxy a regular container even in native mode:
                    // the API server refuses `containers: []`, which
                    // Istio's own templates make of it.
                    // A pod that asks for a native sidecar, or brings its
                    // own, needs sidecar containers whatever we inject.
                    let own_sidecar = pod["spec"]["initContainers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["name"] != "istio-proxy" && c.get("restartPolicy").is_some());
                    let asked = own_sidecar
                        || pod["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"]
                            == "true";
                    for version in versions {
                        if asked && !pod_rules::sidecar_containers_on(version) {
                            continue;
                        }
                        let refused = refusals(&pod, version);
                        assert!(
                            refused.is_empty(),
                            "{name} ({template}, native={}, {version}): {refused:?}",
                            std::ptr::eq(engine, &native)
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} pods checked");
}

#[test]
fn the_cluster_default_decides_and_the_annotation_still_wins() {
    let pod = |annotation: Option<&str>| {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]}});
        if let Some(value) = annotation {
            p["metadata"]["annotations"] = json!({"sidecar.istio.io/nativeSidecar": value});
        }
        yaml::to_string(&p).unwrap()
    };
    let proxy_is_native = |engine: &Engine, annotation| {
        let output = kube_inject(engine, &pod(annotation)).unwrap().output;
        let pod = &pods(&output)[0];
        let inits = pod["spec"]["initContainers"].as_array().unwrap();
        inits.iter().any(|c| c["name"] == "istio-proxy")
    };
    let (classic, native) = (engine(false), engine(true));
    assert!(!proxy_is_native(&classic, None));
    assert!(proxy_is_native(&native, None));
    assert!(proxy_is_native(&classic, Some("true")));
    assert!(!proxy_is_native(&native, Some("false")));
    assert_ne!(classic.hash(), native.hash(), "the decision is in the hash");
}
