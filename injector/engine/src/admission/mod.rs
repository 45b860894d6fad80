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

mod answer;
mod cache;

use std::borrow::Cow;
use std::sync::Arc;

use kube_core::admission::{AdmissionRequest, Operation};
use kube_core::{DynamicObject, TypeMeta};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub use answer::EncodeError;
use answer::Reply;
use cache::Decided;
pub use cache::ResponseCache;

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
/// empty) and the object's JSON text as received.
///
/// The object is kept as text because the answer to a pod seen before
/// comes from the [`ResponseCache`], keyed by that text: replicas of a
/// workload reach admission byte-identical, and then the pod is never
/// parsed at all.
#[derive(Debug)]
pub struct Review {
    pub request: AdmissionRequest<DynamicObject>,
    pub object: Box<RawValue>,
}

/// The envelope as the wire carries it, with `request.object` borrowed as
/// text: one pass over the body, and no tree built for the pod.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<Cow<'a, str>>,
    #[serde(default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request: Option<WireRequest<'a>>,
}

#[derive(Deserialize)]
struct WireRequest<'a> {
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
    #[serde(flatten)]
    rest: Map<String, Value>,
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
        // serde reads a struct from a JSON array too: only an object is
        // an envelope.
        let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let wire: Wire<'_> = match serde_json::from_slice(body) {
            Ok(wire) if object => wire,
            // Not the envelope's shape: say how, from the JSON itself.
            parsed => {
                return Err(match serde_json::from_slice::<Value>(body) {
                    Err(e) => ReviewError::Json(e),
                    Ok(value) if !value.is_object() => ReviewError::NotAnObject(json_kind(&value)),
                    // An object that is not the envelope: serde says why.
                    Ok(_) => parsed
                        .err()
                        .map_or(ReviewError::MissingRequest, ReviewError::Request),
                });
            }
        };
        let (api_version, kind) = (
            wire.api_version.unwrap_or_default(),
            wire.kind.unwrap_or_default(),
        );
        if kind != KIND || !API_VERSIONS.contains(&api_version.as_ref()) {
            return Err(ReviewError::Version {
                api_version: api_version.into_owned(),
                kind: kind.into_owned(),
            });
        }
        let request = wire.request.ok_or(ReviewError::MissingRequest)?;
        let object = match request.object {
            Some(raw) if raw.get() != "null" => raw.to_owned(),
            _ => return Err(ReviewError::MissingObject),
        };
        let mut request: AdmissionRequest<DynamicObject> =
            serde_json::from_value(Value::Object(request.rest)).map_err(ReviewError::Request)?;
        // The answer mirrors the review's version, as kube's conversion from
        // a review to its request records it.
        request.types = TypeMeta {
            api_version: api_version.into_owned(),
            kind: kind.into_owned(),
        };
        Ok(Review { request, object })
    }

    /// The pod, parsed: only when the answer is not cached.
    pub fn pod(&self) -> Result<Value, ReviewError> {
        serde_json::from_str(self.object.get()).map_err(ReviewError::Request)
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
    /// The pod's namespace and name (its `generateName` before the API
    /// server picks one), for the log.
    pub pod: PodName,
    /// Whether the answer came from the [`ResponseCache`].
    pub cached: bool,
}

/// A pod's namespace and name, as the log shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodName {
    pub namespace: String,
    pub name: String,
}

impl PodName {
    fn of(pod: &Value, review: &Review) -> PodName {
        let meta = &pod["metadata"];
        let name = meta["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .or_else(|| meta["generateName"].as_str())
            .unwrap_or(review.request.name.as_str());
        PodName {
            namespace: pod::namespace(pod, review.namespace()).to_string(),
            name: name.to_string(),
        }
    }
}

/// Answers `review` with `engine`: pods being created are decided and
/// injected, anything else (a misconfigured rule) is allowed unchanged,
/// and a pod the engine cannot inject is denied with the reason.
///
/// `responses` must belong to `engine` (one cache per snapshot): a pod
/// whose exact text was answered before gets the same answer, with only
/// the request's uid changed, and is not parsed again.
pub fn admit(
    engine: &Engine,
    responses: &ResponseCache,
    review: &Review,
) -> Result<Admission, AdmitError> {
    match lookup(responses, review)? {
        Lookup::Answered(admission) => Ok(admission),
        Lookup::Miss(miss) => miss.admit(engine, responses, review),
    }
}

/// The first half of [`admit`]: what the response cache holds for a review.
#[derive(Debug)]
pub enum Lookup {
    /// A pod being created whose exact text this snapshot answered before:
    /// no engine and no parse of the pod, so a server may answer it on its
    /// own threads and keep its engine threads for pods it has not seen.
    Answered(Admission),
    /// Anything else: [`Miss::admit`] runs the engine.
    Miss(Miss),
}

/// A review the response cache could not answer, with its cache key when
/// it is a pod being created (computed once, for the lookup and the insert).
#[derive(Debug)]
pub struct Miss {
    key: Option<Box<[u8]>>,
}

/// Looks `review` up in `responses`.
pub fn lookup(responses: &ResponseCache, review: &Review) -> Result<Lookup, AdmitError> {
    if !review.is_pod_create() {
        return Ok(Lookup::Miss(Miss { key: None }));
    }
    let key = ResponseCache::key(review.namespace(), review.object.get());
    match responses.get(&key) {
        Some(hit) => Ok(Lookup::Answered(answer(&hit, review, true)?)),
        None => Ok(Lookup::Miss(Miss { key: Some(key) })),
    }
}

impl Miss {
    /// The second half of [`admit`]: runs the engine for `review` (the
    /// review that was looked up) and caches the answer.
    pub fn admit(
        self,
        engine: &Engine,
        responses: &ResponseCache,
        review: &Review,
    ) -> Result<Admission, AdmitError> {
        let Some(key) = self.key else {
            return not_pod_create(review);
        };
        let decided = Arc::new(decide(engine, review)?);
        responses.insert(key, decided.clone());
        answer(&decided, review, false)
    }
}

/// A request that is not a pod being created (a misconfigured rule):
/// allowed unchanged.
fn not_pod_create(review: &Review) -> Result<Admission, AdmitError> {
    let detail = format!(
        "{:?} of a {}",
        review.request.operation, review.request.kind.kind
    );
    Ok(Admission {
        body: answer::allow(&review.request)?,
        verdict: Verdict::Skipped {
            reason: SKIP_NOT_POD_CREATE,
            detail,
        },
        // A rare path: the object is read for its name.
        pod: review
            .pod()
            .map(|pod| PodName::of(&pod, review))
            .unwrap_or_else(|_| PodName {
                namespace: review.namespace().to_string(),
                name: review.request.name.clone(),
            }),
        cached: false,
    })
}

/// `decided`, answered to this review (its uid and version).
fn answer(decided: &Decided, review: &Review, cached: bool) -> Result<Admission, AdmitError> {
    Ok(Admission {
        body: decided.reply.encode(&review.request)?,
        verdict: decided.verdict.clone(),
        pod: decided.pod.clone(),
        cached,
    })
}

/// Runs the engine on the review's pod: what a cache entry holds.
fn decide(engine: &Engine, review: &Review) -> Result<Decided, AdmitError> {
    let pod = review.pod()?;
    let name = PodName::of(&pod, review);
    let outcome = engine.process(&PodRequest {
        pod: &pod,
        namespace: review.namespace(),
        namespace_labels: None,
        workload: None,
    });
    let (reply, verdict) = match outcome {
        Ok(Outcome::Skipped(decision)) => (
            Reply::Allow,
            Verdict::Skipped {
                reason: decision.reason.code(),
                detail: decision.detail,
            },
        ),
        // An empty patch: already injected by this snapshot (kube-apiserver
        // re-invokes webhooks with `reinvocationPolicy: IfNeeded`), so there
        // is nothing to add.
        Ok(Outcome::Injected(injection)) if injection.patch.0.is_empty() => (
            Reply::Allow,
            Verdict::Injected {
                reason: ALREADY_INJECTED,
                templates: injection.templates,
                patch_operations: 0,
            },
        ),
        Ok(Outcome::Injected(injection)) => (
            Reply::patch(&injection.patch)?,
            Verdict::Injected {
                reason: injection.decision.reason.code(),
                templates: injection.templates,
                patch_operations: injection.patch.0.len(),
            },
        ),
        Err(error) => {
            let message = format!(
                "sidecar injection failed for pod {}/{}: {error}",
                name.namespace, name.name
            );
            (
                Reply::Deny(message.clone()),
                Verdict::Denied {
                    code: error.code(),
                    message,
                },
            )
        }
    };
    Ok(Decided {
        reply,
        verdict,
        pod: name,
    })
}

/// Why a review got no answer: its pod is not JSON a pod can be read from
/// (HTTP 400), or the answer could not be encoded (a fault of ours, 500).
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
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
            let pod = review.pod().unwrap();
            assert_eq!(pod["metadata"]["x-unknown"], 1);
            assert_eq!(
                PodName::of(&pod, &review),
                PodName {
                    namespace: "shop".into(),
                    name: "ratings-".into()
                }
            );
            let answer: Value =
                serde_json::from_slice(&answer::allow(&review.request).unwrap()).unwrap();
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
        let reply = Reply::patch(&ops).unwrap();
        let answer: Value =
            serde_json::from_slice(&reply.encode(&review.request).unwrap()).unwrap();
        assert_eq!(answer["response"]["patchType"], "JSONPatch");
        let text = answer["response"]["patch"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let back: json_patch::Patch = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(back, ops);

        let deny = Reply::Deny("fix it".into());
        let answer: Value = serde_json::from_slice(&deny.encode(&review.request).unwrap()).unwrap();
        assert_eq!(answer["response"]["allowed"], false);
        assert_eq!(answer["response"]["status"]["message"], "fix it");
    }

    #[test]
    fn a_pod_seen_before_is_answered_from_the_cache_with_its_own_uid() {
        let engine = Engine::compile(crate::RawConfig::embedded().parse().unwrap(), 1).unwrap();
        let responses = ResponseCache::new(ResponseCache::DEFAULT_BYTES);
        let first = parse(&review(API_VERSIONS[0])).unwrap();
        let mut again = review(API_VERSIONS[1]);
        again["request"]["uid"] = json!("second");
        let again = parse(&again).unwrap();

        assert!(matches!(
            lookup(&responses, &first).unwrap(),
            Lookup::Miss(_)
        ));
        let a = admit(&engine, &responses, &first).unwrap();
        let b = admit(&engine, &responses, &again).unwrap();
        assert!(!a.cached && b.cached);
        let Lookup::Answered(c) = lookup(&responses, &again).unwrap() else {
            panic!("a pod answered before is not in the cache");
        };
        assert!(c.cached);
        assert_eq!(c.body, b.body);
        assert_eq!(a.verdict, b.verdict);
        assert!(
            matches!(a.verdict, Verdict::Injected { patch_operations, .. } if patch_operations > 0)
        );
        let (a, b): (Value, Value) = (
            serde_json::from_slice(&a.body).unwrap(),
            serde_json::from_slice(&b.body).unwrap(),
        );
        assert_eq!(a["response"]["patch"], b["response"]["patch"]);
        assert_eq!(b["response"]["uid"], "second");
        assert_eq!(b["apiVersion"], API_VERSIONS[1]);

        // Another namespace is another key: a pod that names none lands there.
        let mut elsewhere = review(API_VERSIONS[0]);
        elsewhere["request"]["namespace"] = json!("other");
        let elsewhere = admit(&engine, &responses, &parse(&elsewhere).unwrap()).unwrap();
        assert!(!elsewhere.cached);
        assert_eq!(elsewhere.pod.namespace, "other");
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget() {
        let engine = Engine::compile(crate::RawConfig::embedded().parse().unwrap(), 1).unwrap();
        let budget = 64 * 1024;
        let responses = ResponseCache::new(budget);
        for i in 0..40 {
            let mut v = review(API_VERSIONS[0]);
            v["request"]["object"]["metadata"]["labels"] = json!({"seq": i.to_string()});
            admit(&engine, &responses, &parse(&v).unwrap()).unwrap();
        }
        assert!(responses.weight() <= budget, "{}", responses.weight());
        assert!(responses.len() < 40);
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
