//! `config-server drift` as an operator runs it, against the fake API
//! server: a kubeconfig points the real binary at it, the pod list holds
//! current, outdated and uninjected pods, and the report names the
//! workloads to restart.

use std::process::Command;

use e2e::cargo_bin::cargo_bin;
use e2e::config_plane::kubeconfig;
use serde_json::{Value, json};
use test_support::fake_apiserver::{FakeApiServer, Kind};

fn pod(ns: &str, name: &str, owner: Option<(&str, &str, &str)>, hash: Option<&str>) -> Value {
    let mut p = json!({
        "metadata": {"name": name, "namespace": ns, "labels": {}},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    });
    if let Some((api_version, kind, owner_name)) = owner {
        p["metadata"]["ownerReferences"] = json!([{"apiVersion": api_version, "kind": kind, "name": owner_name, "uid": "u", "controller": true}]);
        if kind == "ReplicaSet" {
            p["metadata"]["labels"]["pod-template-hash"] =
                json!(owner_name.rsplit('-').next().unwrap());
        }
    }
    if let Some(h) = hash {
        let status = json!({"initContainers": ["istio-init", "istio-proxy"], "containers": [], "volumes": [], "revision": "default", "templateHash": h});
        p["metadata"]["annotations"] = json!({"sidecar.istio.io/status": status.to_string()});
    }
    p
}

/// Runs the binary on a blocking thread: the fake API server it talks to
/// runs on this test's runtime.
async fn run_drift(kubeconfig: &std::path::Path, extra: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(cargo_bin("config-server", "config-server"));
    command
        .arg("drift")
        .args(extra)
        .env("KUBECONFIG", kubeconfig);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn drift_lists_outdated_pods_by_workload() {
    let fake = FakeApiServer::start().await;
    let rs = Some(("apps/v1", "ReplicaSet", "web-6d5f7"));
    for p in [
        pod("shop", "web-6d5f7-a", rs, Some("sha256:current")),
        pod("shop", "web-6d5f7-b", rs, Some("sha256:previous")),
        pod(
            "shop",
            "db-0",
            Some(("apps/v1", "StatefulSet", "db")),
            Some("sha256:previous"),
        ),
        pod(
            "shop",
            "report-28-x",
            Some(("batch/v1", "Job", "report-28")),
            Some("sha256:current"),
        ),
        pod("ops", "debug", None, None),
        pod("ops", "legacy", None, Some("")),
    ] {
        fake.put(&Kind::POD, p);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &fake.url());

    let (ok, stdout, stderr) = run_drift(&config, &["--hash", "sha256:current"]).await;
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "current template hash: sha256:current");
    let row = |workload: &str| lines.iter().find(|l| l.contains(workload)).copied();
    let web = row("Deployment/web").expect("the Deployment is listed");
    assert!(
        web.starts_with("shop") && web.contains("1/2") && web.contains("sha256:previous (1)"),
        "{web}"
    );
    assert!(
        row("StatefulSet/db").is_some_and(|l| l.contains("1/1")),
        "{stdout}"
    );
    assert!(
        row("Pod/legacy").is_some_and(|l| l.contains("(none)")),
        "a status without a hash is outdated: {stdout}"
    );
    assert!(
        row("CronJob/report").is_none() && row("Pod/debug").is_none(),
        "current and uninjected pods are not listed: {stdout}"
    );
    assert!(
        stdout.contains("3 pods in 3 workloads run an outdated sidecar"),
        "{stdout}"
    );

    // One namespace only.
    let (ok, stdout, _) = run_drift(&config, &["--hash", "sha256:current", "-n", "ops"]).await;
    assert!(ok);
    assert!(
        stdout.contains("Pod/legacy") && !stdout.contains("Deployment/web"),
        "{stdout}"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/ops/pods")),
        "{:?}",
        fake.requests()
    );

    // Without --hash it asks the config server; none is running.
    let (ok, _, stderr) = run_drift(&config, &["--server", "http://127.0.0.1:9"]).await;
    assert!(
        !ok && stderr.contains("cannot connect to http://127.0.0.1:9: transport error: "),
        "{stderr}"
    );
}
