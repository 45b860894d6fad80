//! The embedded default's templates (`sidecar`, `gateway`, `grpc-simple`,
//! `grpc-agent`), each selected with `inject.istio.io/templates`: what each
//! does to an application pod and to a gateway pod, that the result is a
//! pod the API server accepts in both sidecar modes, Multus networks, and
//! OpenShift DeploymentConfigs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::collections::BTreeSet;

use injector_engine::config::ClusterFacts;
use injector_engine::config::Text;
use injector_engine::engine::Engine;
use injector_engine::manifest::kube_inject::kube_inject;
use injector_engine::{RawConfig, yaml};
use serde_json::{Value, json};
use support::overlay;

const TEMPLATES: [&str; 4] = ["sidecar", "gateway", "grpc-simple", "grpc-agent"];

/// The embedded configuration with `values` overlaid, on a cluster that
/// runs native sidecars.
fn engine_with(values: Value) -> Engine {
    native_engine(true, values)
}

/// The embedded configuration with `values` overlaid, on a cluster that
/// runs native sidecars or not.
fn native_engine(native_sidecars: bool, values: Value) -> Engine {
    let raw = RawConfig::embedded().with_cluster(ClusterFacts { native_sidecars });
    let mut config = raw.parse().unwrap();
    overlay(&mut config.values, &values);
    Engine::compile(config, 0).unwrap()
}

/// An application pod: one container with a port and an HTTP probe.
fn app_pod(annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "traffic", "namespace": "shop", "labels": {"app": "traffic"}, "annotations": annotations},
        "spec": {"containers": [{
            "name": "traffic", "image": "registry.example/traffic:1",
            "ports": [{"name": "grpc", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}
        }]}
    })
}

/// A gateway pod: its only container is `istio-proxy` with `image: auto`.
fn gateway_pod(annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "ingress", "namespace": "gateways", "labels": {"istio": "ingressgateway"}, "annotations": annotations},
        "spec": {"containers": [{
            "name": "istio-proxy", "image": "auto", "imagePullPolicy": "IfNotPresent",
            "resources": {"requests": {"cpu": "1"}}
        }]}
    })
}

/// Injects one Pod manifest; also checks that injecting the result again
/// changes nothing.
fn inject(engine: &Engine, pod: &Value) -> Value {
    let text = yaml::to_string(pod).unwrap();
    let once = kube_inject(engine, &text).unwrap_or_else(|e| panic!("{e}"));
    let twice = kube_inject(engine, &once.output).unwrap();
    assert_eq!(once.output, twice.output, "re-injection changed the pod");
    let mut docs = yaml::parse_documents(&once.output).unwrap();
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn containers<'a>(pod: &'a Value, list: &str) -> Vec<&'a Value> {
    pod["spec"][list].as_array().into_iter().flatten().collect()
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|list| containers(pod, list))
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    let vars = container["env"].as_array().into_iter().flatten();
    vars.into_iter()
        .find(|e| e["name"] == name)
        .map(|e| &e["value"])
}

fn names(pod: &Value, list: &str) -> Vec<String> {
    containers(pod, list)
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// The API server's pod validation rules an injection can break.
fn api_server_rejection(pod: &Value) -> Option<String> {
    if containers(pod, "containers").is_empty() {
        return Some("a pod needs at least one container".into());
    }
    let volumes: Vec<&str> = containers(pod, "volumes")
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    if volumes.iter().collect::<BTreeSet<_>>().len() != volumes.len() {
        return Some(format!("duplicate volume names {volumes:?}"));
    }
    let mut seen = BTreeSet::new();
    for list in ["initContainers", "containers"] {
        for c in containers(pod, list) {
            let name = c["name"].as_str().unwrap();
            if !seen.insert(name) {
                return Some(format!("container name {name} used twice"));
            }
            if c["image"].as_str().is_none_or(str::is_empty) {
                return Some(format!("{name}: no image"));
            }
            let restart = c.get("restartPolicy");
            let native = restart == Some(&json!("Always"));
            if list == "containers" && restart.is_some() {
                return Some(format!("{name}: restartPolicy on a regular container"));
            }
            if list == "initContainers" && !native {
                for field in [
                    "lifecycle",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                ] {
                    if c.get(field).is_some() {
                        return Some(format!("{name}: {field} on an init container"));
                    }
                }
            }
            for mount in c["volumeMounts"].as_array().into_iter().flatten() {
                let volume = mount["name"].as_str().unwrap();
                if !volumes.contains(&volume) {
                    return Some(format!("{name}: mounts unknown volume {volume}"));
                }
            }
        }
    }
    None
}

#[test]
fn every_template_injects_app_and_gateway_pods_the_api_server_accepts() {
    let embedded = RawConfig::embedded().parse().unwrap();
    let declared: BTreeSet<&str> = embedded
        .inject
        .templates
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(declared, BTreeSet::from(TEMPLATES));
    // Native mode from the values, and the annotation overriding them.
    let modes = [
        (true, None),
        (false, None),
        (true, Some("false")),
        (false, Some("true")),
    ];
    for (global, annotation) in modes {
        let engine = native_engine(global, json!({}));
        for template in TEMPLATES {
            let mut annotations = json!({"inject.istio.io/templates": template});
            if let Some(native) = annotation {
                annotations["sidecar.istio.io/nativeSidecar"] = json!(native);
            }
            for (shape, pod) in [
                ("app", app_pod(annotations.clone())),
                ("gateway", gateway_pod(annotations.clone())),
            ] {
                let case = format!(
                    "{template} on an {shape} pod, global {global}, annotation {annotation:?}"
                );
                let injected = inject(&engine, &pod);
                if let Some(reason) = api_server_rejection(&injected) {
                    panic!("{case}: {reason}\n{injected:#}");
                }
                match (template, shape) {
                    // No proxy at all, or none to fill in: the user's
                    // stays as written.
                    ("grpc-simple", "app") => assert!(
                        !names(&injected, "containers").contains(&"istio-proxy".to_string())
                    ),
                    ("grpc-simple", _) => {
                        assert_eq!(container(&injected, "istio-proxy")["image"], "auto")
                    }
                    _ => assert_eq!(
                        container(&injected, "istio-proxy")["image"],
                        "docker.io/istio/proxyv2:1.28.0",
                        "{case}"
                    ),
                }
                if shape == "gateway" {
                    // The declared proxy is filled in, never duplicated, and
                    // the user's own fields win.
                    let proxy = container(&injected, "istio-proxy");
                    assert_eq!(proxy["imagePullPolicy"], "IfNotPresent", "{case}");
                    assert_eq!(proxy["resources"]["requests"]["cpu"], "1", "{case}");
                }
            }
        }
    }
}

#[test]
fn gateway_fills_in_the_declared_proxy_as_a_router_without_capture() {
    for native in [true, false] {
        let engine = native_engine(native, json!({}));
        let pod = inject(
            &engine,
            &gateway_pod(json!({"inject.istio.io/templates": "gateway"})),
        );
        assert_eq!(names(&pod, "containers"), ["istio-proxy"]);
        assert!(names(&pod, "initContainers").is_empty(), "no capture");
        let proxy = container(&pod, "istio-proxy");
        assert_eq!(proxy["image"], "docker.io/istio/proxyv2:1.28.0");
        assert_eq!(proxy["args"][1], "router");
        assert_eq!(
            env(proxy, "ISTIO_META_OWNER").unwrap(),
            "kubernetes://apis/v1/namespaces/gateways/pods/ingress"
        );
        assert_eq!(
            pod["spec"]["securityContext"]["sysctls"][0],
            json!({"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"})
        );
        // No application container: no default-container annotation.
        assert!(
            pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"].is_null()
        );
    }
    let own = json!({"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"}]});
    let engine = engine_with(json!({"gateways": {"securityContext": own}}));
    let pod = inject(
        &engine,
        &gateway_pod(json!({"inject.istio.io/templates": "gateway"})),
    );
    assert_eq!(pod["spec"]["securityContext"], own);
}

#[test]
fn sidecar_on_a_proxy_only_pod_keeps_the_proxy_a_container() {
    let engine = native_engine(true, json!({}));
    let pod = inject(&engine, &gateway_pod(json!({})));
    assert_eq!(names(&pod, "containers"), ["istio-proxy"]);
    assert_eq!(names(&pod, "initContainers"), ["istio-init"]);
    // With an application container the proxy is a native sidecar.
    let pod = inject(&engine, &app_pod(json!({})));
    assert_eq!(names(&pod, "initContainers"), ["istio-init", "istio-proxy"]);
}

#[test]
fn grpc_simple_points_the_app_containers_at_a_bootstrap_file() {
    let engine = engine_with(json!({}));
    let pod = inject(
        &engine,
        &app_pod(json!({"inject.istio.io/templates": "grpc-simple"})),
    );
    assert_eq!(names(&pod, "initContainers"), ["grpc-bootstrap-init"]);
    assert_eq!(names(&pod, "containers"), ["traffic"], "no proxy");
    let app = container(&pod, "traffic");
    assert_eq!(
        app["image"], "registry.example/traffic:1",
        "the app is kept"
    );
    assert_eq!(
        env(app, "GRPC_XDS_BOOTSTRAP").unwrap(),
        "/var/lib/grpc/data/bootstrap.json"
    );
    assert_eq!(
        app["volumeMounts"][0],
        json!({"name": "grpc-io-proxyless-bootstrap", "mountPath": "/var/lib/grpc/data/"})
    );
    assert_eq!(
        app["readinessProbe"]["httpGet"]["port"], 8080,
        "nothing serves rewritten probes"
    );
    let init = container(&pod, "grpc-bootstrap-init");
    assert_eq!(
        env(init, "ISTIOD_ADDRESS").unwrap(),
        "istiod.istio-system.svc:15010"
    );
    // The status lists what was added, never the user's container.
    let status: Value = serde_json::from_str(
        pod["metadata"]["annotations"]["sidecar.istio.io/status"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(status["containers"], json!([]));
    assert_eq!(status["initContainers"], json!(["grpc-bootstrap-init"]));
}

#[test]
fn grpc_agent_adds_the_agent_without_capture() {
    for native in [true, false] {
        let engine = native_engine(native, json!({}));
        let pod = inject(
            &engine,
            &app_pod(json!({"inject.istio.io/templates": "grpc-agent"})),
        );
        assert!(names(&pod, "initContainers").is_empty(), "no capture");
        assert_eq!(names(&pod, "containers"), ["traffic", "istio-proxy"]);
        let proxy = container(&pod, "istio-proxy");
        assert_eq!(env(proxy, "DISABLE_ENVOY").unwrap(), "true");
        assert_eq!(env(proxy, "ISTIO_META_GENERATOR").unwrap(), "grpc");
        assert_eq!(
            env(proxy, "ISTIO_META_OWNER").unwrap(),
            "kubernetes://apis/v1/namespaces/shop/pods/traffic"
        );
        let app = container(&pod, "traffic");
        assert_eq!(
            env(app, "GRPC_XDS_BOOTSTRAP").unwrap(),
            "/etc/istio/proxy/grpc-bootstrap.json"
        );
        assert_eq!(app["readinessProbe"]["httpGet"]["port"], 8080);
        assert_eq!(
            pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"],
            "traffic"
        );
    }
}

const NETWORKS: &str = "k8s.v1.cni.cncf.io/networks";

#[test]
fn multus_networks_gain_istio_cni_in_their_own_form() {
    let multus = engine_with(json!({"pilot": {"cni": {"enabled": true, "provider": "multus"}}}));
    let networks = |engine: &Engine, existing: Option<&str>| {
        let annotations = match existing {
            Some(value) => json!({NETWORKS: value}),
            None => json!({}),
        };
        let pod = inject(engine, &app_pod(annotations));
        assert_eq!(
            names(&pod, "initContainers"),
            ["istio-validation", "istio-proxy"]
        );
        pod["metadata"]["annotations"][NETWORKS].clone()
    };
    assert_eq!(networks(&multus, None), "default/istio-cni");
    assert_eq!(
        networks(&multus, Some("macvlan-conf-1, macvlan-conf-2")),
        "macvlan-conf-1, macvlan-conf-2, default/istio-cni"
    );
    assert_eq!(
        networks(
            &multus,
            Some(r#"[{"name": "alt_cni"}, {"name": "more_cni", "namespace": "kube-system"}]"#)
        ),
        r#"[{"name": "alt_cni"}, {"name": "more_cni", "namespace": "kube-system"}, {"name": "istio-cni", "namespace": "default"}]"#
    );
    let listed = r#"[{"name": "istio-cni", "namespace": "default"}]"#;
    assert_eq!(networks(&multus, Some(listed)), listed);
    // A hostile value stays one annotation value.
    assert_eq!(
        networks(&multus, Some("a\nb: c")),
        "a\nb: c, default/istio-cni"
    );
    // Chained CNI (the default provider) and no CNI leave it alone.
    let chained = engine_with(json!({"pilot": {"cni": {"enabled": true}}}));
    assert_eq!(networks(&chained, Some("macvlan")), "macvlan");
    assert_eq!(networks(&chained, None), Value::Null);
}

#[test]
fn deploymentconfigs_are_injected_with_their_own_owner() {
    let engine = engine_with(json!({}));
    let manifest = r#"
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: hello
  namespace: shop
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
      - name: hello
        image: registry.example/hello:1
  triggers:
  - type: ConfigChange
"#;
    let report = kube_inject(&engine, manifest).unwrap();
    assert_eq!(report.injected, 1);
    let docs = yaml::parse_documents(&report.output).unwrap();
    let dc = &docs[0];
    assert_eq!(dc["spec"]["triggers"], json!([{"type": "ConfigChange"}]));
    let pod = &dc["spec"]["template"];
    assert_eq!(names(pod, "containers"), ["hello"]);
    let proxy = container(pod, "istio-proxy");
    assert_eq!(
        env(proxy, "ISTIO_META_OWNER").unwrap(),
        "kubernetes://apis/apps.openshift.io/v1/namespaces/shop/deploymentconfigs/hello"
    );
    assert_eq!(env(proxy, "ISTIO_META_WORKLOAD_NAME").unwrap(), "hello");
    let again = kube_inject(&engine, &report.output).unwrap();
    assert_eq!(again.output, report.output);

    let no_template = "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: empty}\nspec: {replicas: 1}\n";
    let error = kube_inject(&engine, no_template).unwrap_err().to_string();
    assert!(
        error.contains("DeploymentConfig empty") && error.contains("spec.template"),
        "{error}"
    );
}

/// Every template reads only what a minimal mesh config has: no
/// `defaultConfig`, so no proxy metadata.
#[test]
fn every_template_injects_with_a_minimal_mesh_config() {
    let mut raw = RawConfig::embedded();
    raw.mesh = Text::new("trustDomain: example.org\n", "test", "mesh");
    let engine = Engine::compile(raw.parse().unwrap(), 0).unwrap_or_else(|e| panic!("{e}"));
    for template in TEMPLATES {
        let pod = inject(
            &engine,
            &app_pod(json!({"inject.istio.io/templates": template})),
        );
        assert!(api_server_rejection(&pod).is_none(), "{template}");
    }
}
