//! What the server knows, shared by the source that feeds it and every
//! stream that reads it: the current snapshot, the inputs it refused, and
//! the state of each connected replica.
//!
//! The current snapshot sits in a `watch` channel, so a stream that falls
//! behind skips straight to the newest snapshot and a new stream gets it at
//! once. Replica state is behind a plain mutex: it is touched once per
//! snapshot per replica and by `Status`, never while awaiting.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use proto::v1::{
    ClusterFacts, Identity, Nack, Provenance, Rejection, ReplicaStatus, Snapshot, StatusResponse,
};
use tokio::sync::watch;

/// The shared state of one config server.
#[derive(Debug)]
pub struct Hub {
    current: watch::Sender<Option<Arc<Snapshot>>>,
    rejections: Mutex<Rejections>,
    replicas: Mutex<BTreeMap<u64, ReplicaStatus>>,
    next_replica: AtomicU64,
    /// Every NACK received, including from replicas gone since.
    nacks: AtomicU64,
    /// The latest native-sidecar decision.
    cluster: Mutex<Option<ClusterFacts>>,
}

#[derive(Debug, Default)]
struct Rejections {
    total: u64,
    last: Option<Rejection>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            current: watch::Sender::new(None),
            rejections: Mutex::default(),
            replicas: Mutex::default(),
            next_replica: AtomicU64::new(1),
            nacks: AtomicU64::new(0),
            cluster: Mutex::default(),
        }
    }
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Makes `snapshot` current: every stream sends it next.
    pub fn publish(&self, snapshot: Snapshot) {
        self.current.send_replace(Some(Arc::new(snapshot)));
    }

    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.borrow().clone()
    }

    /// A receiver that sees the current snapshot and every later one.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<Snapshot>>> {
        self.current.subscribe()
    }

    /// Records an input that was not published, and why.
    pub fn reject(&self, reason: String, provenance: Vec<Provenance>) {
        let mut rejections = lock(&self.rejections);
        rejections.total += 1;
        rejections.last = Some(Rejection {
            reason,
            at: Some(SystemTime::now().into()),
            provenance,
        });
    }

    /// Records the latest decision about the cluster, for `Status`.
    pub fn set_cluster(&self, facts: ClusterFacts) {
        *lock(&self.cluster) = Some(facts);
    }

    /// Registers a replica that opened a stream; it is forgotten when the
    /// returned guard drops, that is when its stream ends.
    pub fn connect(self: &Arc<Self>, identity: Identity, peer: String) -> ReplicaGuard {
        let id = self.next_replica.fetch_add(1, Ordering::Relaxed);
        let status = ReplicaStatus {
            identity: Some(identity),
            peer,
            connected_since: Some(SystemTime::now().into()),
            ..ReplicaStatus::default()
        };
        lock(&self.replicas).insert(id, status);
        ReplicaGuard {
            hub: Arc::clone(self),
            id,
        }
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut ReplicaStatus)) {
        if let Some(replica) = lock(&self.replicas).get_mut(&id) {
            f(replica);
        }
    }

    /// Connected replicas.
    pub fn replica_count(&self) -> usize {
        lock(&self.replicas).len()
    }

    /// Inputs refused since start.
    pub fn rejected_total(&self) -> u64 {
        lock(&self.rejections).total
    }

    /// NACKs received since start.
    pub fn nacks_total(&self) -> u64 {
        self.nacks.load(Ordering::Relaxed)
    }

    /// Everything `Status` reports.
    pub fn status(&self) -> StatusResponse {
        let rejections = lock(&self.rejections);
        StatusResponse {
            current: self.current().map(|s| (*s).clone()),
            rejected_total: rejections.total,
            last_rejection: rejections.last.clone(),
            replicas: lock(&self.replicas).values().cloned().collect(),
            cluster: lock(&self.cluster).clone(),
        }
    }
}

/// A poisoned lock only means another stream panicked mid-update of plain
/// data; the data is still the best there is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One connected replica; records what it was sent and what it answered.
#[derive(Debug)]
pub struct ReplicaGuard {
    hub: Arc<Hub>,
    id: u64,
}

impl ReplicaGuard {
    pub fn sent(&self, snapshot: &Snapshot) {
        self.hub.update(self.id, |r| {
            r.sent_version = snapshot.version;
            r.sent_hash.clone_from(&snapshot.hash);
        });
    }

    pub fn acked(&self, version: u64, hash: String) {
        self.hub.update(self.id, |r| {
            r.acked_version = version;
            r.acked_hash = hash;
            r.acked_at = Some(SystemTime::now().into());
        });
    }

    pub fn nacked(&self, nack: Nack) {
        self.hub.nacks.fetch_add(1, Ordering::Relaxed);
        self.hub.update(self.id, |r| {
            r.last_nack = Some(nack);
            r.nacked_at = Some(SystemTime::now().into());
            r.nacks_total += 1;
        });
    }
}

impl Drop for ReplicaGuard {
    fn drop(&mut self) {
        lock(&self.hub.replicas).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_tracked_while_connected() {
        let hub = Hub::new();
        let identity = Identity {
            pod_name: "injector-0".into(),
            binary_version: "0.1.0".into(),
        };
        let guard = hub.connect(identity, "127.0.0.1:1".into());
        let snapshot = Snapshot {
            version: 3,
            hash: "sha256:ab".into(),
            ..Snapshot::default()
        };
        guard.sent(&snapshot);
        guard.acked(3, "sha256:ab".into());
        guard.nacked(Nack {
            hash: "sha256:cd".into(),
            version: 4,
            error: "bad".into(),
        });
        let status = hub.status();
        let replica = &status.replicas[0];
        assert_eq!((replica.sent_version, replica.acked_version), (3, 3));
        assert_eq!(replica.last_nack.as_ref().unwrap().error, "bad");
        assert_eq!(replica.nacks_total, 1);
        assert_eq!((hub.replica_count(), hub.nacks_total()), (1, 1));
        drop(guard);
        assert!(hub.status().replicas.is_empty());
        assert_eq!((hub.replica_count(), hub.nacks_total()), (0, 1));
    }
}
