//! The gRPC protocol between the config server and the injectors
//! (`proto/injector/config/v1/snapshot.proto`), generated at build time.

/// `injector.config.v1`: the snapshot stream and the status RPC.
pub mod v1 {
    tonic::include_proto!("injector.config.v1");
}

pub use v1::snapshot_service_client::SnapshotServiceClient;
pub use v1::snapshot_service_server::{SnapshotService, SnapshotServiceServer};

/// The largest gRPC message either side sends or accepts: a snapshot
/// carries the three ConfigMap keys as text, and the API server caps a
/// ConfigMap at 1 MiB, so 8 MiB leaves room for a directory source while
/// bounding what one message can make a replica allocate. Both sides set
/// it, so a larger snapshot is refused where it is built (the config server
/// never publishes it) and, from any other server, by the injector's
/// decoder (the stream fails, the injector keeps its snapshot).
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// What the three texts of a snapshot may total: the message limit less
/// room for the rest of the message (version, hash, provenance, trace).
pub const MAX_SNAPSHOT_TEXT_BYTES: usize = MAX_MESSAGE_BYTES - 64 * 1024;
