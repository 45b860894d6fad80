//! What the engine knows of the cluster it injects for. Only the edges can
//! ask a cluster; they hand the answer in with the configuration texts
//! ([`RawConfig::with_cluster`](super::RawConfig::with_cluster)), so the
//! engine stays pure and a snapshot carries everything its pods depend on.

use serde::Serialize;

/// Facts about the cluster that change the injected pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterFacts {
    /// The proxy runs as a native sidecar (an init container with
    /// `restartPolicy: Always`) unless a pod's
    /// `sidecar.istio.io/nativeSidecar` annotation says otherwise. The
    /// default, false, is the classic sidecar every API server accepts.
    pub native_sidecars: bool,
}
