//! The gRPC face of the [`Hub`]: one `Stream` per injector replica and the
//! `Status` RPC.
//!
//! A stream must open with the replica's identity. From then on the
//! outbound half is the hub's snapshot channel (the current snapshot at
//! once, then each new one; a slow replica skips to the newest), and a task
//! reads the inbound half, recording each ACK and NACK until the replica
//! goes away, at which point it is forgotten.

use std::pin::Pin;
use std::sync::Arc;

use edge::telemetry;
use futures::{Stream, StreamExt};
use proto::SnapshotService;
use proto::v1::{Snapshot, StatusRequest, StatusResponse, StreamRequest, stream_request};
use tokio_stream::wrappers::WatchStream;
use tonic::{Request, Response, Status, Streaming};

use crate::hub::{Hub, ReplicaGuard};

/// The snapshot service over one hub.
#[derive(Clone, Debug)]
pub struct Service {
    hub: Arc<Hub>,
}

impl Service {
    pub fn new(hub: Arc<Hub>) -> Self {
        Service { hub }
    }
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<Snapshot, Status>> + Send>>;

#[tonic::async_trait]
impl SnapshotService for Service {
    type StreamStream = SnapshotStream;

    async fn stream(
        &self,
        request: Request<Streaming<StreamRequest>>,
    ) -> Result<Response<SnapshotStream>, Status> {
        let peer = request
            .remote_addr()
            .map(|addr| addr.to_string())
            .unwrap_or_default();
        let mut inbound = request.into_inner();
        let identity = match inbound.message().await? {
            Some(StreamRequest {
                kind: Some(stream_request::Kind::Hello(identity)),
            }) => identity,
            _ => {
                return Err(Status::invalid_argument(
                    "a stream must open with a Hello carrying the replica's identity",
                ));
            }
        };
        let pod = identity.pod_name.clone();
        tracing::info!(%pod, version = %identity.binary_version, %peer, "replica connected");
        let replica = Arc::new(self.hub.connect(identity, peer));
        tokio::spawn(record_answers(inbound, Arc::clone(&replica), pod.clone()));
        let outbound = WatchStream::new(self.hub.subscribe()).filter_map(move |current| {
            let sent = current.map(|snapshot| {
                push(&snapshot, &replica, &pod);
                Ok(Snapshot::clone(&snapshot))
            });
            std::future::ready(sent)
        });
        Ok(Response::new(Box::pin(outbound)))
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        Ok(Response::new(self.hub.status()))
    }
}

/// Records that `snapshot` goes to a replica, traced as a `push` span
/// under the snapshot's build.
fn push(snapshot: &Snapshot, replica: &ReplicaGuard, pod: &str) {
    let span = tracing::info_span!(
        "push",
        otel.kind = "producer",
        replica = pod,
        snapshot.version = snapshot.version,
        snapshot.hash = %snapshot.hash,
    );
    telemetry::set_parent_from(&span, &snapshot.traceparent);
    let _entered = span.enter();
    replica.sent(snapshot);
    tracing::debug!("snapshot sent");
}

/// Reads a replica's ACKs and NACKs until its stream ends. The replica
/// stays registered while this runs or its outbound stream is alive.
async fn record_answers(
    mut inbound: Streaming<StreamRequest>,
    replica: Arc<ReplicaGuard>,
    pod: String,
) {
    loop {
        match inbound.message().await {
            Ok(Some(StreamRequest { kind: Some(kind) })) => match kind {
                stream_request::Kind::Ack(ack) => replica.acked(ack.version, ack.hash),
                stream_request::Kind::Nack(nack) => {
                    tracing::warn!(%pod, version = nack.version, hash = %nack.hash, error = %nack.error, "replica refused a snapshot");
                    replica.nacked(nack);
                }
                stream_request::Kind::Hello(_) => {
                    tracing::debug!("ignoring a second Hello on an open stream");
                }
            },
            Ok(Some(StreamRequest { kind: None })) => {}
            Ok(None) => break,
            Err(status) => {
                tracing::debug!(%status, "replica stream failed");
                break;
            }
        }
    }
    tracing::info!(%pod, "replica disconnected");
}
