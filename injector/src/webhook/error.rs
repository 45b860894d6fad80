//! Why an admission request got no AdmissionReview answer: the request
//! could not be read (4xx), or the webhook could not take it on (5xx).
//! Everything about the pod itself is answered inside a 200 AdmissionReview
//! instead (see [`admit`](injector_engine::admission::admit)).

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use injector_engine::admission::{AdmitError, EncodeError, ReviewError};

use super::record::Recorded;

#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// Empty or malformed JSON, or not an AdmissionReview with a request
    /// object.
    #[error(transparent)]
    BadRequest(#[from] ReviewError),
    #[error("cannot read the request body: {0}")]
    Body(String),
    #[error("request body exceeds the limit of {0} bytes (--max-body-bytes)")]
    PayloadTooLarge(usize),
    #[error("Content-Type must be application/json (got {0})")]
    UnsupportedMediaType(String),
    #[error("the injector has no configuration snapshot yet; retry shortly")]
    NotReady,
    #[error(
        "too many admission requests in progress ({processing} processing, {waiting} waiting); retry"
    )]
    Overloaded { processing: usize, waiting: usize },
    #[error("admission request not answered within {0:?} (--request-timeout)")]
    Timeout(Duration),
    #[error("internal error in the sidecar injector (logged); retry")]
    Panic(String),
    #[error(transparent)]
    Internal(#[from] EncodeError),
}

impl From<AdmitError> for AdmissionError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Review(e) => AdmissionError::BadRequest(e),
            AdmitError::Encode(e) => AdmissionError::Internal(e),
        }
    }
}

impl AdmissionError {
    /// A stable snake_case code: the `reason` label of
    /// `sidecar_injection_failure_total`.
    pub fn code(&self) -> &'static str {
        match self {
            AdmissionError::BadRequest(_) | AdmissionError::Body(_) => "bad_request",
            AdmissionError::PayloadTooLarge(_) => "payload_too_large",
            AdmissionError::UnsupportedMediaType(_) => "unsupported_media_type",
            AdmissionError::NotReady => "not_ready",
            AdmissionError::Overloaded { .. } => "overloaded",
            AdmissionError::Timeout(_) => "timeout",
            AdmissionError::Panic(_) => "panic",
            AdmissionError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AdmissionError::BadRequest(_) | AdmissionError::Body(_) => StatusCode::BAD_REQUEST,
            AdmissionError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdmissionError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AdmissionError::NotReady
            | AdmissionError::Overloaded { .. }
            | AdmissionError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdmissionError::Panic(_) | AdmissionError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// The status and a one-line message; what to record goes along for the
/// record layer. A panic's own message is logged, never sent.
impl IntoResponse for AdmissionError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = format!("{self}\n");
        let detail = match &self {
            AdmissionError::Panic(detail) => format!("{self}: {detail}"),
            _ => self.to_string(),
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response();
        response.extensions_mut().insert(Recorded::Failed {
            code: self.code(),
            status,
            message: detail,
        });
        response
    }
}
