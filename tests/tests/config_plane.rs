//! The config plane end to end, with the real binaries on loopback: a
//! config server on a kubelet-style directory, injectors streaming from it,
//! admission load at every injector throughout.

use std::time::{Duration, Instant};

use e2e::atomic_dir::AtomicDir;
use e2e::config_plane::{AdmissionLoad, ConfigServer, hash_of};
use e2e::webhook::Webhook;
use injector_engine::config::embedded;
use test_support::config::{BROKEN_CONFIG, config_with_marker, eventually};

const WAIT: Duration = Duration::from_secs(20);

/// The three key files, as a mounted ConfigMap directory holds them.
fn files(config: &str) -> [(&'static str, String); 3] {
    [
        ("config", config.to_string()),
        ("values", embedded::VALUES.to_string()),
        ("mesh", embedded::MESH.to_string()),
    ]
}

fn config_dir(config: &str) -> AtomicDir {
    let files = files(config);
    let refs: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    AtomicDir::new(&refs)
}

/// Swaps in a new `config` the way the kubelet updates a mounted ConfigMap.
fn update(dir: &mut AtomicDir, config: &str) {
    let files = files(config);
    let refs: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    dir.update(&refs);
}

/// An injector streaming from `server`, once it is ready (holds a
/// snapshot).
async fn injector(server: &ConfigServer, name: &str) -> Webhook {
    let webhook = Webhook::start(&["--config-server", &server.url(), "--pod-name", name]);
    assert!(
        webhook.ready_within(WAIT).await,
        "{name} never became ready"
    );
    webhook
}

async fn injectors(server: &ConfigServer, count: usize) -> Vec<Webhook> {
    let mut started = Vec::new();
    for i in 0..count {
        started.push(injector(server, &format!("injector-{i}")).await);
    }
    started
}

/// Waits until every injector answers with `hash`; returns when the last
/// one first did.
async fn all_serve(load: &AdmissionLoad, injectors: usize, hash: &str) -> Instant {
    eventually(WAIT, || {
        (0..injectors)
            .map(|i| load.first_seen(i, hash))
            .collect::<Option<Vec<Instant>>>()
            .and_then(|times| times.into_iter().max())
    })
    .await
    .unwrap_or_else(|| {
        let latest: Vec<_> = (0..injectors).map(|i| load.latest(i)).collect();
        panic!(
            "not every injector serves {hash}; latest: {latest:?}; failures: {:?}",
            load.failures()
        )
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_rewrites_reach_every_replica_without_a_failed_admission() {
    let mut dir = config_dir(&config_with_marker("0"));
    let server = ConfigServer::start(dir.path(), "127.0.0.1:0", &[]);
    let injectors = injectors(&server, 3).await;
    let load = AdmissionLoad::start(&injectors.iter().collect::<Vec<_>>(), 2);
    all_serve(&load, 3, &hash_of(&config_with_marker("0"))).await;

    let mut latencies = Vec::new();
    let mut newest = String::new();
    for generation in 1..=20 {
        let config = config_with_marker(&generation.to_string());
        newest = hash_of(&config);
        let changed = Instant::now();
        update(&mut dir, &config);
        let served = all_serve(&load, 3, &newest).await;
        latencies.push(served.saturating_duration_since(changed));
    }
    // Keep the load on a little after the last swap.
    assert!(
        load.answered(100).await,
        "admissions stopped after the last swap"
    );
    let (ok, failures) = load.stop().await;
    assert!(
        failures.is_empty(),
        "{} failed admissions: {failures:?}",
        failures.len()
    );

    // Status: the newest snapshot, ACKed by all three replicas.
    let status = server.status().await;
    let current = status.current.expect("a current snapshot");
    assert_eq!(
        (current.version, current.hash.as_str()),
        (21, newest.as_str())
    );
    let mut names: Vec<String> = status
        .replicas
        .iter()
        .map(|r| {
            assert_eq!(
                (r.acked_version, r.acked_hash.as_str()),
                (21, newest.as_str()),
                "{r:?}"
            );
            r.identity.clone().unwrap_or_default().pod_name
        })
        .collect();
    names.sort();
    assert_eq!(names, ["injector-0", "injector-1", "injector-2"]);

    latencies.sort();
    println!(
        "config plane: {ok} admissions, 0 failed; file change to all 3 replicas serving the new \
         hash over 20 rewrites: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn injectors_ride_out_a_dead_server_a_broken_template_and_a_snapshot_they_refuse() {
    let first = config_with_marker("a");
    let mut dir = config_dir(&first);
    let server = ConfigServer::start(dir.path(), "127.0.0.1:0", &[]);
    let listen = server.addr.to_string();
    let injectors = injectors(&server, 2).await;
    let load = AdmissionLoad::start(&injectors.iter().collect::<Vec<_>>(), 2);
    all_serve(&load, 2, &hash_of(&first)).await;

    // The server killed under load: injectors keep answering with the
    // snapshot they hold, including through an edit made meanwhile.
    drop(server);
    let second = config_with_marker("b");
    update(&mut dir, &second);
    assert!(
        load.answered(300).await,
        "admissions stopped while the server was down"
    );
    for i in 0..2 {
        assert_eq!(load.latest(i), Some(hash_of(&first)));
    }

    // Restarted on the same address: they resync, without restarting.
    let pids: Vec<u32> = injectors.iter().map(|w| w.process.id()).collect();
    let server = ConfigServer::start(dir.path(), &listen, &[]);
    all_serve(&load, 2, &hash_of(&second)).await;
    for pid in pids {
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "injector {pid} exited"
        );
    }

    // A broken template: not published, the reason reported, injectors
    // unchanged.
    update(&mut dir, BROKEN_CONFIG);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status = server.status().await;
        if status.rejected_total > 0 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let reason = status
        .last_rejection
        .expect("the rejection is reported")
        .reason;
    assert!(
        reason.contains(&dir.path().display().to_string()),
        "{reason}"
    );
    assert!(reason.contains("sidecar"), "{reason}");
    assert_eq!(status.current.unwrap().hash, hash_of(&second));
    let text = server.status_cli();
    assert!(text.contains("rejected: 1"), "{text}");
    assert!(
        text.contains(&reason.lines().next().unwrap().to_string()),
        "{text}"
    );
    assert!(
        load.answered(100).await,
        "admissions stopped after the rejection"
    );
    for i in 0..2 {
        assert_eq!(load.latest(i), Some(hash_of(&second)));
    }

    // A server that stamps snapshots as needing a newer injector: both
    // replicas refuse the new snapshot (NACK, shown by `config-server
    // status`) and keep serving the one they hold.
    drop(server);
    let third = config_with_marker("c");
    update(&mut dir, &third);
    let server = ConfigServer::start(dir.path(), &listen, &["--min-injector-version", "99.0.0"]);
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let text = server.status_cli();
        if text.matches("NACK").count() == 2 || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(text.matches("NACK").count(), 2, "{text}");
    assert!(
        text.contains("requires injector 99.0.0 or newer; this injector is 0.1.0"),
        "{text}"
    );
    assert!(text.contains("acked: none"), "{text}");
    for i in 0..2 {
        assert_eq!(load.latest(i), Some(hash_of(&second)));
    }

    let (ok, failures) = load.stop().await;
    assert!(
        failures.is_empty(),
        "{} failed admissions: {failures:?}",
        failures.len()
    );
    assert!(ok > 0);
}
