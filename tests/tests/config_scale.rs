//! One config server holding 1,000 injector streams: every simulated
//! replica gets the current snapshot on connecting, then a new one after a
//! change to the directory, and ACKs it. Prints the time to deliver to all
//! and the server's memory (run with `--nocapture` to see them).
//!
//! The replicas are bare protocol clients, one HTTP/2 connection each as
//! real injectors have, that ACK without compiling: this measures the
//! server, not 1,000 engines on one test machine.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::config_plane::{ConfigServer, hash_of, memory_kib, write_config};
use proto::SnapshotServiceClient;
use proto::v1::{Ack, Identity, StreamRequest, stream_request};
use test_support::config::{config_with_marker, eventually};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const REPLICAS: usize = 1000;
const WAIT: Duration = Duration::from_secs(60);

/// What each replica last received, and when.
type Received = Arc<Mutex<Vec<Option<(String, Instant)>>>>;

/// Connects replica `index`, then ACKs every snapshot until the test ends.
async fn replica(url: String, index: usize, received: Received) {
    let channel = tonic::transport::Endpoint::from_shared(url)
        .expect("valid URL")
        .connect()
        .await
        .expect("connect");
    let (replies, outbound) = mpsc::channel(4);
    let hello = Identity {
        pod_name: format!("replica-{index}"),
        binary_version: "0.1.0".into(),
    };
    replies
        .send(StreamRequest {
            kind: Some(stream_request::Kind::Hello(hello)),
        })
        .await
        .expect("queue hello");
    let mut snapshots = SnapshotServiceClient::new(channel)
        .stream(ReceiverStream::new(outbound))
        .await
        .expect("open stream")
        .into_inner();
    while let Ok(Some(snapshot)) = snapshots.message().await {
        received.lock().unwrap()[index] = Some((snapshot.hash.clone(), Instant::now()));
        let ack = Ack {
            hash: snapshot.hash,
            version: snapshot.version,
        };
        if replies
            .send(StreamRequest {
                kind: Some(stream_request::Kind::Ack(ack)),
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The latest time any replica received `hash`, once all have.
fn all_received(received: &Received, hash: &str) -> Option<Instant> {
    let received = received.lock().unwrap();
    received
        .iter()
        .map(|r| r.as_ref().filter(|(h, _)| h == hash).map(|(_, at)| *at))
        .collect::<Option<Vec<Instant>>>()
        .and_then(|times| times.into_iter().max())
}

#[tokio::test(flavor = "multi_thread")]
async fn one_server_pushes_a_new_snapshot_to_1000_streams() {
    let dir = tempfile::tempdir().unwrap();
    let first = config_with_marker("scale-1");
    write_config(dir.path(), &first);
    let server = ConfigServer::start(dir.path(), "127.0.0.1:0", &[]);
    let (idle_rss, _) = memory_kib(server.process.id());

    let received: Received = Arc::new(Mutex::new(vec![None; REPLICAS]));
    let connecting = Instant::now();
    let url = server.url();
    // Connect in waves of 50, as a rollout would, not 1,000 SYNs at once.
    let mut tasks = Vec::with_capacity(REPLICAS);
    for i in 0..REPLICAS {
        tasks.push(tokio::spawn(replica(url.clone(), i, Arc::clone(&received))));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eventually(WAIT, || all_received(&received, &hash_of(&first)))
        .await
        .expect("every replica gets the current snapshot");
    let connected_in = connecting.elapsed();
    let status = server.status().await;
    assert_eq!(status.replicas.len(), REPLICAS);

    let second = config_with_marker("scale-2");
    let second_hash = hash_of(&second);
    let changed = Instant::now();
    write_config(dir.path(), &second);
    let last = eventually(WAIT, || all_received(&received, &second_hash))
        .await
        .expect("every replica gets the new snapshot");
    let delivered_in = last - changed;
    let deadline = Instant::now() + WAIT;
    loop {
        let status = server.status().await;
        let acked = status
            .replicas
            .iter()
            .filter(|r| r.acked_hash == second_hash)
            .count();
        if acked == REPLICAS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {acked} of {REPLICAS} ACKs recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (rss, peak) = memory_kib(server.process.id());
    println!(
        "config-server with {REPLICAS} streams: all connected and served in {connected_in:?}; \
         file change to all {REPLICAS} holding the new snapshot: {delivered_in:?}; \
         RSS idle {} MiB, with streams {} MiB (peak {} MiB)",
        idle_rss / 1024,
        rss / 1024,
        peak / 1024
    );
    assert!(delivered_in < Duration::from_secs(5), "{delivered_in:?}");
    for task in tasks {
        task.abort();
    }
}
