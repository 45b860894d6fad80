//! The gRPC protocol between the config server and the injectors
//! (`proto/injector/config/v1/snapshot.proto`), generated at build time.

/// `injector.config.v1`: the snapshot stream and the status RPC.
pub mod v1 {
    tonic::include_proto!("injector.config.v1");
}

pub use v1::snapshot_service_client::SnapshotServiceClient;
pub use v1::snapshot_service_server::{SnapshotService, SnapshotServiceServer};
