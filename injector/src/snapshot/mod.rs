//! The injector's current snapshot: the compiled [`Engine`] every admission
//! reads, with the answers cached for it, swapped atomically when a new
//! configuration arrives.
//!
//! Readers take an `Arc` with one atomic load and never wait on a lock, so
//! a template rollout costs an admission nothing; a request keeps the engine
//! it started with even if a swap happens mid-request.

pub mod client;
pub mod local;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwapOption;

use injector_engine::Engine;
use injector_engine::admission::ResponseCache;

/// One snapshot being served: the engine, and the answers it gave, which
/// are valid for it alone and so live and die with it.
pub struct Served {
    pub engine: Engine,
    pub responses: ResponseCache,
}

/// The snapshot currently serving, if any. Ready means: holds one.
pub struct SnapshotStore {
    current: ArcSwapOption<Served>,
    swaps: AtomicU64,
    /// The byte budget of each snapshot's response cache.
    response_cache_bytes: u64,
}

impl Default for SnapshotStore {
    fn default() -> Self {
        Self::new(ResponseCache::DEFAULT_BYTES)
    }
}

impl SnapshotStore {
    /// A store whose snapshots each cache at most `response_cache_bytes`
    /// of answers.
    pub fn new(response_cache_bytes: u64) -> Self {
        SnapshotStore {
            current: ArcSwapOption::empty(),
            swaps: AtomicU64::new(0),
            response_cache_bytes,
        }
    }

    /// The snapshot to serve this request with, or `None` before the first
    /// one arrives.
    pub fn load(&self) -> Option<Arc<Served>> {
        self.current.load_full()
    }

    /// Whether a snapshot is held (what `/readyz` reports).
    pub fn is_ready(&self) -> bool {
        self.current.load().is_some()
    }

    /// Publishes `engine` to every later request.
    pub fn publish(&self, engine: Engine) {
        self.current.store(Some(Arc::new(Served {
            engine,
            responses: ResponseCache::new(self.response_cache_bytes),
        })));
        self.swaps.fetch_add(1, Ordering::Relaxed);
    }

    /// How many snapshots have been published.
    pub fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for SnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.load();
        f.debug_struct("SnapshotStore")
            .field("version", &current.as_ref().map(|s| s.engine.version()))
            .field(
                "hash",
                &current.as_ref().map(|s| s.engine.hash().to_string()),
            )
            .field("swaps", &self.swaps())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use injector_engine::RawConfig;

    #[test]
    fn publish_makes_ready_and_requests_keep_their_engine() {
        let store = SnapshotStore::default();
        assert!(!store.is_ready());
        let config = RawConfig::embedded().parse().unwrap();
        store.publish(Engine::compile(config.clone(), 1).unwrap());
        let in_flight = store.load().unwrap();
        store.publish(Engine::compile(config, 2).unwrap());
        assert_eq!(in_flight.engine.version(), 1);
        assert_eq!(store.load().unwrap().engine.version(), 2);
        assert_eq!(store.swaps(), 2);
    }
}
