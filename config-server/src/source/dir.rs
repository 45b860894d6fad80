//! The `dir` source: the injector library's directory watch (shared with an
//! injector running without a config server), with file provenance.

use std::path::Path;

use edge::dir::{self, WatchError};
use injector_engine::config::Text;
use proto::v1::{Provenance, provenance};

use crate::snapshot::Publisher;
use crate::source::Input;

/// Publishes the directory's content and every change to it until the
/// watch stops.
pub async fn run(path: &Path, publisher: &mut Publisher) -> Result<(), WatchError> {
    let mut loads = dir::watch(path, dir::DEFAULT_DEBOUNCE)?;
    while let Some(load) = loads.recv().await {
        match load {
            Ok(raw) => {
                let provenance = [&raw.config, &raw.values, &raw.mesh]
                    .into_iter()
                    .map(file_provenance)
                    .collect();
                // A refusal is already logged and recorded by the publisher.
                let _ = publisher.offer(Input { raw, provenance }).await;
            }
            Err(error) => publisher.reject(error.to_string(), Vec::new()),
        }
    }
    Ok(())
}

fn file_provenance(text: &Text) -> Provenance {
    Provenance {
        key: text.origin.key.clone(),
        source: Some(provenance::Source::File(text.origin.source.clone())),
    }
}
