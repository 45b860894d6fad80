//! The injector's side of the config plane: a stream from the config server
//! whose snapshots are compiled once each and published to the
//! [`SnapshotStore`] the webhook reads.
//!
//! The stream is the only way configuration changes, and losing it must not
//! cost an admission: the store keeps its engine while the client reconnects
//! with jittered exponential backoff (many replicas losing one server must
//! not come back in lockstep). Every snapshot is answered: ACK once it is
//! being served, NACK with the engine's error when it cannot be, in which
//! case the previous engine stays.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use edge::channel::{self, ChannelError, ClientTls};
use edge::report::Chain;
use edge::telemetry;
use edge::versioner;
use injector_engine::Engine;
use injector_engine::config::{CONFIG_KEY, ClusterFacts, MESH_KEY, RawConfig, Text, VALUES_KEY};
use proto::SnapshotServiceClient;
use proto::v1::{Ack, Identity, Nack, Snapshot, StreamRequest, stream_request};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use crate::snapshot::SnapshotStore;

/// The first reconnection delay; doubled per failed attempt up to
/// [`MAX_BACKOFF`]. A replica whose stream just broke (a config server
/// restart, a rollout) is back within a fraction of a second.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// HTTP/2 pings detect a server that vanished without closing the
/// connection (a node lost, a partition), which a quiet stream never would.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why one connection to the config server ended.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("cannot connect: {}", Chain(.0))]
    Connect(tonic::transport::Error),
    #[error("stream failed: {0}")]
    Status(#[from] tonic::Status),
    #[error("the server closed the stream")]
    Closed,
}

/// A configured, not yet connected, client.
#[derive(Clone, Debug)]
pub struct Client {
    endpoint: Endpoint,
    identity: Identity,
}

impl Client {
    /// Checks the URL and reads the TLS files; nothing is connected yet.
    pub fn new(
        url: &str,
        identity: Identity,
        tls: Option<&ClientTls>,
    ) -> Result<Self, ChannelError> {
        let endpoint = channel::endpoint(url, tls)?
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        Ok(Client { endpoint, identity })
    }

    /// Streams snapshots into `store` for as long as the future is polled,
    /// reconnecting whenever the stream ends.
    pub async fn run(self, store: Arc<SnapshotStore>) {
        let mut delay = Backoff::default();
        loop {
            let ended = self.stream_once(&store, &mut delay).await;
            let wait = delay.next();
            tracing::warn!(
                url = %self.endpoint.uri(),
                error = %ended,
                retry_in_ms = wait.as_millis() as u64,
                "config server stream ended; serving the last good snapshot"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One connection: hello, then answer every snapshot until it breaks.
    async fn stream_once(&self, store: &SnapshotStore, delay: &mut Backoff) -> StreamError {
        let channel: Channel = match self.endpoint.connect().await {
            Ok(channel) => channel,
            Err(e) => return StreamError::Connect(e),
        };
        let (replies, outbound) = mpsc::channel(4);
        let hello = StreamRequest {
            kind: Some(stream_request::Kind::Hello(self.identity.clone())),
        };
        // The receiver is alive: it is moved into the request just below.
        let _ = replies.send(hello).await;
        let mut client = SnapshotServiceClient::new(channel)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES);
        let mut snapshots = match client.stream(ReceiverStream::new(outbound)).await {
            Ok(response) => response.into_inner(),
            Err(status) => return status.into(),
        };
        loop {
            let snapshot = match snapshots.message().await {
                Ok(Some(snapshot)) => snapshot,
                Ok(None) => return StreamError::Closed,
                Err(status) => return status.into(),
            };
            delay.reset();
            let reply = apply(snapshot, store).await;
            if replies.send(reply).await.is_err() {
                return StreamError::Closed;
            }
        }
    }
}

/// Serves `snapshot` if it can be, and says which way it went.
///
/// Traced as a `swap` span linked to the config server's build of the
/// snapshot: the build is its cause, but in another process's trace.
async fn apply(snapshot: Snapshot, store: &SnapshotStore) -> StreamRequest {
    let span = tracing::info_span!(
        "swap",
        snapshot.version = snapshot.version,
        snapshot.hash = %snapshot.hash,
        swap.result = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    );
    telemetry::link_to(&span, &snapshot.traceparent);
    let outcome = async {
        match check_version(&snapshot.min_injector_version) {
            Err(message) => Err(message),
            // The same content as the engine serving: nothing to compile.
            Ok(())
                if store
                    .load()
                    .is_some_and(|s| s.engine.hash() == snapshot.hash) =>
            {
                Ok("unchanged")
            }
            Ok(()) => compile(&snapshot)
                .await
                .map(|engine| store.publish(engine))
                .map(|()| "published"),
        }
    }
    .instrument(span.clone())
    .await;
    let _entered = span.enter();
    match &outcome {
        Ok(result) => span.record("swap.result", *result),
        Err(error) => {
            telemetry::record_error(&span, error);
            span.record("swap.result", "rejected")
        }
    };
    let kind = match outcome {
        Ok(_) => {
            tracing::info!(
                version = snapshot.version,
                hash = %snapshot.hash,
                template_dialect = %snapshot.template_dialect,
                "serving snapshot"
            );
            stream_request::Kind::Ack(Ack {
                hash: snapshot.hash,
                version: snapshot.version,
            })
        }
        Err(error) => {
            tracing::warn!(
                version = snapshot.version,
                hash = %snapshot.hash,
                %error,
                "rejected snapshot; keeping the previous one"
            );
            stream_request::Kind::Nack(Nack {
                hash: snapshot.hash,
                version: snapshot.version,
                error,
            })
        }
    };
    StreamRequest { kind: Some(kind) }
}

/// Compiles the snapshot's texts with this binary's engine, off the
/// runtime's threads.
async fn compile(snapshot: &Snapshot) -> Result<Engine, String> {
    let source = format!("snapshot {} from the config server", snapshot.version);
    let raw = RawConfig {
        config: Text::new(snapshot.config.clone(), source.clone(), CONFIG_KEY),
        values: Text::new(snapshot.values.clone(), source.clone(), VALUES_KEY),
        mesh: Text::new(snapshot.mesh.clone(), source, MESH_KEY),
        // The server decided for the cluster; a server from before that
        // decision sends none, which is the classic sidecar.
        cluster: ClusterFacts {
            native_sidecars: snapshot.cluster.as_ref().is_some_and(|c| c.native_sidecars),
        },
    };
    let engine = versioner::compile_blocking(raw, snapshot.version)
        .await
        .map_err(|e| e.to_string())?;
    // The server validated the templates in its dialect; serving them in
    // another would render pods it never checked.
    let ours = engine.dialect().name();
    let theirs = &snapshot.template_dialect;
    if !theirs.is_empty() && theirs != ours {
        return Err(format!(
            "the config server read the templates as {theirs} ({}), this injector as {ours} ({})",
            snapshot.template_dialect_reason,
            engine.dialect_reason()
        ));
    }
    Ok(engine)
}

/// Refuses a snapshot that declares it needs a newer injector than this one.
fn check_version(required: &str) -> Result<(), String> {
    if required.is_empty() {
        return Ok(());
    }
    let ours = env!("CARGO_PKG_VERSION");
    match (parse_version(required), parse_version(ours)) {
        (Some(need), Some(have)) if have >= need => Ok(()),
        (Some(_), _) => Err(format!(
            "snapshot requires injector {required} or newer; this injector is {ours}"
        )),
        (None, _) => Err(format!(
            "snapshot requires injector version {required:?}, which is not MAJOR.MINOR.PATCH"
        )),
    }
}

/// `MAJOR.MINOR.PATCH`, ignoring any pre-release or build suffix.
fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Exponential backoff with jitter: each wait is drawn from the upper half
/// of the current step, so replicas spread out but none retries at once.
#[derive(Debug)]
struct Backoff {
    step: Duration,
    random: RandomState,
    attempt: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            step: MIN_BACKOFF,
            random: RandomState::new(),
            attempt: 0,
        }
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        self.attempt += 1;
        let half = self.step / 2;
        // RandomState is seeded randomly per process: a dependency-free
        // source of jitter, which need not be cryptographic.
        let fraction = (self.random.hash_one(self.attempt) % 1000) as u32;
        let wait = half + half * fraction / 1000;
        self.step = (self.step * 2).min(MAX_BACKOFF);
        wait
    }

    fn reset(&mut self) {
        self.step = MIN_BACKOFF;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("0.10.2"), Some((0, 10, 2)));
        assert_eq!(parse_version("1.2.3-rc.1"), Some((1, 2, 3)));
        assert_eq!(parse_version("1.2"), None);
        assert!(check_version("").is_ok());
        assert!(check_version("0.0.1").is_ok());
        let err = check_version("99.0.0").unwrap_err();
        assert!(err.contains("requires injector 99.0.0 or newer"), "{err}");
        assert!(check_version("next").is_err());
    }

    mod fuzz {
        //! Snapshots as bytes off the wire, arbitrary or a real one with
        //! bytes changed: whatever decodes goes through the client's path
        //! (version check, compile, swap). It is served only if it
        //! compiles; otherwise it is NACKed and the engine stays.

        use super::super::*;
        use injector_engine::RawConfig;
        use proptest::prelude::*;
        use proptest::sample::Index;
        use prost::Message;

        fn good() -> Snapshot {
            let raw = RawConfig::embedded();
            Snapshot {
                version: 1,
                hash: raw.parse().unwrap().hash().unwrap(),
                config: raw.config.body,
                values: raw.values.body,
                mesh: raw.mesh.body,
                min_injector_version: "0.1.0".into(),
                ..Snapshot::default()
            }
        }

        /// Feeds `bytes` to a store serving the good snapshot.
        fn feed(bytes: &[u8]) {
            let Ok(snapshot) = Snapshot::decode(bytes) else {
                return;
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let store = SnapshotStore::default();
            let raw = RawConfig::embedded();
            store.publish(Engine::compile(raw.parse().unwrap(), 1).unwrap());
            let before = store.load().unwrap();
            let version = snapshot.version;
            let reply = runtime.block_on(apply(snapshot, &store));
            let after = store.load().unwrap();
            match reply.kind {
                Some(stream_request::Kind::Nack(nack)) => {
                    assert!(!nack.error.is_empty());
                    assert!(Arc::ptr_eq(&before, &after), "a NACKed snapshot was served");
                }
                Some(stream_request::Kind::Ack(_)) => assert!(
                    Arc::ptr_eq(&before, &after) || after.engine.version() == version,
                    "an ACK serves the snapshot or the same content"
                ),
                other => panic!("not an answer: {other:?}"),
            }
        }

        proptest! {
            #![proptest_config(test_support::budget::cases(48))]

            #[test]
            fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                feed(&bytes);
            }

            #[test]
            fn a_real_snapshot_with_bytes_changed(
                edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0..3u8), 1..4),
            ) {
                let mut bytes = good().encode_to_vec();
                for (at, byte, how) in edits {
                    let i = at.index(bytes.len());
                    match how {
                        0 => bytes[i] = byte,
                        1 => bytes.insert(i, byte),
                        _ => bytes.truncate(i.max(1)),
                    }
                }
                feed(&bytes);
            }

            #[test]
            fn a_real_snapshot_with_fields_replaced(
                version in any::<u64>(),
                hash in ".{0,80}",
                min_version in prop_oneof![Just(String::new()), "[0-9.]{0,8}", ".{0,12}"],
                key in 0..3usize,
                text in prop_oneof![Just(String::new()), ".{0,64}"],
            ) {
                let mut snapshot = Snapshot { version, hash, min_injector_version: min_version, ..good() };
                match key {
                    0 => snapshot.config = text,
                    1 => snapshot.values = text,
                    _ => snapshot.mesh = text,
                }
                feed(&snapshot.encode_to_vec());
            }
        }
    }

    #[tokio::test]
    async fn a_snapshot_read_in_another_dialect_is_refused() {
        let raw = RawConfig::embedded();
        let snapshot = |dialect: &str| Snapshot {
            version: 2,
            hash: "sha256:other".into(),
            config: raw.config.body.clone(),
            values: raw.values.body.clone(),
            mesh: raw.mesh.body.clone(),
            template_dialect: dialect.into(),
            template_dialect_reason: "declared by templateDialect".into(),
            ..Snapshot::default()
        };
        let store = SnapshotStore::default();
        let reply = apply(snapshot("go"), &store).await;
        match reply.kind {
            Some(stream_request::Kind::Nack(nack)) => assert!(
                nack.error.contains("read the templates as go")
                    && nack.error.contains("this injector as handlebars"),
                "{}",
                nack.error
            ),
            other => panic!("served templates read in another dialect: {other:?}"),
        }
        assert!(store.load().is_none());
        let reply = apply(snapshot("handlebars"), &store).await;
        assert!(
            matches!(reply.kind, Some(stream_request::Kind::Ack(_))),
            "{reply:?}"
        );
        assert_eq!(store.load().unwrap().engine.version(), 2);
    }

    #[test]
    fn backoff_grows_with_jitter_to_a_cap_and_resets() {
        let mut backoff = Backoff::default();
        let first = backoff.next();
        assert!(
            first >= MIN_BACKOFF / 2 && first <= MIN_BACKOFF,
            "{first:?}"
        );
        let waits: Vec<Duration> = (0..20).map(|_| backoff.next()).collect();
        assert!(waits.iter().all(|w| *w <= MAX_BACKOFF));
        assert!(waits.last().unwrap() >= &(MAX_BACKOFF / 2));
        backoff.reset();
        assert!(backoff.next() <= MIN_BACKOFF);
    }
}
