//! The config server's `kube` source against a fake API server that keeps
//! the list/watch contract: the two ConfigMaps are created, edited (well and
//! badly), deleted and recreated, the watches are dropped (resume) and the
//! history compacted under them (410 Gone, relist).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::sync::Arc;
use std::time::Duration;

use config_server::hub::Hub;
use config_server::snapshot::Publisher;
use config_server::source::kube::{INJECTOR_CONFIGMAP, MESH_CONFIGMAP, run};
use edge::native::{Mode, decide};
use injector_engine::config::embedded;
use kube::runtime::events::Reporter;
use proto::v1::provenance;
use serde_json::{Value, json};
use test_support::config::{BROKEN_CONFIG, config_with_marker, eventually};
use test_support::fake_apiserver::{FakeApiServer, Kind};
use tokio::sync::watch;

const NS: &str = "istio-system";
const WAIT: Duration = Duration::from_secs(10);

fn injector_cm(config: &str) -> Value {
    json!({
        "metadata": {"name": INJECTOR_CONFIGMAP, "namespace": NS},
        "data": {"config": config, "values": embedded::VALUES},
    })
}

fn mesh_cm(mesh: &str) -> Value {
    json!({
        "metadata": {"name": MESH_CONFIGMAP, "namespace": NS},
        "data": {"mesh": mesh},
    })
}

async fn version_becomes(hub: &Hub, version: u64) -> proto::v1::Snapshot {
    let found = eventually(WAIT, || {
        hub.current()
            .filter(|s| s.version >= version)
            .map(|s| (*s).clone())
    })
    .await;
    let snapshot = found.unwrap_or_else(|| panic!("no snapshot {version}; {}", summary(hub)));
    assert_eq!(snapshot.version, version, "skipped a version");
    snapshot
}

async fn rejections_become(hub: &Hub, total: u64) -> String {
    eventually(WAIT, || {
        let status = hub.status();
        (status.rejected_total >= total).then(|| status.last_rejection.unwrap_or_default().reason)
    })
    .await
    .unwrap_or_else(|| panic!("no rejection {total}; {}", summary(hub)))
}

fn summary(hub: &Hub) -> String {
    let status = hub.status();
    format!(
        "current version {:?}, {} rejected, last: {:?}",
        status.current.map(|s| s.version),
        status.rejected_total,
        status.last_rejection.map(|r| r.reason)
    )
}

fn list_requests(fake: &FakeApiServer) -> usize {
    fake.requests()
        .iter()
        .filter(|r| {
            r.starts_with("GET /api/v1/namespaces/istio-system/configmaps?")
                && !r.contains("watch=true")
        })
        .count()
}

#[tokio::test]
async fn kube_source_follows_the_configmaps_through_edits_deletes_and_watch_failures() {
    let fake = FakeApiServer::start_with(Duration::from_millis(200)).await;
    fake.put(&Kind::CONFIG_MAP, injector_cm(&config_with_marker("1")));
    fake.put(&Kind::CONFIG_MAP, mesh_cm(embedded::MESH));
    let unrelated = json!({"metadata": {"name": "unrelated", "namespace": NS}, "data": {"a": "1"}});
    fake.put(&Kind::CONFIG_MAP, unrelated.clone());

    let hub = Hub::new();
    let classic = decide(Mode::False, None);
    let mut publisher = Publisher::new(Arc::clone(&hub), None, None);
    let client = fake.client();
    let reporter = Reporter {
        controller: "config-server".into(),
        instance: Some("config-server-0".into()),
    };
    let (_decisions, cluster) = watch::channel(Some(classic));
    let source =
        tokio::spawn(async move { run(client, NS, reporter, &mut publisher, cluster).await });

    // Both ConfigMaps listed: version 1, with their resourceVersions.
    let first = version_becomes(&hub, 1).await;
    let injector_rv =
        fake.get(&Kind::CONFIG_MAP, NS, INJECTOR_CONFIGMAP).unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
    let provenance_of = |snapshot: &proto::v1::Snapshot, key: &str| match snapshot
        .provenance
        .iter()
        .find(|p| p.key == key)
        .and_then(|p| p.source.clone())
    {
        Some(provenance::Source::ConfigMap(cm)) => cm,
        other => panic!("no ConfigMap provenance for {key}: {other:?}"),
    };
    let config_ref = provenance_of(&first, "config");
    assert_eq!(
        (
            config_ref.name.as_str(),
            config_ref.resource_version.as_str()
        ),
        (INJECTOR_CONFIGMAP, injector_rv.as_str())
    );
    assert_eq!(provenance_of(&first, "mesh").name, MESH_CONFIGMAP);
    // Every list and watch is field-selected by name: the server never reads
    // other ConfigMaps (and RBAC can name the two it may).
    let requests = fake.requests();
    assert!(!requests.is_empty());
    for request in requests.iter().filter(|r| r.contains("/configmaps")) {
        assert!(request.contains("fieldSelector=metadata.name"), "{request}");
    }

    // An update.
    fake.put(&Kind::CONFIG_MAP, injector_cm(&config_with_marker("2")));
    let second = version_becomes(&hub, 2).await;
    assert_ne!(second.hash, first.hash);

    // A broken template: refused with the reason, reported as an Event on
    // the ConfigMap, and version 2 stays.
    fake.put(&Kind::CONFIG_MAP, injector_cm(BROKEN_CONFIG));
    let reason = rejections_become(&hub, 1).await;
    assert!(
        reason.contains("configmap istio-system/istio-sidecar-injector"),
        "{reason}"
    );
    assert!(reason.contains("sidecar"), "{reason}");
    let event = eventually(WAIT, || {
        fake.list(&Kind::EVENT, Some(NS)).into_iter().next()
    })
    .await
    .expect("a Kubernetes Event for the rejected edit");
    assert_eq!(event["regarding"]["kind"], "ConfigMap");
    assert_eq!(event["regarding"]["name"], INJECTOR_CONFIGMAP);
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "InvalidConfiguration");
    assert!(
        event["note"].as_str().unwrap().contains("sidecar"),
        "{event}"
    );
    assert_eq!(hub.current().unwrap().hash, second.hash);

    // Fixed: version 3.
    fake.put(&Kind::CONFIG_MAP, injector_cm(&config_with_marker("3")));
    let third = version_becomes(&hub, 3).await;

    // The mesh ConfigMap deleted: refused as not found, version 3 stays;
    // recreated with new content: version 4.
    assert!(fake.remove(&Kind::CONFIG_MAP, NS, MESH_CONFIGMAP));
    let reason = rejections_become(&hub, 2).await;
    assert_eq!(reason, "ConfigMap istio-system/istio not found");
    assert_eq!(hub.current().unwrap().hash, third.hash);
    let mesh_v2 =
        embedded::MESH.replacen("trustDomain: cluster.local", "trustDomain: e2e.example", 1);
    assert_ne!(mesh_v2, embedded::MESH);
    fake.put(&Kind::CONFIG_MAP, mesh_cm(&mesh_v2));
    version_becomes(&hub, 4).await;

    // Changes to a ConfigMap outside the selection are never seen.
    let mut changed = unrelated.clone();
    changed["data"]["a"] = json!("2");
    fake.put(&Kind::CONFIG_MAP, changed);

    // A dropped watch resumes from its resourceVersion: no relist, and the
    // edit made meanwhile still arrives.
    let lists = list_requests(&fake);
    fake.disconnect_watches();
    fake.put(&Kind::CONFIG_MAP, injector_cm(&config_with_marker("5")));
    version_becomes(&hub, 5).await;
    assert_eq!(
        list_requests(&fake),
        lists,
        "a resumed watch must not relist"
    );

    // History compacted during an outage: the resumed watch gets 410 Gone
    // and the watcher relists, finding the edit made during the outage.
    fake.outage(|fake| {
        fake.put(&Kind::CONFIG_MAP, injector_cm(&config_with_marker("6")));
    });
    version_becomes(&hub, 6).await;
    assert!(list_requests(&fake) > lists, "410 Gone must cause a relist");
    assert_eq!(hub.status().rejected_total, 2);

    source.abort();
}
