//! The snapshot stream between the config server's service and the
//! injector's client, in one process: a snapshot the injector cannot
//! compile is NACKed with the engine's error and the previous engine keeps
//! serving. (Losing and regaining the server is tested with real processes
//! in `config_plane.rs`: a server task aborted in-process would leave its
//! connections open.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::sync::Arc;
use std::time::Duration;

use config_server::hub::Hub;
use config_server::service::Service;
use injector::snapshot::SnapshotStore;
use injector::snapshot::client::Client;
use injector_engine::RawConfig;
use proto::SnapshotServiceServer;
use proto::v1::{Identity, Snapshot};
use test_support::config::{BROKEN_CONFIG, eventually};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

const WAIT: Duration = Duration::from_secs(10);

/// A snapshot of `raw` as the server would send it, without the server's
/// validation: the only way to hand an injector something it cannot
/// compile, which a real server never publishes.
fn unvalidated(raw: &RawConfig, version: u64, hash: &str) -> Snapshot {
    Snapshot {
        version,
        hash: hash.to_string(),
        config: raw.config.body.clone(),
        values: raw.values.body.clone(),
        mesh: raw.mesh.body.clone(),
        ..Snapshot::default()
    }
}

/// Serves `hub` on `listener` until the returned task is aborted.
fn serve(hub: Arc<Hub>, listener: TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(SnapshotServiceServer::new(Service::new(hub)))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("server runs");
    })
}

/// A hub holding the embedded configuration as version 1, served, and an
/// injector's client streaming from it into a store.
struct Plane {
    hub: Arc<Hub>,
    store: Arc<SnapshotStore>,
    embedded: RawConfig,
    good_hash: String,
    server: tokio::task::JoinHandle<()>,
    running: tokio::task::JoinHandle<()>,
}

impl Plane {
    async fn start() -> Plane {
        let hub = Hub::new();
        let embedded = RawConfig::embedded();
        let good_hash = embedded.parse().unwrap().hash().unwrap();
        hub.publish(unvalidated(&embedded, 1, &good_hash));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = serve(Arc::clone(&hub), listener);
        let store = Arc::new(SnapshotStore::default());
        let identity = Identity {
            pod_name: "injector-under-test".into(),
            binary_version: "0.1.0".into(),
        };
        let client = Client::new(&format!("http://{addr}"), identity, None).unwrap();
        let running = tokio::spawn(client.run(Arc::clone(&store)));
        Plane {
            hub,
            store,
            embedded,
            good_hash,
            server,
            running,
        }
    }

    fn stop(self) {
        self.running.abort();
        self.server.abort();
    }
}

#[tokio::test]
async fn an_uncompilable_snapshot_is_nacked_and_the_old_engine_stays() {
    let plane = Plane::start().await;

    let acked = eventually(WAIT, || {
        let status = plane.hub.status();
        let replica = status.replicas.first()?;
        (replica.acked_version == 1).then(|| replica.clone())
    })
    .await
    .expect("the first snapshot is ACKed");
    assert_eq!(acked.acked_hash, plane.good_hash);
    assert_eq!(acked.identity.unwrap().pod_name, "injector-under-test");
    assert_eq!(plane.store.load().unwrap().engine.hash(), plane.good_hash);

    let mut broken = plane.embedded.clone();
    broken.config.body = BROKEN_CONFIG.to_string();
    plane.hub.publish(unvalidated(&broken, 2, "sha256:broken"));
    let nack = eventually(WAIT, || {
        plane.hub.status().replicas.first()?.last_nack.clone()
    })
    .await
    .expect("the broken snapshot is NACKed");
    assert_eq!((nack.version, nack.hash.as_str()), (2, "sha256:broken"));
    assert!(nack.error.contains("sidecar"), "{}", nack.error);
    assert!(
        nack.error.contains("snapshot 2 from the config server"),
        "{}",
        nack.error
    );
    let replica = plane.hub.status().replicas[0].clone();
    assert_eq!((replica.acked_version, replica.nacks_total), (1, 1));
    assert_eq!(plane.store.load().unwrap().engine.hash(), plane.good_hash);
    assert_eq!(plane.store.swaps(), 1);
    plane.stop();
}

/// A snapshot over the gRPC message limit (which a config server never
/// publishes) fails the injector's decoder: the stream breaks, the
/// injector keeps its engine and reconnects, and takes the next snapshot.
#[tokio::test]
async fn a_snapshot_over_the_message_limit_is_refused_and_the_old_engine_stays() {
    let plane = Plane::start().await;
    eventually(WAIT, || plane.store.load())
        .await
        .expect("the first snapshot is served");

    let mut huge = plane.embedded.clone();
    huge.values.body = format!("{{\"pad\": \"{}\"}}", "x".repeat(proto::MAX_MESSAGE_BYTES));
    plane.hub.publish(unvalidated(&huge, 2, "sha256:huge"));
    // The replica that ACKed version 1 went away and came back: its new
    // stream was sent version 2 and has ACKed nothing.
    eventually(WAIT, || {
        let replica = plane.hub.status().replicas.into_iter().next()?;
        (replica.sent_version == 2 && replica.acked_version == 0).then_some(())
    })
    .await
    .expect("the injector refused the snapshot and reconnected");
    assert_eq!(plane.store.load().unwrap().engine.hash(), plane.good_hash);
    assert_eq!(plane.store.swaps(), 1);

    let mut next = plane.embedded.clone();
    let mut values: serde_json::Value = serde_json::from_str(&plane.embedded.values.body).unwrap();
    values["unused"] = serde_json::json!(3);
    next.values.body = values.to_string();
    let next_hash = next.parse().unwrap().hash().unwrap();
    plane.hub.publish(unvalidated(&next, 3, &next_hash));
    eventually(WAIT, || {
        (plane.store.load()?.engine.hash() == next_hash).then_some(())
    })
    .await
    .expect("the next snapshot within the limit is served");
    plane.stop();
}
