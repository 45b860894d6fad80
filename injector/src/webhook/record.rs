//! The one place each admission is recorded: its `inject` span, its
//! metrics and its log line, from what the response says became of it.
//!
//! The handler, the guard and the panic catcher only build responses; each
//! response carries a [`Recorded`] extension, and this outermost layer
//! reads it once the response exists. So every request, refused by a limit
//! or answered by the engine, is counted, traced and logged exactly once.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use edge::telemetry;
use injector_engine::admission::Verdict;
use tracing::{Instrument, Span};

use super::SharedState;
use crate::metrics::Counted;

/// What became of a request, carried by its response.
#[derive(Clone, Debug)]
pub enum Recorded {
    /// Answered with an AdmissionReview.
    Answered(Verdict),
    /// Refused with an HTTP error.
    Failed {
        code: &'static str,
        status: StatusCode,
        message: String,
    },
}

/// The layer: opens the span before anything is read (so a refused
/// request is traced too), runs the request in it, then records.
pub(super) async fn record(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let span = tracing::info_span!(
        "inject",
        otel.kind = "server",
        admission.uid = tracing::field::Empty,
        k8s.namespace.name = tracing::field::Empty,
        k8s.pod.name = tracing::field::Empty,
        snapshot.version = tracing::field::Empty,
        snapshot.hash = tracing::field::Empty,
        dry_run = tracing::field::Empty,
        injection.decision = tracing::field::Empty,
        injection.reason = tracing::field::Empty,
        injection.templates = tracing::field::Empty,
        patch.operations = tracing::field::Empty,
        response.cached = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    );
    telemetry::set_remote_parent(&span, request.headers());
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let unrecorded = Recorded::Failed {
        code: "internal",
        status: response.status(),
        message: "the response says nothing of the request".into(),
    };
    let recorded = response
        .extensions()
        .get::<Recorded>()
        .unwrap_or(&unrecorded);
    let _entered = span.enter();
    state.metrics.record(counted(recorded), started.elapsed());
    write(&span, recorded);
    response
}

fn counted(recorded: &Recorded) -> Counted {
    match recorded {
        Recorded::Answered(Verdict::Injected { .. }) => Counted::Injected,
        Recorded::Answered(Verdict::Skipped { reason, .. }) => Counted::Skipped(reason),
        Recorded::Answered(Verdict::Denied { code, .. }) | Recorded::Failed { code, .. } => {
            Counted::Failed(code)
        }
    }
}

/// The span's verdict fields and the log line: a skip at info, an
/// injection at debug, anything that kept a pod from its sidecar at warn.
fn write(span: &Span, recorded: &Recorded) {
    match recorded {
        Recorded::Answered(Verdict::Skipped { reason, detail }) => {
            span.record("injection.decision", "skip");
            span.record("injection.reason", *reason);
            tracing::info!(reason, %detail, "not injected");
        }
        Recorded::Answered(Verdict::Injected {
            reason,
            templates,
            patch_operations,
        }) => {
            span.record("injection.decision", "inject");
            span.record("injection.reason", *reason);
            span.record("injection.templates", templates.join(",").as_str());
            span.record("patch.operations", *patch_operations);
            tracing::debug!(
                reason,
                ?templates,
                patch.operations = patch_operations,
                "injected"
            );
        }
        Recorded::Answered(Verdict::Denied { code, message }) => {
            span.record("injection.decision", "deny");
            span.record("injection.reason", *code);
            telemetry::record_error(span, message);
            tracing::warn!(reason = code, error = %message, "injection failed: pod denied");
        }
        Recorded::Failed {
            code,
            status,
            message,
        } => {
            span.record("injection.decision", "error");
            span.record("injection.reason", *code);
            telemetry::record_error(span, message);
            if status.is_server_error() {
                tracing::error!(%status, reason = code, error = %message, "admission request failed");
            } else {
                tracing::warn!(%status, reason = code, error = %message, "admission request rejected");
            }
        }
    }
}
