//! Pods: any JSON that deserializes as a Pod, ordinary, huge, deep or
//! Unicode-heavy, through the engine, held to every invariant; and values
//! the pod controls, which must never change the injected structure.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::check;
use crate::common::shape;
use crate::inputs::{self, budget, engine, set_meta};

/// Labels and annotations whose values the templates copy into the
/// sidecar (args, env, labels) without interpreting them.
const COPIED_LABELS: &[&str] = &["app", "version", "security.istio.io/tlsMode"];
const COPIED_ANNOTATIONS: &[&str] = &[
    "free-form/annotation",
    "sidecar.istio.io/logLevel",
    "sidecar.istio.io/componentLogLevel",
    "sidecar.istio.io/agentLogLevel",
    "kubectl.kubernetes.io/default-container",
];

fn with_values(pod: &Value, value: &str) -> Value {
    let mut pod = pod.clone();
    for key in COPIED_LABELS {
        set_meta(&mut pod, "labels", key, value);
    }
    for key in COPIED_ANNOTATIONS {
        set_meta(&mut pod, "annotations", key, value);
    }
    pod
}

/// A pod the embedded templates inject: one plain container.
fn plain() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {}, "annotations": {}},
        "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}]}]}
    })
}

proptest! {
    #![proptest_config(budget(96))]

    #[test]
    fn arbitrary_pods_inject_validly_and_idempotently(pod in inputs::pod()) {
        check::inject(engine(), &pod);
    }

    #[test]
    fn pod_values_never_change_the_structure(value in inputs::text()) {
        let benign = check::inject(engine(), &with_values(&plain(), "benign"))
            .expect("the plain pod is injected");
        let hostile = check::inject(engine(), &with_values(&plain(), &value))
            .expect("copied values are not validated, so never refused");
        prop_assert_eq!(shape(&hostile), shape(&benign));
        prop_assert_eq!(&hostile["metadata"]["labels"]["app"], &json!(value));
    }

    #[test]
    fn arbitrary_pods_keep_their_structure_under_hostile_values(
        pod in inputs::pod(),
        value in inputs::text(),
    ) {
        let benign = check::inject(engine(), &with_values(&pod, "benign"));
        let hostile = check::inject(engine(), &with_values(&pod, &value));
        if let (Some(benign), Some(hostile)) = (benign, hostile) {
            prop_assert_eq!(shape(&hostile), shape(&benign));
        }
    }
}

proptest! {
    #![proptest_config(budget(8))]

    /// Many containers, long lists and a megabyte-sized annotation.
    #[test]
    fn huge_pods(
        containers in 20..60usize,
        env in 50..200usize,
        size in (1usize << 18)..(1 << 20),
        fill in inputs::text(),
    ) {
        let env: Vec<Value> = (0..env).map(|i| json!({"name": format!("E{i}"), "value": fill})).collect();
        let containers: Vec<Value> = (0..containers)
            .map(|i| json!({"name": format!("c{i}"), "image": "app:1", "env": env,
                            "ports": [{"containerPort": 1000 + i}]}))
            .collect();
        let big: String = fill.chars().chain("x".chars()).cycle().take(size).collect();
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "big", "annotations": {"free-form/big": big}, "labels": {"app": big}},
            "spec": {"containers": containers}
        });
        prop_assert!(inputs::is_pod(&pod));
        check::inject(engine(), &pod);
    }
}

#[test]
fn deeply_nested_unknown_fields_are_carried_through() {
    // serde_json refuses bodies nested deeper than 128, so this is as deep
    // as an admission can bring.
    let mut pod = plain();
    pod["spec"]["x-deep"] = inputs::deep(120);
    pod["metadata"]["annotations"]["free-form"] = json!("x");
    let injected = check::inject(engine(), &pod).unwrap();
    assert_eq!(injected["spec"]["x-deep"], inputs::deep(120));
}
