//! Prometheus metrics of the injector (DESIGN §5), served on the admin port.
//!
//! Every label value comes from a closed set ([`Reason::code`],
//! [`InjectError::code`] or the webhook's error codes), so no request can
//! grow the number of series. The snapshot gauges are read from the
//! [`SnapshotStore`] at scrape time, so they stay right whoever publishes
//! (the directory loader today, the config-server client next).
//!
//! [`Reason::code`]: injector_engine::decision::Reason::code
//! [`InjectError::code`]: injector_engine::InjectError::code

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::snapshot::SnapshotStore;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Which counter an admission request goes to, besides the request count
/// and the duration every request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// Answered with a sidecar (`sidecar_injection_success_total`).
    Injected,
    /// Allowed unchanged, by decision reason (`_skip_total{reason}`).
    Skipped(&'static str),
    /// Kept from its sidecar by an error, by code (`_failure_total{reason}`).
    Failed(&'static str),
}

/// The injector's metrics and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Counter,
    success: Counter,
    skip: Family<ReasonLabel, Counter>,
    failure: Family<ReasonLabel, Counter>,
    duration: Histogram,
}

impl Metrics {
    /// Registers every metric; `store` backs the snapshot gauges.
    pub fn new(store: Arc<SnapshotStore>) -> Self {
        let mut registry = Registry::default();
        let requests = Counter::default();
        let success = Counter::default();
        let skip = Family::<ReasonLabel, Counter>::default();
        let failure = Family::<ReasonLabel, Counter>::default();
        // 10 µs .. ~21 s: a skip is microseconds, an injection of a large
        // pod milliseconds, and kube-apiserver gives up at 10-30 s.
        let duration = Histogram::new(exponential_buckets(0.000_01, 2.0, 22));
        registry.register(
            "sidecar_injection_requests",
            "Admission requests received on /inject",
            requests.clone(),
        );
        registry.register(
            "sidecar_injection_success",
            "Admission requests answered with a sidecar patch",
            success.clone(),
        );
        registry.register(
            "sidecar_injection_skip",
            "Admission requests allowed without a patch, by decision reason",
            skip.clone(),
        );
        registry.register(
            "sidecar_injection_failure",
            "Admission requests not injected because of an error, by reason",
            failure.clone(),
        );
        registry.register(
            "sidecar_injection_duration_seconds",
            "Time to answer an admission request, from headers to answer",
            duration.clone(),
        );
        registry.register_collector(Box::new(SnapshotCollector { store }));
        Metrics {
            registry,
            requests,
            success,
            skip,
            failure,
            duration,
        }
    }

    /// Counts one request on `/inject`, answered after `elapsed`. Every
    /// label value comes from a closed set of codes.
    pub fn record(&self, counted: Counted, elapsed: Duration) {
        self.requests.inc();
        match counted {
            Counted::Injected => self.success.inc(),
            Counted::Skipped(reason) => self.skip.get_or_create(&ReasonLabel { reason }).inc(),
            Counted::Failed(reason) => self.failure.get_or_create(&ReasonLabel { reason }).inc(),
        };
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Reads the snapshot version and swap count at scrape time.
#[derive(Debug)]
struct SnapshotCollector {
    store: Arc<SnapshotStore>,
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // 0 before the first snapshot: versions start at 1 once one is held.
        let version = self.store.load().map_or(0, |s| s.engine.version());
        let version = ConstGauge::new(i64::try_from(version).unwrap_or(i64::MAX));
        version.encode(encoder.encode_descriptor(
            "config_snapshot_version",
            "Version of the configuration snapshot serving admissions (0: none yet).",
            None,
            version.metric_type(),
        )?)?;
        let swaps = ConstCounter::new(self.store.swaps());
        swaps.encode(encoder.encode_descriptor(
            "config_snapshot_swaps",
            "Configuration snapshots published to the admission path.",
            None,
            swaps.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use injector_engine::{Engine, RawConfig};

    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.split_once(' ').map(|(n, _)| n) == Some(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn exposes_counters_histogram_and_snapshot() {
        let store = Arc::new(SnapshotStore::default());
        let metrics = Metrics::new(store.clone());
        let text = metrics.encode().unwrap();
        assert_eq!(sample(&text, "config_snapshot_version"), Some(0.0));
        assert_eq!(sample(&text, "config_snapshot_swaps_total"), Some(0.0));

        let config = RawConfig::embedded().parse().unwrap();
        store.publish(Engine::compile(config, 7).unwrap());
        metrics.record(Counted::Injected, Duration::from_micros(15));
        metrics.record(Counted::Skipped("host_network"), Duration::from_secs(1));
        metrics.record(Counted::Failed("timeout"), Duration::from_secs(1));
        let text = metrics.encode().unwrap();
        assert_eq!(sample(&text, "sidecar_injection_requests_total"), Some(3.0));
        assert_eq!(sample(&text, "sidecar_injection_success_total"), Some(1.0));
        assert_eq!(
            sample(
                &text,
                "sidecar_injection_skip_total{reason=\"host_network\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "sidecar_injection_failure_total{reason=\"timeout\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "sidecar_injection_duration_seconds_bucket{le=\"0.00001\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "sidecar_injection_duration_seconds_bucket{le=\"0.00002\"}"
            ),
            Some(1.0)
        );
        assert_eq!(sample(&text, "config_snapshot_version"), Some(7.0));
        assert_eq!(sample(&text, "config_snapshot_swaps_total"), Some(1.0));
        assert!(text.ends_with("# EOF\n"));
    }
}
