//! The invariants every generated input is held to.

use injector_engine::admission::{self, Review, Verdict};
use injector_engine::{Engine, Outcome, PodRequest};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

/// The request namespace the generated pods are created in.
pub const NAMESPACE: &str = "shop";

fn request(pod: &Value) -> PodRequest<'_> {
    PodRequest {
        pod,
        namespace: NAMESPACE,
        namespace_labels: None,
        workload: None,
    }
}

/// Injects `pod` and checks the result; returns the injected pod, or
/// `None` when the pod was skipped or cleanly refused.
pub fn inject(engine: &Engine, pod: &Value) -> Option<Value> {
    let injection = match engine.process(&request(pod)) {
        Ok(Outcome::Injected(injection)) => injection,
        Ok(Outcome::Skipped(decision)) => {
            assert!(!decision.reason.code().is_empty());
            return None;
        }
        Err(error) => {
            // A refusal names what is wrong; an internal fault is a bug.
            assert_ne!(error.code(), "internal", "{error}");
            assert!(!error.to_string().is_empty());
            return None;
        }
    };
    let injected = injection.pod;
    if let Err(e) = serde_json::from_value::<Pod>(injected.clone()) {
        panic!("the injected pod is not a valid Pod: {e}\n{injected:#}");
    }
    let mut patched = pod.clone();
    json_patch::patch(&mut patched, &injection.patch).unwrap();
    assert_eq!(
        patched, injected,
        "the patch applied to the input is not the output"
    );
    match engine.process(&request(&injected)) {
        Ok(Outcome::Injected(again)) => assert!(
            again.patch.0.is_empty(),
            "injecting the injected pod again changed it: {:?}",
            again.patch
        ),
        other => panic!("injecting the injected pod again: {other:?}"),
    }
    Some(injected)
}

/// Parses `body` as the webhook does and, if it is a review, answers it:
/// the answer is a review for the same uid, and a patch, if any, applies
/// to the object and gives a valid Pod.
pub fn admit(engine: &Engine, body: &[u8]) {
    let review = match Review::parse(body) {
        Ok(review) => review,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let responses = admission::ResponseCache::new(admission::ResponseCache::DEFAULT_BYTES);
    let answer = admission::admit(engine, &responses, &review).unwrap();
    // The same review again is answered from the cache, identically.
    let again = admission::admit(engine, &responses, &review).unwrap();
    assert_eq!(again.body, answer.body);
    assert_eq!(again.verdict, answer.verdict);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["kind"], "AdmissionReview");
    assert_eq!(body["response"]["uid"], review.request.uid.as_str());
    let allowed = body["response"]["allowed"].as_bool().unwrap();
    assert_eq!(allowed, !matches!(answer.verdict, Verdict::Denied { .. }));
    if let Some(patch) = body["response"]["patch"].as_str() {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .unwrap();
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
        let mut pod = review.pod().unwrap();
        json_patch::patch(&mut pod, &patch).unwrap();
        serde_json::from_value::<Pod>(pod).unwrap();
    }
}
