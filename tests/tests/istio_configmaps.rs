//! Istio's own ConfigMaps, unchanged, through the whole system: config-server
//! serves them once from a directory of ConfigMap manifests and once from
//! the (fake) API server, injectors stream each, and kube-apiserver's
//! AdmissionReviews for pods of Istio's test inputs come back with patches
//! that make the same pods both ways, and the pods the engine makes of the
//! same ConfigMaps in process. The ConfigMaps are read from
//! `../shared/istio-configmaps` at run time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use e2e::cargo_bin::cargo_bin;
use e2e::config_plane::ConfigServer;
use e2e::https::Protocol;
use e2e::process::Process;
use e2e::webhook::Webhook;
use injector_engine::engine::{Engine, Outcome, PodRequest};
use injector_engine::workload::pod_template_pointer;
use injector_engine::{RawConfig, yaml};
use serde_json::{Value, json};
use test_support::fake_apiserver::{FakeApiServer, Kind};

const WAIT: Duration = Duration::from_secs(30);
const NAMESPACE: &str = "istio-system";

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(path)
}

fn read(path: &str) -> String {
    let path = shared(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Istio's test inputs whose pods these checks admit: plain, probes,
/// Prometheus, traffic and proxy-config annotations, multiple templates.
const INPUTS: &[&str] = &[
    "hello.yaml",
    "hello-probes.yaml",
    "prometheus-scrape.yaml",
    "traffic-annotations.yaml",
    "proxy-override.yaml",
    "multiple-templates.yaml",
    "statefulset.yaml",
];

/// The pod kube-apiserver would send for the first workload of `input`.
fn pod_of(input: &str) -> Value {
    let doc: Value = yaml::parse_documents(&read(&format!("istio-testdata/inject/{input}")))
        .unwrap()
        .remove(0);
    let kind = doc["kind"].as_str().unwrap();
    let pointer = pod_template_pointer(kind).unwrap();
    let mut pod = doc.pointer(pointer).unwrap().clone();
    pod["metadata"]["namespace"] = json!("default");
    pod
}

fn review_of(pod: &Value, uid: usize) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("00000000-0000-4000-8000-{uid:012}"),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
        }
    })
}

/// The pod after the webhook's answer to its review.
async fn admit(webhook: &Webhook, pod: &Value, uid: usize) -> Value {
    let mut connection = webhook.client(Protocol::Http2).connect().await.unwrap();
    let reply = connection
        .post(
            "/inject",
            Some("application/json"),
            review_of(pod, uid).to_string(),
        )
        .await
        .unwrap();
    assert!(reply.status.is_success(), "{}", reply.text());
    let response = &reply.json()["response"];
    assert_eq!(response["allowed"], true, "{response}");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().expect("a patch"))
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
    let mut patched = pod.clone();
    json_patch::patch(&mut patched, &patch).unwrap();
    patched
}

/// An injector streaming from `url`, once it holds a snapshot.
async fn injector(url: &str) -> Webhook {
    let webhook = Webhook::start(&["--config-server", url]);
    assert!(
        webhook.ready_within(WAIT).await,
        "the injector never became ready"
    );
    webhook
}

fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"{server}\"}}\n\
         users:\n- name: me\n  user: {{token: t}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: me}}\n\
         current-context: fake\n"
    );
    std::fs::write(&path, config).unwrap();
    path
}

/// `config-server serve --source kube` against `fake`.
fn kube_config_server(fake: &FakeApiServer, dir: &Path) -> (Process, String) {
    let kubeconfig = kubeconfig(dir, &fake.url());
    let process = Process::spawn_with_env(
        &cargo_bin("config-server", "config-server"),
        [
            "serve",
            "--source",
            "kube",
            "--namespace",
            NAMESPACE,
            "--self-managed-certs",
            "false",
            // As the directory source decides with no cluster to ask.
            "--native-sidecars",
            "false",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    let url = format!(
        "http://{}",
        process.announced_addr("config server listening")
    );
    (process, url)
}

/// The engine in process, on the same two ConfigMaps.
fn engine() -> Engine {
    let files = [
        "istio-sidecar-injector.yaml".to_string(),
        "istio.yaml".to_string(),
    ]
    .map(|name| {
        let body = read(&format!("istio-configmaps/{name}"));
        (name, body)
    });
    let raw = RawConfig::from_dir_files("istio-configmaps", &files).unwrap();
    Engine::compile(raw.parse().unwrap(), 1).unwrap()
}

fn without_status(mut pod: Value) -> Value {
    if let Some(annotations) = pod["metadata"]["annotations"].as_object_mut() {
        annotations.remove("sidecar.istio.io/status");
    }
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_configmaps_inject_the_same_pods_from_a_directory_and_from_the_api_server() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["istio-sidecar-injector.yaml", "istio.yaml"] {
        std::fs::copy(
            shared(&format!("istio-configmaps/{name}")),
            dir.path().join(name),
        )
        .unwrap();
    }
    let from_dir = ConfigServer::start(dir.path(), "127.0.0.1:0", &[]);

    let fake = FakeApiServer::start().await;
    for name in ["istio-sidecar-injector.yaml", "istio.yaml"] {
        let mut configmap: Value = yaml::parse(&read(&format!("istio-configmaps/{name}"))).unwrap();
        configmap["metadata"]["namespace"] = json!(NAMESPACE);
        fake.put(&Kind::CONFIG_MAP, configmap);
    }
    let state = tempfile::tempdir().unwrap();
    let (_kube_server, kube_url) = kube_config_server(&fake, state.path());

    let by_dir = injector(&from_dir.url()).await;
    let by_kube = injector(&kube_url).await;
    let engine = engine();

    // Both servers say which dialect they chose for Istio's ConfigMap, and
    // why: Istio's ConfigMap declares none.
    for url in [from_dir.url(), kube_url.clone()] {
        let out = std::process::Command::new(cargo_bin("config-server", "config-server"))
            .args(["status", "--server", &url])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("templates: go (no templateDialect and no handlebars block"),
            "{url}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    for (i, input) in INPUTS.iter().enumerate() {
        let pod = pod_of(input);
        let a = admit(&by_dir, &pod, 2 * i).await;
        let b = admit(&by_kube, &pod, 2 * i + 1).await;
        let containers = |p: &Value| -> Vec<String> {
            p["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(
            containers(&a).iter().any(|c| c == "istio-proxy")
                || a["spec"]["initContainers"]
                    .as_array()
                    .is_some_and(|i| i.iter().any(|c| c["name"] == "istio-proxy")),
            "{input}: no sidecar: {a}"
        );
        // The same content hash both ways, so the whole pods are equal.
        assert_eq!(a, b, "{input}: the two sources inject different pods");

        let Outcome::Injected(expected) = engine
            .process(&PodRequest {
                pod: &pod,
                namespace: "default",
                namespace_labels: None,
                workload: None,
            })
            .unwrap()
        else {
            panic!("{input}: the engine skipped the pod");
        };
        // The snapshot version differs (each server counts its own), the
        // rest of the pod may not.
        assert_eq!(
            without_status(a),
            without_status(expected.pod),
            "{input}: the webhook's pod differs from the engine's"
        );
    }
}
