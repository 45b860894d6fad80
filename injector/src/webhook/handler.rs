//! `POST /inject`: one AdmissionReview in, one AdmissionReview out.
//!
//! Transport problems (content type, size, JSON, envelope) are answered
//! with an HTTP status and a one-line message, because there is no valid
//! request to answer. Everything about the pod is answered inside a 200
//! AdmissionReview: allowed with or without a patch, or denied with the
//! engine's message, which kube-apiserver shows to whoever created the pod.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tracing::{Instrument, Span};

use super::review::{self, Review};
use super::{Rejection, SharedState};
use crate::engine::{Outcome, PodRequest};
use crate::metrics::{Failure, SKIP_NOT_POD_CREATE};
use crate::telemetry;

/// The answer to an admission request; the HTTP status is 200 whatever
/// the verdict.
fn answer(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(super) async fn inject(State(state): State<SharedState>, request: Request) -> Response {
    // Opened before the body is read, so a refused request is traced too;
    // the fields are filled in as they become known.
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
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    );
    telemetry::set_remote_parent(&span, request.headers());
    match admit(&state, request, &span).instrument(span.clone()).await {
        Ok(response) => response,
        Err(rejection) => {
            let _entered = span.enter();
            span.record("injection.decision", "error");
            span.record("injection.reason", rejection.failure.code());
            telemetry::record_error(&span, &rejection.message);
            tracing::warn!(status = %rejection.status, reason = rejection.failure.code(), error = %rejection.message, "admission request rejected");
            state.metrics.failure(rejection.failure);
            rejection.into_response()
        }
    }
}

async fn admit(state: &SharedState, request: Request, span: &Span) -> Result<Response, Rejection> {
    let body = read_json_body(request, state.limits.max_body_bytes).await?;
    let review = Review::parse(&body)
        .map_err(|e| Rejection::new(StatusCode::BAD_REQUEST, Failure::BadRequest, e))?;
    drop(body);
    span.record("admission.uid", review.request.uid.as_str());
    span.record("k8s.namespace.name", review.pod_namespace());
    span.record("k8s.pod.name", review.pod_name());
    span.record("dry_run", review.request.dry_run);
    let Some(engine) = state.store.load() else {
        return Err(Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Failure::NotReady,
            "the injector has no configuration snapshot yet; retry shortly",
        ));
    };
    span.record("snapshot.version", engine.version());
    span.record("snapshot.hash", engine.hash());
    let skip = |reason: &'static str, detail: &dyn std::fmt::Display| {
        span.record("injection.decision", "skip");
        span.record("injection.reason", reason);
        tracing::info!(reason, %detail, "not injected");
        state.metrics.skip(reason);
        answer(review::allow(&review))
    };
    if !review.is_pod_create() {
        let detail = format!(
            "{:?} of a {}",
            review.request.operation, review.request.kind.kind
        );
        return Ok(skip(SKIP_NOT_POD_CREATE, &detail));
    }
    let outcome = engine.process(&PodRequest {
        pod: &review.object,
        namespace: review.namespace(),
        namespace_labels: None,
        workload: None,
    });
    match outcome {
        Ok(Outcome::Skipped(decision)) => Ok(skip(decision.reason.code(), &decision.detail)),
        Ok(Outcome::Injected(injection)) => {
            // An empty patch: already injected by this snapshot
            // (kube-apiserver re-invokes webhooks with `reinvocationPolicy:
            // IfNeeded`), so there is nothing to add.
            let reason = if injection.patch.0.is_empty() {
                "already_injected"
            } else {
                injection.decision.reason.code()
            };
            span.record("injection.decision", "inject");
            span.record("injection.reason", reason);
            span.record(
                "injection.templates",
                injection.templates.join(",").as_str(),
            );
            span.record("patch.operations", injection.patch.0.len());
            let body = if injection.patch.0.is_empty() {
                review::allow(&review)
            } else {
                review::patch(&review, &injection.patch).map_err(|e| {
                    Rejection::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Failure::Internal,
                        format!("cannot encode the patch: {e}"),
                    )
                })?
            };
            tracing::debug!(
                reason,
                templates = ?injection.templates,
                patch.operations = injection.patch.0.len(),
                "injected"
            );
            state.metrics.success();
            Ok(answer(body))
        }
        Err(error) => {
            let message = format!(
                "sidecar injection failed for pod {}/{}: {error}",
                review.pod_namespace(),
                review.pod_name()
            );
            span.record("injection.decision", "deny");
            span.record("injection.reason", error.code());
            telemetry::record_error(span, &message);
            tracing::warn!(reason = error.code(), %error, "injection failed: pod denied");
            state.metrics.engine_failure(error.code());
            Ok(answer(review::deny(&review, message)))
        }
    }
}

/// The bench-only handler: the same transport work as [`inject`] (content
/// type, bounded body read) and a fixed `allowed: true`, so a load test can
/// tell what the server stack costs from what injection costs.
pub(super) async fn trivial(State(state): State<SharedState>, request: Request) -> Response {
    const ALLOWED: &[u8] = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"","allowed":true}}"#;
    match read_json_body(request, state.limits.max_body_bytes).await {
        Ok(_) => {
            state.metrics.skip("bench_trivial");
            answer(ALLOWED.to_vec())
        }
        Err(rejection) => {
            state.metrics.failure(rejection.failure);
            rejection.into_response()
        }
    }
}

/// Checks the content type and reads at most `limit` bytes of body.
async fn read_json_body(request: Request, limit: usize) -> Result<Bytes, Rejection> {
    check_content_type(request.headers())?;
    let too_large = || {
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Failure::PayloadTooLarge,
            format!("request body exceeds the limit of {limit} bytes (--max-body-bytes)"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let body: Body = request.into_body();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            Failure::BadRequest,
            format!("cannot read the request body: {e}"),
        )),
    }
}

/// kube-apiserver sends `application/json`; anything else is a client
/// that would not understand the answer either.
fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let value = headers.get(header::CONTENT_TYPE);
    let media_type = value
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim());
    match media_type {
        Some(t) if t.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => {
            let got = match value {
                None => "none".to_string(),
                Some(v) => format!("{:?}", String::from_utf8_lossy(v.as_bytes())),
            };
            Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Failure::UnsupportedMediaType,
                format!("Content-Type must be application/json (got {got})"),
            ))
        }
    }
}
