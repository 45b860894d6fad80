//! The AdmissionReview envelope, `admission.k8s.io/v1` and `v1beta1`, and
//! [`admit`]: from a parsed review to the answer's bytes.
//!
//! The envelope is kube's [`AdmissionRequest`]/[`AdmissionResponse`]; the
//! pod itself is kept as the raw JSON it arrived as, so fields this build's
//! Kubernetes types do not know survive untouched and never show up in the
//! patch. Two departures from kube's types, both on the wire only:
//! `request.object` is taken out before the envelope is typed, and the
//! answer carries `patch` as the base64 string the API documents (kube 5
//! would write a JSON array of bytes).

use base64::Engine as _;
use kube_core::DynamicObject;
use kube_core::TypeMeta;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use serde::Serialize;
use serde_json::Value;

use crate::engine::{Engine, Outcome, PodRequest};
use crate::pod;

/// The two AdmissionReview versions kube-apiserver may send.
pub const API_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];
const KIND: &str = "AdmissionReview";

/// Why a body is not an AdmissionReview this webhook can answer (HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("empty request body: expected an AdmissionReview (admission.k8s.io/v1 or v1beta1)")]
    Empty,
    #[error("request body is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("request body is JSON {0}, not an AdmissionReview object")]
    NotAnObject(&'static str),
    #[error(
        "apiVersion {api_version:?}, kind {kind:?}: expected kind AdmissionReview of \
         admission.k8s.io/v1 or admission.k8s.io/v1beta1"
    )]
    Version { api_version: String, kind: String },
    #[error("AdmissionReview has no request")]
    MissingRequest,
    #[error("AdmissionReview request has no object (the pod to admit)")]
    MissingObject,
    #[error("AdmissionReview request is malformed: {0}")]
    Request(serde_json::Error),
}

/// A parsed admission request: kube's typed envelope (its `object` left
/// empty) and the object as received.
#[derive(Debug)]
pub struct Review {
    pub request: AdmissionRequest<DynamicObject>,
    pub object: Value,
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Review {
    pub fn parse(body: &[u8]) -> Result<Review, ReviewError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ReviewError::Empty);
        }
        let mut value: Value = serde_json::from_slice(body).map_err(ReviewError::Json)?;
        let Value::Object(review) = &mut value else {
            return Err(ReviewError::NotAnObject(json_kind(&value)));
        };
        let field = |name: &str| review.get(name).and_then(Value::as_str).unwrap_or("");
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        if kind != KIND || !API_VERSIONS.contains(&api_version) {
            return Err(ReviewError::Version {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            });
        }
        let Some(Value::Object(request)) = review.get_mut("request") else {
            return Err(ReviewError::MissingRequest);
        };
        let object = match request.remove("object") {
            None | Some(Value::Null) => return Err(ReviewError::MissingObject),
            Some(object) => object,
        };
        let review: AdmissionReview<DynamicObject> =
            serde_json::from_value(value).map_err(ReviewError::Request)?;
        let request = review.try_into().map_err(|_| ReviewError::MissingRequest)?;
        Ok(Review { request, object })
    }

    /// Whether this is a pod being created: the only request the webhook
    /// changes. Anything else (a misconfigured rule) is allowed unchanged.
    pub fn is_pod_create(&self) -> bool {
        let kind = &self.request.kind;
        kind.group.is_empty()
            && kind.kind == "Pod"
            && self.request.operation == Operation::Create
            && self
                .request
                .sub_resource
                .as_deref()
                .is_none_or(str::is_empty)
    }

    /// The namespace the pod is created in, for a pod that names none.
    pub fn namespace(&self) -> &str {
        self.request
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
    }

    /// The pod's namespace: its own, else the request's.
    pub fn pod_namespace(&self) -> &str {
        pod::namespace(&self.object, self.namespace())
    }

    /// The pod's name, or its `generateName` before the API server has
    /// picked one.
    pub fn pod_name(&self) -> &str {
        let meta = &self.object["metadata"];
        meta["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .or_else(|| meta["generateName"].as_str())
            .unwrap_or(self.request.name.as_str())
    }
}

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
    patch: Option<String>,
}

fn encode(response: &AdmissionResponse, patch: Option<String>) -> Result<Vec<u8>, EncodeError> {
    let answer = Answer {
        types: &response.types,
        response: AnswerBody {
            response,
            patch_type: patch.as_ref().map(|_| "JSONPatch"),
            patch,
        },
    };
    serde_json::to_vec(&answer).map_err(EncodeError)
}

/// The answer could not be serialized: a fault of this program, not of
/// the request.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the AdmissionReview answer: {0}")]
pub struct EncodeError(serde_json::Error);

/// `allowed: true`, no patch: the pod is admitted unchanged.
pub fn allow(review: &Review) -> Result<Vec<u8>, EncodeError> {
    encode(&AdmissionResponse::from(&review.request), None)
}

/// `allowed: true` with `patch` as a base64 JSON Patch.
pub fn patch(review: &Review, patch: &json_patch::Patch) -> Result<Vec<u8>, EncodeError> {
    let bytes = serde_json::to_vec(patch).map_err(EncodeError)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    encode(&AdmissionResponse::from(&review.request), Some(encoded))
}

/// `allowed: false` with `message`, which kube-apiserver shows the user.
pub fn deny(review: &Review, message: impl ToString) -> Result<Vec<u8>, EncodeError> {
    encode(
        &AdmissionResponse::from(&review.request).deny(message),
        None,
    )
}

/// The skip reason of a request that is not a pod being created.
pub const SKIP_NOT_POD_CREATE: &str = "not_pod_create";

/// The reason of an injection whose patch is empty: the pod already is
/// what this snapshot makes of it.
pub const ALREADY_INJECTED: &str = "already_injected";

/// What was decided for a request, for the webhook's span, metrics and log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted unchanged. `reason` is a code from a bounded set.
    Skipped {
        reason: &'static str,
        detail: String,
    },
    /// Admitted with a patch (or without one when already injected).
    Injected {
        reason: &'static str,
        templates: Vec<String>,
        patch_operations: usize,
    },
    /// Refused: the engine could not inject the pod. `code` is bounded,
    /// `message` is what the user sees.
    Denied { code: &'static str, message: String },
}

/// The answer to one admission request.
#[derive(Debug)]
pub struct Admission {
    /// The AdmissionReview to send back.
    pub body: Vec<u8>,
    pub verdict: Verdict,
}

/// Answers `review` with `engine`: pods being created are decided and
/// injected, anything else (a misconfigured rule) is allowed unchanged,
/// and a pod the engine cannot inject is denied with the reason.
pub fn admit(engine: &Engine, review: &Review) -> Result<Admission, EncodeError> {
    if !review.is_pod_create() {
        let detail = format!(
            "{:?} of a {}",
            review.request.operation, review.request.kind.kind
        );
        return Ok(Admission {
            body: allow(review)?,
            verdict: Verdict::Skipped {
                reason: SKIP_NOT_POD_CREATE,
                detail,
            },
        });
    }
    let outcome = engine.process(&PodRequest {
        pod: &review.object,
        namespace: review.namespace(),
        namespace_labels: None,
        workload: None,
    });
    Ok(match outcome {
        Ok(Outcome::Skipped(decision)) => Admission {
            body: allow(review)?,
            verdict: Verdict::Skipped {
                reason: decision.reason.code(),
                detail: decision.detail,
            },
        },
        // An empty patch: already injected by this snapshot (kube-apiserver
        // re-invokes webhooks with `reinvocationPolicy: IfNeeded`), so there
        // is nothing to add.
        Ok(Outcome::Injected(injection)) if injection.patch.0.is_empty() => Admission {
            body: allow(review)?,
            verdict: Verdict::Injected {
                reason: ALREADY_INJECTED,
                templates: injection.templates,
                patch_operations: 0,
            },
        },
        Ok(Outcome::Injected(injection)) => Admission {
            body: patch(review, &injection.patch)?,
            verdict: Verdict::Injected {
                reason: injection.decision.reason.code(),
                templates: injection.templates,
                patch_operations: injection.patch.0.len(),
            },
        },
        Err(error) => {
            let message = format!(
                "sidecar injection failed for pod {}/{}: {error}",
                review.pod_namespace(),
                review.pod_name()
            );
            Admission {
                body: deny(review, &message)?,
                verdict: Verdict::Denied {
                    code: error.code(),
                    message,
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review(api_version: &str) -> Value {
        json!({
            "apiVersion": api_version,
            "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": "shop",
                "operation": "CREATE",
                "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
                "object": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"generateName": "ratings-", "x-unknown": 1},
                    "spec": {"containers": [{"name": "app", "image": "app"}]}
                },
                "oldObject": null,
                "dryRun": true
            }
        })
    }

    fn parse(value: &Value) -> Result<Review, ReviewError> {
        Review::parse(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn answers_mirror_version_and_uid() {
        for version in API_VERSIONS {
            let review = parse(&review(version)).unwrap();
            assert!(review.is_pod_create());
            assert!(review.request.dry_run);
            assert_eq!(review.object["metadata"]["x-unknown"], 1);
            assert_eq!(
                (review.pod_namespace(), review.pod_name()),
                ("shop", "ratings-")
            );
            let answer: Value = serde_json::from_slice(&allow(&review).unwrap()).unwrap();
            assert_eq!(answer["apiVersion"], version);
            assert_eq!(answer["kind"], "AdmissionReview");
            assert_eq!(
                answer["response"]["uid"],
                "705ab4f5-6393-11e8-b7cc-42010a800002"
            );
            assert_eq!(answer["response"]["allowed"], true);
            assert!(answer["response"].get("patch").is_none());
            assert!(answer["response"].get("patchType").is_none());
        }
    }

    #[test]
    fn patch_is_a_base64_string_and_deny_carries_the_message() {
        let review = parse(&review(API_VERSIONS[0])).unwrap();
        let ops: json_patch::Patch =
            serde_json::from_value(json!([{"op": "add", "path": "/metadata/labels", "value": {}}]))
                .unwrap();
        let answer: Value = serde_json::from_slice(&patch(&review, &ops).unwrap()).unwrap();
        assert_eq!(answer["response"]["patchType"], "JSONPatch");
        let text = answer["response"]["patch"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let back: json_patch::Patch = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(back, ops);

        let answer: Value = serde_json::from_slice(&deny(&review, "fix it").unwrap()).unwrap();
        assert_eq!(answer["response"]["allowed"], false);
        assert_eq!(answer["response"]["status"]["message"], "fix it");
    }

    #[test]
    fn rejects_what_is_not_a_review_with_an_object() {
        let err = |body: &[u8]| Review::parse(body).unwrap_err().to_string();
        assert!(err(b"  \n").contains("empty request body"));
        assert!(err(b"{\"apiVersion\":").contains("not valid JSON"));
        assert!(err(b"[1]").contains("JSON an array"));
        let mut v = review("admission.k8s.io/v2");
        assert!(
            parse(&v)
                .unwrap_err()
                .to_string()
                .contains("\"admission.k8s.io/v2\"")
        );
        v["apiVersion"] = json!("admission.k8s.io/v1");
        v["kind"] = json!("Pod");
        assert!(matches!(parse(&v), Err(ReviewError::Version { .. })));
        v["kind"] = json!("AdmissionReview");
        v["request"]["object"] = Value::Null;
        assert!(matches!(parse(&v), Err(ReviewError::MissingObject)));
        v.as_object_mut().unwrap().remove("request");
        assert!(matches!(parse(&v), Err(ReviewError::MissingRequest)));
        let mut v = review("admission.k8s.io/v1");
        v["request"].as_object_mut().unwrap().remove("uid");
        let e = parse(&v).unwrap_err().to_string();
        assert!(e.contains("malformed") && e.contains("uid"), "{e}");
    }

    #[test]
    fn only_pod_creates_are_injected() {
        let mut v = review("admission.k8s.io/v1");
        v["request"]["operation"] = json!("UPDATE");
        assert!(!parse(&v).unwrap().is_pod_create());
        let mut v = review("admission.k8s.io/v1");
        v["request"]["kind"]["kind"] = json!("Deployment");
        assert!(!parse(&v).unwrap().is_pod_create());
    }
}
