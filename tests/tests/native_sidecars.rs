//! The whole system against the fake API server, as a cluster runs it:
//! `config-server serve --source kube` reads the ConfigMaps, the API
//! server's version and the Nodes; `injector serve` takes its snapshots;
//! pods are created through the API server, which calls the injector as a
//! mutating webhook and validates the result by its version's rules.
//! A 1.28 cluster gets classic sidecars and stores its pods; upgraded to
//! 1.33 (API server and kubelets) it gets native ones, with no restart.
//! Forcing native sidecars on 1.28 is refused as the issue reports it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::config_plane::{ConfigServer, kubeconfig};
use e2e::webhook::Webhook;
use injector_engine::config::embedded;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};
use test_support::fake_apiserver::{FakeApiServer, Kind, node};

const NS: &str = "istio-system";
const WAIT: Duration = Duration::from_secs(20);

/// A 1.28 cluster (API server and two kubelets) holding the default
/// configuration.
async fn cluster_at_1_28() -> FakeApiServer {
    let fake = FakeApiServer::start().await;
    fake.set_version("v1.28.4");
    fake.put(&Kind::NODE, node("worker-1", "v1.28.4"));
    fake.put(&Kind::NODE, node("worker-2", "v1.28.4"));
    fake.put(
        &Kind::CONFIG_MAP,
        json!({"metadata": {"name": "istio-sidecar-injector", "namespace": NS},
               "data": {"config": embedded::CONFIG, "values": embedded::VALUES}}),
    );
    fake.put(
        &Kind::CONFIG_MAP,
        json!({"metadata": {"name": "istio", "namespace": NS},
               "data": {"mesh": embedded::MESH}}),
    );
    fake
}

/// Registers `injector` as the cluster's mutating webhook for pods.
fn register(fake: &FakeApiServer, injector: &Webhook) {
    let ca = base64::engine::general_purpose::STANDARD.encode(injector.ca.pem());
    fake.put(
        &Kind::MUTATING_WEBHOOK_CONFIGURATION,
        json!({
            "metadata": {"name": "sidecar-injector"},
            "webhooks": [{
                "name": "sidecar-injector.istio.io",
                "clientConfig": {"url": format!("https://{}/inject", injector.addr), "caBundle": ca},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "failurePolicy": "Fail",
                "timeoutSeconds": 10,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }],
        }),
    );
}

/// The config server's snapshot once its decision is `native`: its hash
/// and the decision's reason.
async fn decided(server: &ConfigServer, native: bool) -> (String, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = server.status().await;
        if let Some(current) = status.current
            && let Some(facts) = current.cluster
            && facts.native_sidecars == native
        {
            return (current.hash, facts.reason);
        }
        assert!(
            Instant::now() < deadline,
            "the config server never decided native={native}: {:?}",
            status.cluster
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the injector serves the snapshot with `hash`.
fn serving(injector: &Webhook, hash: &str) {
    let line = tokio::task::block_in_place(|| injector.wait_for_log(&["serving snapshot", hash]));
    assert!(line.is_some(), "the injector never served {hash}");
}

fn app_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "ratings"}},
        "spec": {"containers": [{"name": "ratings", "image": "ratings:1",
                                 "ports": [{"containerPort": 9080}]}]},
    }))
    .unwrap()
}

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod["spec"][list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// Creates pod `name` in `shop` through the API server; the stored pod.
async fn create(fake: &FakeApiServer, name: &str) -> Result<Value, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(fake.client(), "shop");
    let created = pods.create(&PostParams::default(), &app_pod(name)).await?;
    let stored = fake
        .get(&Kind::POD, "shop", name)
        .expect("the pod is stored");
    assert_eq!(
        serde_json::to_value(&created).unwrap()["spec"],
        stored["spec"]
    );
    Ok(stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_sidecars_on_1_28_then_native_after_the_upgrade_with_no_restart() {
    let fake = cluster_at_1_28().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), &fake.url());
    let server = ConfigServer::start_kube(&kubeconfig, &["--version-poll-interval", "200ms"]);
    let (classic_hash, reason) = decided(&server, false).await;
    assert_eq!(
        reason,
        "the API server runs v1.28.4; native sidecars need 1.33 or later"
    );
    let status = server.status_cli();
    assert!(
        status.contains(
            "native sidecars: auto (classic): the API server runs v1.28.4; native sidecars need 1.33 or later"
        ),
        "{status}"
    );
    let url = server.url();
    let injector = Webhook::start(&["--config-server", &url]);
    serving(&injector, &classic_hash);
    register(&fake, &injector);

    let pod = create(&fake, "ratings-classic").await.unwrap();
    assert_eq!(names(&pod, "initContainers"), ["istio-init"]);
    assert_eq!(names(&pod, "containers"), ["ratings", "istio-proxy"]);
    assert!(
        pod["spec"]["initContainers"][0]
            .get("restartPolicy")
            .is_none()
    );
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .any(|r| r == "POST /api/v1/namespaces/shop/pods?"),
        "{requests:?}"
    );

    // The control plane, then the kubelets, move to 1.33.
    fake.set_version("v1.33.1");
    fake.put(&Kind::NODE, node("worker-1", "v1.33.1"));
    let pod = create(&fake, "ratings-mid-upgrade").await.unwrap();
    assert_eq!(names(&pod, "containers"), ["ratings", "istio-proxy"]);
    fake.put(&Kind::NODE, node("worker-2", "v1.33.1"));
    let (native_hash, reason) = decided(&server, true).await;
    assert_ne!(native_hash, classic_hash);
    assert!(reason.contains("all 2 node(s)"), "{reason}");
    serving(&injector, &native_hash);

    let pod = create(&fake, "ratings-native").await.unwrap();
    assert_eq!(names(&pod, "initContainers"), ["istio-init", "istio-proxy"]);
    assert_eq!(names(&pod, "containers"), ["ratings"]);
    assert_eq!(pod["spec"]["initContainers"][1]["restartPolicy"], "Always");
    let status: Value = serde_json::from_str(
        pod["metadata"]["annotations"]["sidecar.istio.io/status"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(status["templateHash"], json!(native_hash));

    // The per-pod annotation still wins.
    let pods: Api<Pod> = Api::namespaced(fake.client(), "shop");
    let mut opted_out = app_pod("ratings-opted-out");
    opted_out.metadata.annotations = Some(
        [(
            "sidecar.istio.io/nativeSidecar".to_string(),
            "false".to_string(),
        )]
        .into(),
    );
    let created = pods
        .create(&PostParams::default(), &opted_out)
        .await
        .unwrap();
    let created = serde_json::to_value(&created).unwrap();
    assert_eq!(names(&created, "containers"), ["ratings", "istio-proxy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_sidecars_forced_on_1_28_are_refused_as_the_issue_reports() {
    let fake = cluster_at_1_28().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), &fake.url());
    let server = ConfigServer::start_kube(&kubeconfig, &["--native-sidecars", "true"]);
    let (hash, reason) = decided(&server, true).await;
    assert_eq!(reason, "native sidecars are forced on");
    let url = server.url();
    let injector = Webhook::start(&["--config-server", &url]);
    serving(&injector, &hash);
    register(&fake, &injector);

    let refused = create(&fake, "ratings").await.unwrap_err();
    let kube::Error::Api(status) = refused else {
        panic!("not an API error: {refused}");
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.contains(
            "spec.initContainers[1].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always"
        ) && status.message.contains("spec.initContainers[1].readinessProbe")
            && status.message.contains("spec.initContainers[1].startupProbe"),
        "{}",
        status.message
    );
    assert!(fake.get(&Kind::POD, "shop", "ratings").is_none());
}
