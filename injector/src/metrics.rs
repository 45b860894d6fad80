//! Prometheus metrics of the injector (DESIGN §5), served on the admin port.
//!
//! Every label value comes from a closed set ([`Reason::code`],
//! [`InjectError::code`] or [`Failure::code`]), so no request can grow the
//! number of series. The snapshot gauges are read from the
//! [`SnapshotStore`] at scrape time, so they stay right whoever publishes
//! (the directory loader today, the config-server client next).
//!
//! [`Reason::code`]: crate::decision::Reason::code
//! [`InjectError::code`]: crate::engine::InjectError::code

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

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Why the webhook answered an admission request without an engine
/// verdict. With [`InjectError::code`](crate::engine::InjectError::code)
/// these are the `reason` values of `sidecar_injection_failure_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Empty or malformed JSON, or not an AdmissionReview with a request
    /// object (HTTP 400).
    BadRequest,
    /// Body over the limit (HTTP 413).
    PayloadTooLarge,
    /// Content-Type is not JSON (HTTP 415).
    UnsupportedMediaType,
    /// No snapshot yet (HTTP 503).
    NotReady,
    /// Concurrency limit reached (HTTP 503).
    Overloaded,
    /// Not answered within the request timeout (HTTP 503).
    Timeout,
    /// The handler panicked (HTTP 500).
    Panic,
    /// The answer could not be encoded.
    Internal,
}

impl Failure {
    /// A stable snake_case code, used as a metric label value.
    pub fn code(self) -> &'static str {
        match self {
            Failure::BadRequest => "bad_request",
            Failure::PayloadTooLarge => "payload_too_large",
            Failure::UnsupportedMediaType => "unsupported_media_type",
            Failure::NotReady => "not_ready",
            Failure::Overloaded => "overloaded",
            Failure::Timeout => "timeout",
            Failure::Panic => "panic",
            Failure::Internal => "internal",
        }
    }
}

/// The skip reason for admission requests that are not a pod CREATE: they
/// are answered `allowed` without a patch.
pub const SKIP_NOT_POD_CREATE: &str = "not_pod_create";

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

    /// Counts a request on `/inject`; every one later gets exactly one of
    /// [`success`](Self::success), [`skip`](Self::skip) or a failure.
    pub fn request(&self) {
        self.requests.inc();
    }

    pub fn success(&self) {
        self.success.inc();
    }

    /// `reason` must come from a closed set (a decision reason code).
    pub fn skip(&self, reason: &'static str) {
        self.skip.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// An engine error, by [`InjectError::code`](crate::engine::InjectError::code).
    pub fn engine_failure(&self, code: &'static str) {
        self.failure
            .get_or_create(&ReasonLabel { reason: code })
            .inc();
    }

    pub fn failure(&self, failure: Failure) {
        self.engine_failure(failure.code());
    }

    pub fn observe(&self, elapsed: Duration) {
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
        let version = self.store.load().map_or(0, |e| e.version());
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
    use crate::{Engine, RawConfig};

    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.split_once(' ').map(|(n, _)| n) == Some(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn exposes_counters_histogram_and_snapshot() {
        let store = Arc::new(SnapshotStore::new());
        let metrics = Metrics::new(store.clone());
        let text = metrics.encode().unwrap();
        assert_eq!(sample(&text, "config_snapshot_version"), Some(0.0));
        assert_eq!(sample(&text, "config_snapshot_swaps_total"), Some(0.0));

        let config = RawConfig::embedded().parse().unwrap();
        store.publish(Engine::compile(config, 7).unwrap());
        metrics.request();
        metrics.request();
        metrics.request();
        metrics.success();
        metrics.skip("host_network");
        metrics.failure(Failure::Timeout);
        metrics.observe(Duration::from_micros(15));
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
