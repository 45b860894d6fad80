//! Building snapshots: each input from a source is parsed and compiled by
//! the injection engine (every template, rendered against a probe pod)
//! before anything is published. An input that fails is logged, counted and
//! remembered with its reason; the last good snapshot stays current.

use std::sync::Arc;
use std::time::SystemTime;

use edge::telemetry;
use edge::versioner::{BuildError, Versioner};
use injector_engine::config::CONFIG_KEY;
use proto::v1::{Provenance, Snapshot, provenance};
use tracing::Instrument;

use crate::hub::Hub;
use crate::source::Input;

/// Turns inputs into published snapshots.
#[derive(Debug)]
pub struct Publisher {
    versioner: Versioner,
    min_injector_version: String,
    hub: Arc<Hub>,
}

/// What became of an input that was not refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Offered {
    /// Published under this version.
    Published(u64),
    /// The same content as the current snapshot: nothing to send.
    Unchanged,
}

impl Publisher {
    /// A publisher into `hub`. `min_injector_version`, when set, is stamped
    /// on every snapshot: injectors older than it refuse (NACK) the snapshot
    /// rather than serve templates written for a newer engine.
    pub fn new(hub: Arc<Hub>, min_injector_version: Option<String>) -> Self {
        Publisher {
            versioner: Versioner::new(),
            min_injector_version: min_injector_version.unwrap_or_default(),
            hub,
        }
    }

    /// Validates `input` and publishes it when it is valid and new. A
    /// refusal is recorded before it is returned, so the caller only adds
    /// what its source can (a Kubernetes Event).
    ///
    /// Traced as a `build` span whose context travels in the snapshot, so
    /// each push and each injector's swap can be traced back to it.
    pub async fn offer(&mut self, input: Input) -> Result<Offered, BuildError> {
        let Input { raw, provenance } = input;
        let bytes = [&raw.config, &raw.values, &raw.mesh]
            .iter()
            .map(|text| text.body.len())
            .sum();
        if bytes > proto::MAX_SNAPSHOT_TEXT_BYTES {
            let error = BuildError::TooLarge {
                bytes,
                limit: proto::MAX_SNAPSHOT_TEXT_BYTES,
            };
            self.reject(error.to_string(), provenance);
            return Err(error);
        }
        let span = tracing::info_span!(
            "build",
            snapshot.source = %source_of(&provenance),
            snapshot.version = tracing::field::Empty,
            snapshot.hash = tracing::field::Empty,
            validation = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
        );
        let built = self
            .versioner
            .build_blocking(raw.clone())
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let engine = match built {
            Ok(Some(engine)) => engine,
            Ok(None) => {
                span.record("validation", "unchanged");
                return Ok(Offered::Unchanged);
            }
            Err(error) => {
                let reason = error.to_string();
                span.record("validation", "rejected");
                telemetry::record_error(&span, &reason);
                self.reject(reason, provenance);
                return Err(error);
            }
        };
        span.record("validation", "valid");
        span.record("snapshot.version", engine.version());
        span.record("snapshot.hash", engine.hash());
        let snapshot = Snapshot {
            version: engine.version(),
            hash: engine.hash().to_string(),
            config: raw.config.body,
            values: raw.values.body,
            mesh: raw.mesh.body,
            provenance,
            built_at: Some(SystemTime::now().into()),
            traceparent: telemetry::traceparent(&span),
            min_injector_version: self.min_injector_version.clone(),
        };
        tracing::info!(version = snapshot.version, hash = %snapshot.hash, "publishing snapshot");
        self.hub.publish(snapshot);
        Ok(Offered::Published(engine.version()))
    }

    /// Records an input that never reached validation (a missing
    /// ConfigMap, an unreadable file).
    pub fn reject(&self, reason: String, provenance: Vec<Provenance>) {
        tracing::warn!(%reason, "configuration rejected; keeping the last good snapshot");
        self.hub.reject(reason, provenance);
    }
}

/// Where the `config` key came from, for the build span: the ConfigMap,
/// the file, or the embedded default.
fn source_of(provenance: &[Provenance]) -> String {
    let config = provenance.iter().find(|p| p.key == CONFIG_KEY);
    match config.and_then(|p| p.source.as_ref()) {
        Some(provenance::Source::ConfigMap(cm)) => {
            format!("configmap:{}/{}", cm.namespace, cm.name)
        }
        Some(provenance::Source::File(path)) => format!("file:{path}"),
        Some(provenance::Source::Embedded(name)) => format!("embedded:{name}"),
        None => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use injector_engine::RawConfig;
    use injector_engine::config::Text;

    use super::*;

    #[tokio::test]
    async fn publishes_valid_new_content_and_keeps_it_over_a_broken_edit() {
        let hub = Hub::new();
        let mut publisher = Publisher::new(hub.clone(), None);
        let good = RawConfig::embedded();
        let input = |raw: &RawConfig| Input {
            raw: raw.clone(),
            provenance: Vec::new(),
        };
        assert_eq!(
            publisher.offer(input(&good)).await.unwrap(),
            Offered::Published(1)
        );
        assert_eq!(
            publisher.offer(input(&good)).await.unwrap(),
            Offered::Unchanged
        );

        let mut broken = good.clone();
        broken.config = Text::new("templates:\n  sidecar: \"{{#each}}\"\n", "edit", CONFIG_KEY);
        assert!(publisher.offer(input(&broken)).await.is_err());
        let status = hub.status();
        assert_eq!(status.rejected_total, 1);
        let reason = status.last_rejection.unwrap().reason;
        assert!(reason.contains("edit"), "{reason}");
        assert_eq!(status.current.unwrap().version, 1);

        // More than a gRPC message carries: refused before it is compiled.
        let mut huge = good.clone();
        huge.values.body = format!("{{\"pad\": \"{}\"}}", "x".repeat(proto::MAX_MESSAGE_BYTES));
        let error = publisher.offer(input(&huge)).await.unwrap_err();
        assert!(matches!(error, BuildError::TooLarge { .. }), "{error}");
        let status = hub.status();
        assert_eq!(status.rejected_total, 2);
        let reason = status.last_rejection.unwrap().reason;
        assert!(reason.contains("gRPC message limit"), "{reason}");
        assert_eq!(status.current.unwrap().version, 1);
    }
}
