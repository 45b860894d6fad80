//! Logs and traces of both binaries (DESIGN §5), set up the same way.
//!
//! Logs go to standard error as text or JSON, filtered by `RUST_LOG`
//! (`info` by default). Traces are exported over OTLP/gRPC, configured only
//! by the standard `OTEL_*` variables, so an operator sets them as for any
//! other OpenTelemetry program: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)` and
//! `OTEL_BSP_*`. Without an endpoint there is no OpenTelemetry layer at
//! all, so tracing costs the request path nothing beyond the log filter.
//!
//! Spans leave through the SDK's batch processor: a bounded queue drained
//! by its own thread, which drops spans when full. A slow or dead collector
//! therefore costs spans, never an admission.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// The content type of both binaries' Prometheus endpoints (OpenMetrics
/// text, as prometheus-client encodes it).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The W3C header (and snapshot field) that carries a span context.
pub const TRACEPARENT: &str = "traceparent";

/// How long shutdown waits for the last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The crates whose spans are exported: ours, not the libraries' (whose
/// own spans would include the exporter's gRPC calls).
const TRACED_CRATES: [&str; 4] = ["injector", "injector_engine", "edge", "config_server"];

/// `--log-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event, with the span fields, for log pipelines.
    Json,
}

/// The logging flags both binaries take.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LogArgs {
    /// Log line format on standard error; `RUST_LOG` selects what is logged.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the OTLP trace exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("cannot install the log subscriber: {0}")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
}

/// The installed telemetry; dropping it flushes the spans still queued.
#[derive(Debug)]
#[must_use = "dropping the guard shuts the trace exporter down"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the global subscriber for `service` (the default
    /// `service.name`). Must run inside a Tokio runtime: the exporter's
    /// gRPC channel lives on it.
    pub fn init(args: &LogArgs, service: &'static str) -> Result<Self, TelemetryError> {
        let provider = otlp_endpoint_configured()
            .then(|| tracer_provider(service))
            .transpose()?;
        let otel = provider.as_ref().map(|provider| {
            let targets = TRACED_CRATES.iter().fold(Targets::new(), |t, krate| {
                t.with_target(*krate, LevelFilter::INFO)
            });
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer(service))
                .with_location(false)
                .with_threads(false)
                .with_filter(targets)
        });
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let fmt = match args.log_format {
            LogFormat::Text => fmt.with_ansi(ansi).boxed(),
            LogFormat::Json => fmt.json().with_current_span(true).boxed(),
        };
        tracing_subscriber::registry()
            .with(fmt.with_filter(filter))
            .with(otel)
            .try_init()?;
        if provider.is_some() {
            tracing::info!("exporting traces over OTLP/gRPC");
        }
        Ok(Telemetry { provider })
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        {
            eprintln!("warning: the last spans may be lost: {error}");
        }
    }
}

/// Tracing is on when an OTLP endpoint is configured, as the OpenTelemetry
/// specification has it, unless `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none`.
fn otlp_endpoint_configured() -> bool {
    let set = |name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let is = |name, value: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case(value));
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

/// The SDK reads the endpoint, timeout, sampler, resource and batch
/// settings from the environment; only the service name gets a default.
fn tracer_provider(service: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_protocol(opentelemetry_otlp::Protocol::Grpc)
        .build()?;
    let named_by_env = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name="));
    let resource = if named_by_env {
        Resource::builder().build()
    } else {
        Resource::builder().with_service_name(service).build()
    };
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Reads the trace context from an HTTP request's headers.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Makes the caller's span (a W3C `traceparent` header) the parent of
/// `span`, which must not have been entered yet. Without the header, or
/// without tracing, nothing changes.
pub fn set_remote_parent(span: &Span, headers: &http::HeaderMap) {
    if headers.contains_key(TRACEPARENT) {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        // Fails only when no OpenTelemetry layer is installed: nothing to do.
        let _ = span.set_parent(parent);
    }
}

/// The W3C `traceparent` of `span`, empty when it is not traced.
pub fn traceparent(span: &Span) -> String {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove(TRACEPARENT).unwrap_or_default()
}

/// Links `span` to the span that `traceparent` names (a cause in another
/// trace, not a parent); an empty or invalid value adds nothing.
pub fn link_to(span: &Span, traceparent: &str) {
    if !traceparent.is_empty() {
        span.add_link(remote(traceparent).span().span_context().clone());
    }
}

/// Makes `traceparent` the parent of `span`, which must not have been
/// entered yet: for work done on behalf of that span in another task.
pub fn set_parent_from(span: &Span, traceparent: &str) {
    if !traceparent.is_empty() {
        let _ = span.set_parent(remote(traceparent));
    }
}

/// The remote span context a `traceparent` value names.
fn remote(traceparent: &str) -> opentelemetry::Context {
    let carrier = HashMap::from([(TRACEPARENT.to_string(), traceparent.to_string())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// Marks `span` as failed with `message`; the span must declare the
/// `otel.status_code` and `otel.status_description` fields.
pub fn record_error(span: &Span, message: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", message);
}
