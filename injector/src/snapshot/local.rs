//! An injector without a config server: the `dir` source runs in-process,
//! or the embedded default is served, and versions are numbered locally.
//! This is what lets a single `injector serve` work with no cluster around.

use std::path::Path;
use std::sync::Arc;

use edge::dir::{self, WatchError};
use edge::versioner::{BuildError, Versioner};
use injector_engine::RawConfig;
use injector_engine::config::ClusterFacts;

use crate::snapshot::SnapshotStore;

/// Publishes the configuration compiled into the binary, as version 1, for
/// a cluster with `cluster`'s facts.
pub fn serve_embedded(store: &SnapshotStore, cluster: ClusterFacts) -> Result<(), BuildError> {
    let raw = RawConfig::embedded().with_cluster(cluster);
    if let Some(engine) = Versioner::new().build(&raw)? {
        store.publish(engine);
    }
    Ok(())
}

/// Watches `dir` and publishes each valid change to `store`, for a cluster
/// with `cluster`'s facts; an invalid one
/// is logged and the previous engine stays. Returns once the watch is set up
/// and the first load has been compiled or refused; the returned future
/// keeps watching.
pub async fn watch_dir(
    dir: &Path,
    store: Arc<SnapshotStore>,
    cluster: ClusterFacts,
) -> Result<impl Future<Output = ()> + Send + 'static, WatchError> {
    let mut loads = dir::watch(dir, dir::DEFAULT_DEBOUNCE)?;
    let mut versioner = Versioner::new();
    if let Some(load) = loads.recv().await {
        apply(load, cluster, &mut versioner, &store).await;
    }
    Ok(async move {
        while let Some(load) = loads.recv().await {
            apply(load, cluster, &mut versioner, &store).await;
        }
    })
}

async fn apply(
    load: dir::Load,
    cluster: ClusterFacts,
    versioner: &mut Versioner,
    store: &SnapshotStore,
) {
    let built = match load {
        Ok(raw) => versioner.build_blocking(raw.with_cluster(cluster)).await,
        Err(e) => Err(e.into()),
    };
    match built {
        Ok(Some(engine)) => {
            tracing::info!(
                version = engine.version(),
                hash = engine.hash(),
                template_dialect = engine.dialect().name(),
                template_dialect_reason = %engine.dialect_reason(),
                "serving configuration"
            );
            store.publish(engine);
        }
        Ok(None) => tracing::debug!("configuration reloaded without changes"),
        Err(error) => tracing::warn!(%error, "configuration not applied; keeping the previous one"),
    }
}
