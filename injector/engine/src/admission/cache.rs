//! The per-snapshot response cache.
//!
//! The replicas of a workload reach admission byte-identical: the API
//! server has not yet picked their names, and their metadata and spec come
//! from one pod template. So the answer to a pod is keyed by its exact JSON
//! text (and the request's namespace, which fills in a pod that names
//! none). Equal keys are equal input to the same snapshot, hence the same
//! answer; the only per-request part, the uid, is written when encoding. A
//! hit skips parsing the pod, the engine and the patch.
//!
//! The cache is bounded in bytes, keys and answers counted, so a stream of
//! unique pods cannot grow memory past the budget; it belongs to one
//! snapshot and goes with it.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::answer::Reply;
use super::{PodName, Verdict};

/// A decided admission, as cached.
#[derive(Debug)]
pub(super) struct Decided {
    pub reply: Reply,
    pub verdict: Verdict,
    pub pod: PodName,
}

#[derive(Clone)]
struct Bytes;

impl Weighter<Box<[u8]>, Arc<Decided>> for Bytes {
    fn weight(&self, key: &Box<[u8]>, decided: &Arc<Decided>) -> u64 {
        // A floor, so that tiny entries still count for their overhead.
        (key.len() + decided.reply.weight()).max(256) as u64
    }
}

/// Answers by exact pod text, within a byte budget.
pub struct ResponseCache {
    answers: Cache<Box<[u8]>, Arc<Decided>, Bytes>,
}

impl ResponseCache {
    /// The default budget: room for a few hundred distinct workloads' pods
    /// with their patches (about 15 KiB each for the default sidecar).
    pub const DEFAULT_BYTES: u64 = 8 * 1024 * 1024;

    /// A cache holding at most `budget` bytes of keys and answers; 0
    /// disables it.
    pub fn new(budget: u64) -> Self {
        ResponseCache {
            answers: Cache::with_weighter(256, budget.max(1), Bytes),
        }
    }

    pub(super) fn key(namespace: &str, object: &str) -> Box<[u8]> {
        let mut key = Vec::with_capacity(namespace.len() + 1 + object.len());
        key.extend_from_slice(namespace.as_bytes());
        key.push(0);
        key.extend_from_slice(object.as_bytes());
        key.into_boxed_slice()
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<Arc<Decided>> {
        self.answers.get(key)
    }

    pub(super) fn insert(&self, key: Box<[u8]>, decided: Arc<Decided>) {
        self.answers.insert(key, decided);
    }

    /// The bytes held now.
    pub fn weight(&self) -> u64 {
        self.answers.weight()
    }

    /// The answers held now.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}
