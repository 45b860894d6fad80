//! The AdmissionReview sent back: kube's [`AdmissionResponse`], with
//! `patch` as the base64 string the API documents (kube 5 would write a
//! JSON array of bytes).

use base64::Engine as _;
use kube_core::admission::{AdmissionRequest, AdmissionResponse};
use kube_core::{DynamicObject, TypeMeta};
use serde::Serialize;

#[derive(Serialize)]
struct Answer<'a> {
    #[serde(flatten)]
    types: &'a TypeMeta,
    response: AnswerBody<'a>,
}

#[derive(Serialize)]
struct AnswerBody<'a> {
    #[serde(flatten)]
    response: &'a AdmissionResponse,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<&'a str>,
}

/// The answer could not be serialized: a fault of this program, not of
/// the request.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the AdmissionReview answer: {0}")]
pub struct EncodeError(serde_json::Error);

/// What the answer says, whoever asks: everything but the request's uid
/// and API version, so it can be cached and sent to every replica.
#[derive(Debug)]
pub(super) enum Reply {
    /// `allowed: true`, no patch: the pod is admitted unchanged.
    Allow,
    /// `allowed: true` with this base64 JSON Patch.
    Patch(String),
    /// `allowed: false` with this message, which kube-apiserver shows the user.
    Deny(String),
}

impl Reply {
    pub(super) fn patch(patch: &json_patch::Patch) -> Result<Reply, EncodeError> {
        let bytes = serde_json::to_vec(patch).map_err(EncodeError)?;
        Ok(Reply::Patch(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    }

    /// The bytes this reply takes in memory, for the cache's budget.
    pub(super) fn weight(&self) -> usize {
        match self {
            Reply::Allow => 0,
            Reply::Patch(text) | Reply::Deny(text) => text.len(),
        }
    }

    /// The AdmissionReview answering `request`.
    pub(super) fn encode(
        &self,
        request: &AdmissionRequest<DynamicObject>,
    ) -> Result<Vec<u8>, EncodeError> {
        let response = AdmissionResponse::from(request);
        let (response, patch) = match self {
            Reply::Allow => (response, None),
            Reply::Patch(patch) => (response, Some(patch.as_str())),
            Reply::Deny(message) => (response.deny(message), None),
        };
        let answer = Answer {
            types: &response.types,
            response: AnswerBody {
                response: &response,
                patch_type: patch.map(|_| "JSONPatch"),
                patch,
            },
        };
        serde_json::to_vec(&answer).map_err(EncodeError)
    }
}

/// `allowed: true`, no patch, for a request the webhook does not change.
pub(super) fn allow(request: &AdmissionRequest<DynamicObject>) -> Result<Vec<u8>, EncodeError> {
    Reply::Allow.encode(request)
}
