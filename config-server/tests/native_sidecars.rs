//! The native-sidecar decision against a fake API server: nodes at 1.28,
//! at 1.33 and mixed give the right mode, and a node that joins or is
//! upgraded switches it, and the snapshot with it, with no restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::sync::Arc;
use std::time::Duration;

use config_server::cluster;
use config_server::hub::Hub;
use config_server::snapshot::Publisher;
use config_server::source::kube::{INJECTOR_CONFIGMAP, MESH_CONFIGMAP, run};
use edge::native::Mode;
use injector_engine::config::embedded;
use kube::runtime::events::Reporter;
use proto::v1::{ClusterFacts, Snapshot};
use serde_json::json;
use test_support::config::eventually;
use test_support::fake_apiserver::{FakeApiServer, Kind, node};
use tokio::sync::watch;

const NS: &str = "istio-system";
const WAIT: Duration = Duration::from_secs(10);

/// A config server's kube source and detector on `fake`, in auto mode,
/// reading `/version` every 100 ms.
fn start(fake: &FakeApiServer) -> (Arc<Hub>, tokio::task::JoinHandle<()>) {
    fake.put(
        &Kind::CONFIG_MAP,
        json!({"metadata": {"name": INJECTOR_CONFIGMAP, "namespace": NS},
               "data": {"config": embedded::CONFIG, "values": embedded::VALUES}}),
    );
    fake.put(
        &Kind::CONFIG_MAP,
        json!({"metadata": {"name": MESH_CONFIGMAP, "namespace": NS},
               "data": {"mesh": embedded::MESH}}),
    );
    let hub = Hub::new();
    let mut publisher = Publisher::new(Arc::clone(&hub), None, None);
    let client = fake.client();
    let reporter = Reporter {
        controller: "config-server".into(),
        instance: Some("config-server-0".into()),
    };
    let (decisions, decided) = watch::channel(None);
    let detect = cluster::detect(
        client.clone(),
        Mode::Auto,
        Duration::from_millis(100),
        decisions,
    );
    let task = tokio::spawn(async move {
        tokio::join!(run(client, NS, reporter, &mut publisher, decided), detect);
    });
    (hub, task)
}

/// The current snapshot once it says `native`.
async fn snapshot_with(hub: &Hub, native: bool) -> (Snapshot, ClusterFacts) {
    let found = eventually(WAIT, || {
        let current = hub.current()?;
        let facts = current.cluster.clone()?;
        (facts.native_sidecars == native).then(|| ((*current).clone(), facts))
    })
    .await;
    found.unwrap_or_else(|| {
        panic!(
            "no snapshot with native_sidecars={native}; status: {:?}",
            hub.status().cluster
        )
    })
}

#[tokio::test]
async fn old_kubelets_mean_classic_sidecars_until_every_node_runs_1_33() {
    let fake = FakeApiServer::start().await;
    fake.set_version("v1.33.1");
    fake.put(&Kind::NODE, node("worker-1", "v1.28.4"));
    fake.put(&Kind::NODE, node("worker-2", "v1.28.4-gke.100"));
    let (hub, task) = start(&fake);

    // All at 1.28: classic, and the first snapshot already says so.
    let (first, facts) = snapshot_with(&hub, false).await;
    assert_eq!(
        first.version, 1,
        "the first snapshot waits for the decision"
    );
    assert_eq!(facts.mode, "auto");
    assert_eq!(
        facts.reason,
        "node worker-1 runs kubelet v1.28.4; native sidecars need 1.33 or later"
    );

    // Mixed: one node upgraded, still classic, now for the other node.
    fake.put(&Kind::NODE, node("worker-1", "v1.33.1"));
    let reason = eventually(WAIT, || {
        let facts = hub.status().cluster?;
        facts.reason.contains("worker-2").then_some(facts)
    })
    .await
    .expect("the decision follows the upgrade");
    assert!(!reason.native_sidecars, "{reason:?}");
    assert_eq!(
        hub.current().unwrap().version,
        1,
        "nothing changed for pods"
    );

    // Both at 1.33: native, a new snapshot with a new hash, no restart.
    fake.put(&Kind::NODE, node("worker-2", "v1.33.0+k3s1"));
    let (native, facts) = snapshot_with(&hub, true).await;
    assert_eq!(native.version, 2);
    assert_ne!(native.hash, first.hash);
    assert_eq!(
        facts.reason,
        "the API server runs v1.33.1 and all 2 node(s) run kubelet 1.33 or later"
    );
    let event = eventually(WAIT, || {
        fake.list(&Kind::EVENT, Some(NS))
            .into_iter()
            .find(|e| e["reason"] == "NativeSidecarsOn")
    })
    .await
    .expect("an Event for the switch");
    assert_eq!(event["type"], "Normal");
    assert_eq!(event["regarding"]["name"], INJECTOR_CONFIGMAP);

    // A node joins with an old kubelet: back to classic, and the content is
    // the first snapshot's again.
    fake.put(&Kind::NODE, node("worker-3", "v1.29.2"));
    let (classic, facts) = snapshot_with(&hub, false).await;
    assert_eq!(classic.version, 3);
    assert_eq!(classic.hash, first.hash);
    assert!(facts.reason.contains("worker-3"), "{facts:?}");

    // It leaves: native again.
    assert!(fake.remove(&Kind::NODE, "", "worker-3"));
    let (again, _) = snapshot_with(&hub, true).await;
    assert_eq!(again.hash, native.hash);
    task.abort();
}

#[tokio::test]
async fn an_old_api_server_means_classic_whatever_the_nodes_and_its_upgrade_switches() {
    let fake = FakeApiServer::start().await;
    fake.set_version("v1.28.4");
    fake.put(&Kind::NODE, node("worker-1", "v1.33.0"));
    let (hub, task) = start(&fake);
    let (_, facts) = snapshot_with(&hub, false).await;
    assert_eq!(
        facts.reason,
        "the API server runs v1.28.4; native sidecars need 1.33 or later"
    );

    // The control plane is upgraded: read on the next poll.
    fake.set_version("v1.33.2");
    let (_, facts) = snapshot_with(&hub, true).await;
    assert!(facts.reason.contains("all 1 node(s)"), "{facts:?}");
    task.abort();
}

#[tokio::test]
async fn a_new_cluster_with_no_nodes_yet_is_native_as_in_istio() {
    let fake = FakeApiServer::start().await;
    fake.set_version("v1.34.0");
    let (hub, task) = start(&fake);
    let (snapshot, facts) = snapshot_with(&hub, true).await;
    assert_eq!(snapshot.version, 1);
    assert!(facts.reason.contains("no nodes yet"), "{facts:?}");
    task.abort();
}
