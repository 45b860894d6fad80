//! `POST /inject`: one AdmissionReview in, one AdmissionReview out.
//!
//! Transport problems (content type, size, JSON, envelope) are errors with
//! an HTTP status, because there is no valid request to answer. Everything
//! about the pod is the engine's, answered inside a 200 AdmissionReview.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use injector_engine::admission::{self, Admission, Lookup, Review};
use tracing::Span;

use super::SharedState;
use super::error::AdmissionError;
use super::record::Recorded;

/// An AdmissionReview answer; the HTTP status is 200 whatever the verdict.
pub(super) struct Answer(Admission);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let Admission { body, verdict, .. } = self.0;
        let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        response
            .extensions_mut()
            .insert(Recorded::Answered(verdict));
        response
    }
}

pub(super) async fn inject(
    State(state): State<SharedState>,
    request: Request,
) -> Result<Answer, AdmissionError> {
    let body = read_json_body(request, state.limits.max_body_bytes).await?;
    let review = Review::parse(&body)?;
    drop(body);
    let span = Span::current();
    span.record("admission.uid", review.request.uid.as_str());
    span.record("dry_run", review.request.dry_run);
    let served = state.store.load().ok_or(AdmissionError::NotReady)?;
    span.record("snapshot.version", served.engine.version());
    span.record("snapshot.hash", served.engine.hash());
    let admission = match admission::lookup(&served.responses, &review)? {
        Lookup::Answered(admission) => admission,
        // Off the runtime's threads: the guard's deadline can only fire at
        // an await, and rendering is CPU work. Work whose request timed
        // out before a thread took it up is dropped.
        Lookup::Miss(miss) => {
            let in_work = span.clone();
            state
                .workers
                .run(move || {
                    in_work.in_scope(|| miss.admit(&served.engine, &served.responses, &review))
                })
                .await
                .map_err(|e| AdmissionError::Panic(e.to_string()))??
        }
    };
    span.record("k8s.namespace.name", admission.pod.namespace.as_str());
    span.record("k8s.pod.name", admission.pod.name.as_str());
    span.record("response.cached", admission.cached);
    Ok(Answer(admission))
}

/// The bench-only handler: the same transport work as [`inject`] (content
/// type, bounded body read) and a fixed `allowed: true`, so a load test can
/// tell what the server stack costs from what injection costs.
pub(super) async fn trivial(
    State(state): State<SharedState>,
    request: Request,
) -> Result<Answer, AdmissionError> {
    const ALLOWED: &[u8] = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"","allowed":true}}"#;
    read_json_body(request, state.limits.max_body_bytes).await?;
    Ok(Answer(Admission {
        body: ALLOWED.to_vec(),
        verdict: admission::Verdict::Skipped {
            reason: "bench_trivial",
            detail: String::new(),
        },
        pod: Default::default(),
        cached: false,
    }))
}

/// Checks the content type and reads at most `limit` bytes of body.
async fn read_json_body(request: Request, limit: usize) -> Result<Bytes, AdmissionError> {
    check_content_type(request.headers())?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AdmissionError::PayloadTooLarge(limit));
    }
    let body: Body = request.into_body();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(AdmissionError::PayloadTooLarge(limit))
        }
        Err(e) => Err(AdmissionError::Body(e.to_string())),
    }
}

/// kube-apiserver sends `application/json`; anything else is a client
/// that would not understand the answer either.
fn check_content_type(headers: &HeaderMap) -> Result<(), AdmissionError> {
    let value = headers.get(header::CONTENT_TYPE);
    let media_type = value
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim());
    match media_type {
        Some(t) if t.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(AdmissionError::UnsupportedMediaType(match value {
            None => "none".to_string(),
            Some(v) => format!("{:?}", String::from_utf8_lossy(v.as_bytes())),
        })),
    }
}
