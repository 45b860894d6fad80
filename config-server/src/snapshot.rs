//! Building snapshots: each input from a source is parsed and compiled by
//! the injection engine (every template, rendered against a probe pod)
//! before anything is published. An input that fails is logged, counted and
//! remembered with its reason; the last good snapshot stays current.

use std::sync::Arc;
use std::time::SystemTime;

use edge::native::Decision;
use edge::telemetry;
use edge::versioner::{BuildError, Versioner};
use injector_engine::config::CONFIG_KEY;
use proto::v1::{Provenance, Snapshot, provenance};
use tracing::Instrument;

use crate::cluster;
use crate::hub::Hub;
use crate::source::Input;

/// Turns inputs into published snapshots, for the cluster as last decided.
#[derive(Debug)]
pub struct Publisher {
    versioner: Versioner,
    min_injector_version: String,
    hub: Arc<Hub>,
    /// `None` until the source has asked the cluster.
    cluster: Option<Decision>,
    /// The last input that validated, rebuilt when the cluster changes.
    last_good: Option<Input>,
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
    /// `cluster` is the native-sidecar decision snapshots are built for
    /// until [`Publisher::set_cluster`] changes it; `None` while the source
    /// has yet to ask the cluster (it builds nothing before it has).
    pub fn new(
        hub: Arc<Hub>,
        min_injector_version: Option<String>,
        cluster: Option<Decision>,
    ) -> Self {
        if let Some(decision) = &cluster {
            hub.set_cluster(cluster::facts(decision));
        }
        Publisher {
            versioner: Versioner::new(),
            min_injector_version: min_injector_version.unwrap_or_default(),
            hub,
            cluster,
            last_good: None,
        }
    }

    /// Takes a new decision about the cluster. When it changes what pods
    /// get, the last good input is rebuilt and published for it (`None`
    /// when there is nothing to rebuild or nothing changed for pods).
    pub async fn set_cluster(&mut self, decision: Decision) -> Option<Result<Offered, BuildError>> {
        let flips = self
            .cluster
            .as_ref()
            .is_none_or(|c| c.native_sidecars != decision.native_sidecars);
        self.hub.set_cluster(cluster::facts(&decision));
        self.cluster = Some(decision);
        match (flips, self.last_good.clone()) {
            (true, Some(input)) => Some(self.offer(input).await),
            _ => None,
        }
    }

    /// Validates `input` and publishes it when it is valid and new. A
    /// refusal is recorded before it is returned, so the caller only adds
    /// what its source can (a Kubernetes Event).
    ///
    /// Traced as a `build` span whose context travels in the snapshot, so
    /// each push and each injector's swap can be traced back to it.
    pub async fn offer(&mut self, input: Input) -> Result<Offered, BuildError> {
        let kept = input.clone();
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
        let raw = raw.with_cluster(
            self.cluster
                .as_ref()
                .map(Decision::facts)
                .unwrap_or_default(),
        );
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
                self.last_good = Some(kept);
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
            cluster: self.cluster.as_ref().map(cluster::facts),
            template_dialect: engine.dialect().name().to_string(),
            template_dialect_reason: engine.dialect_reason().to_string(),
        };
        tracing::info!(
            version = snapshot.version,
            hash = %snapshot.hash,
            template_dialect = %snapshot.template_dialect,
            template_dialect_reason = %snapshot.template_dialect_reason,
            native_sidecars = self.cluster.as_ref().is_some_and(|c| c.native_sidecars),
            "publishing snapshot"
        );
        self.hub.publish(snapshot);
        self.last_good = Some(kept);
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
    use edge::native::{Mode, decide};
    use injector_engine::RawConfig;
    use injector_engine::config::Text;

    use super::*;

    #[tokio::test]
    async fn publishes_valid_new_content_and_keeps_it_over_a_broken_edit() {
        let hub = Hub::new();
        let mut publisher = Publisher::new(hub.clone(), None, Some(decide(Mode::False, None)));
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

    #[tokio::test]
    async fn a_new_cluster_decision_rebuilds_the_last_good_input() {
        let hub = Hub::new();
        let mut publisher = Publisher::new(hub.clone(), None, Some(decide(Mode::False, None)));
        let input = Input {
            raw: RawConfig::embedded(),
            provenance: Vec::new(),
        };
        assert_eq!(publisher.offer(input).await.unwrap(), Offered::Published(1));
        let classic = hub.current().unwrap();
        assert!(!classic.cluster.as_ref().unwrap().native_sidecars);

        let native = decide(Mode::True, None);
        let rebuilt = publisher.set_cluster(native.clone()).await;
        assert_eq!(rebuilt.unwrap().unwrap(), Offered::Published(2));
        let current = hub.current().unwrap();
        assert_eq!(current.cluster, Some(cluster::facts(&native)));
        assert_ne!(current.hash, classic.hash);
        assert_eq!(hub.status().cluster, Some(cluster::facts(&native)));

        // The same answer again changes nothing pods get.
        assert!(publisher.set_cluster(native).await.is_none());
        assert_eq!(hub.current().unwrap().version, 2);
    }
}
