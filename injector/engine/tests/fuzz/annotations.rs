//! Every annotation the engine or the embedded templates read, with
//! arbitrary values and values close to valid ones: injected validly, or
//! refused naming the annotation.

use injector_engine::{InjectError, Outcome, PodRequest};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::check;
use crate::inputs::{self, budget, engine, set_meta};

/// The annotations the engine interprets, and those the embedded
/// templates read.
pub const READ: &[&str] = &[
    "inject.istio.io/templates",
    "proxy.istio.io/config",
    "proxy.istio.io/overrides",
    "readiness.status.sidecar.istio.io/applicationPorts",
    "readiness.status.sidecar.istio.io/failureThreshold",
    "readiness.status.sidecar.istio.io/initialDelaySeconds",
    "readiness.status.sidecar.istio.io/periodSeconds",
    "sidecar.istio.io/agentLogLevel",
    "sidecar.istio.io/componentLogLevel",
    "sidecar.istio.io/inject",
    "sidecar.istio.io/interceptionMode",
    "sidecar.istio.io/logLevel",
    "sidecar.istio.io/nativeSidecar",
    "sidecar.istio.io/proxyCPU",
    "sidecar.istio.io/proxyCPULimit",
    "sidecar.istio.io/proxyImage",
    "sidecar.istio.io/proxyImageType",
    "sidecar.istio.io/proxyMemory",
    "sidecar.istio.io/proxyMemoryLimit",
    "sidecar.istio.io/rewriteAppHTTPProbers",
    "sidecar.istio.io/status",
    "status.sidecar.istio.io/port",
    "topology.istio.io/network",
    "traffic.sidecar.istio.io/excludeInboundPorts",
    "traffic.sidecar.istio.io/excludeOutboundIPRanges",
    "traffic.sidecar.istio.io/excludeOutboundPorts",
    "traffic.sidecar.istio.io/includeInboundPorts",
    "traffic.sidecar.istio.io/includeOutboundIPRanges",
    "traffic.sidecar.istio.io/includeOutboundPorts",
    "traffic.sidecar.istio.io/kubevirtInterfaces",
];

/// Values near the valid ones: numbers, lists, ranges, quantities,
/// booleans, JSON and YAML, each slightly off now and then.
fn plausible() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,6}",
        "-?[0-9]{1,20}",
        "[0-9*, ]{0,16}",
        "([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,3}(,[0-9a-f:]{2,8}/[0-9]{1,3})?",
        "[0-9]{1,4}(m|Mi|Gi|k|e3|\\.5)?",
        select(vec!["true", "false", "True", "1", "yes", "REDIRECT", "TPROXY", "NONE",
                    "sidecar", "gateway,sidecar", "debug", "distroless"]).prop_map(String::from),
        inputs::json().prop_map(|v| v.to_string()),
        inputs::json().prop_map(|v| injector_engine::yaml::to_string(&v).unwrap_or_default()),
        Just(r#"{"containers":[{"name":"istio-proxy","image":"x"}]}"#.to_string()),
        Just(r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":[],"imagePullSecrets":[],"revision":"default"}"#.to_string()),
    ]
}

fn pod(key: &str, value: &str) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}],
                                 "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]}
    });
    set_meta(&mut pod, "annotations", key, value);
    pod
}

proptest! {
    #![proptest_config(budget(256))]

    #[test]
    fn every_read_annotation_takes_any_value(
        key in select(READ),
        value in prop_oneof![inputs::text(), plausible()],
    ) {
        let pod = pod(key, &value);
        check::inject(engine(), &pod);
        // A refusal of a validated annotation names it.
        let request = PodRequest { pod: &pod, namespace: check::NAMESPACE, namespace_labels: None, workload: None };
        if let Err(InjectError::Annotation(e)) = engine().process(&request) {
            prop_assert_eq!(e.annotation.as_str(), key);
        }
    }

    #[test]
    fn several_read_annotations_at_once(
        pairs in prop::collection::vec((select(READ), prop_oneof![inputs::text(), plausible()]), 1..6),
    ) {
        let mut pod = pod("free-form", "x");
        for (key, value) in &pairs {
            set_meta(&mut pod, "annotations", key, value);
        }
        if let Some(injected) = check::inject(engine(), &pod) {
            let request = PodRequest { pod: &injected, namespace: check::NAMESPACE, namespace_labels: None, workload: None };
            prop_assert!(matches!(engine().process(&request), Ok(Outcome::Injected(_))));
        }
    }
}
