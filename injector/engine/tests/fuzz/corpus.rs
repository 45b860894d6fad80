//! What the property tests found, kept as plain regression tests.

use serde_json::json;

use crate::check;
use crate::inputs::engine;

/// Found by `arbitrary_pods_inject_validly_and_idempotently`: a user
/// container named like the sidecar is kept in the
/// `proxy.istio.io/overrides` annotation as JSON text, and serde_json's
/// default float parsing is off by one ulp for some numbers, so the second
/// injection read back a different pod and "fixed" it. Fixed by parsing
/// floats exactly (serde_json's `float_roundtrip`).
#[test]
fn a_float_in_an_overridden_container_survives_reinjection() {
    for number in [7.400116100617433e276, -2.952111433978714e-289, 0.1, 1e-320] {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"annotations": {}, "labels": {}},
            "spec": {"containers": [{"name": "istio-proxy", "image": "", "x-fuzz": [[number]]}]}
        });
        check::inject(engine(), &pod).unwrap();
    }
}

/// Found by `edited_embedded_keys`: a template edited to declare a volume
/// twice (`- name: workload-socket` duplicated) compiled, and injected pods
/// with two volumes of one name, which the API server refuses and which
/// re-injection did not give back. Now the injected pod must have unique
/// container and volume names, so the probe pod refuses such templates.
#[test]
fn a_template_declaring_a_volume_twice_does_not_compile() {
    let mut raw = injector_engine::RawConfig::embedded();
    let volume = "      volumes:\n      - name: workload-socket\n";
    let twice = "      volumes:\n      - name: workload-socket\n      - name: workload-socket\n";
    assert!(raw.config.body.contains(volume));
    raw.config.body = raw.config.body.replacen(volume, twice, 1);
    let error = injector_engine::Engine::compile(raw.parse().unwrap(), 1)
        .expect_err("a template injecting two volumes of one name is refused")
        .to_string();
    assert!(
        error.contains("two volumes are named \"workload-socket\""),
        "{error}"
    );
}

/// Found by `arbitrary_pods_inject_validly_and_idempotently`: the
/// canonical-name label was the workload name cut to 63 characters less
/// one trailing `-`, so a name ending in `--` (or cut there) gave `a-`, and
/// the second injection, reading that label, gave `a`. The embedded
/// templates now use `labelValue`, which drops every trailing `-`.
#[test]
fn a_name_ending_in_dashes_gives_a_stable_canonical_name() {
    let long = format!("{}--tail", "a".repeat(61));
    for name in ["a--", long.as_str()] {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"annotations": {}, "labels": {}, "name": name},
            "spec": {"containers": [{"name": "a", "image": ""}]}
        });
        let injected = check::inject(engine(), &pod).unwrap();
        let label = injected["metadata"]["labels"]["service.istio.io/canonical-name"]
            .as_str()
            .unwrap();
        assert!(!label.ends_with('-') && label.len() <= 63, "{label}");
    }
}

/// Found by `arbitrary_pods_inject_validly_and_idempotently`: with no
/// template selected (`inject.istio.io/templates: ""`) no proxy is
/// injected, yet app probes were rewritten to the proxy's status port,
/// which nothing serves; and the user's own container named `istio-proxy`
/// was rewritten as an app and handed the probes as the proxy, so the
/// second injection recorded that rewritten container as the user's. Probes
/// are now rewritten only when the templates inject the proxy.
#[test]
fn without_an_injected_proxy_probes_are_left_alone() {
    for name in ["istio-proxy", "app"] {
        let probe = json!({"httpGet": {"path": "/ready", "port": 1}});
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"annotations": {"inject.istio.io/templates": ""}, "labels": {}},
            "spec": {"containers": [{"name": name, "image": "", "readinessProbe": probe}]}
        });
        let injected = check::inject(engine(), &pod).unwrap();
        let container = &injected["spec"]["containers"][0];
        assert_eq!(container["readinessProbe"], probe, "{injected:#}");
        assert!(container.get("env").is_none(), "{injected:#}");
    }
}
