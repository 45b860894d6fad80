//! The router's behaviour without sockets: verdicts, limits, panics.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use injector_engine::{Engine, Outcome, PodRequest, RawConfig};
use test_support::admission::pod_create_review;

fn review(pod: Value) -> Value {
    pod_create_review(&pod, "shop", "3f0c6a2e-0000-4000-8000-000000000001")
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ratings", "labels": {"app": "ratings"}},
        "spec": {"containers": [{"name": "ratings", "image": "ratings:1"}]}
    })
}

struct Fixture {
    store: Arc<SnapshotStore>,
    metrics: Arc<Metrics>,
    app: Router,
}

fn fixture(limits: Limits) -> Fixture {
    let store = Arc::new(SnapshotStore::default());
    let config = RawConfig::embedded().parse().unwrap();
    store.publish(Engine::compile(config, 1).unwrap());
    let metrics = Arc::new(Metrics::new(store.clone()));
    let app = router(Options {
        store: store.clone(),
        metrics: metrics.clone(),
        limits,
        bench_trivial: true,
    })
    .unwrap();
    Fixture {
        store,
        metrics,
        app,
    }
}

fn post_json(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Bytes) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

async fn admit(app: &Router, body: &Value) -> Value {
    let (status, bytes) = call(app, post_json("/inject", body.to_string())).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap()
}

fn metric(metrics: &Metrics, name: &str) -> f64 {
    let text = metrics.encode().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn injects_with_a_patch_that_yields_the_engine_result() {
    let f = fixture(Limits::default());
    let answer = admit(&f.app, &review(pod())).await;
    let response = &answer["response"];
    assert_eq!(response["allowed"], true);
    assert_eq!(response["uid"], "3f0c6a2e-0000-4000-8000-000000000001");
    assert_eq!(response["patchType"], "JSONPatch");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
    let mut patched = pod();
    json_patch::patch(&mut patched, &patch).unwrap();

    let served = f.store.load().unwrap();
    let engine = &served.engine;
    let req = PodRequest {
        pod: &pod(),
        namespace: "shop",
        namespace_labels: None,
        workload: None,
    };
    let Outcome::Injected(expected) = engine.process(&req).unwrap() else {
        panic!("the engine skipped the pod");
    };
    assert_eq!(patched, expected.pod);
    assert_eq!(metric(&f.metrics, "sidecar_injection_success_total"), 1.0);
    assert_eq!(metric(&f.metrics, "sidecar_injection_requests_total"), 1.0);
}

#[tokio::test]
async fn skips_and_engine_errors_are_verdicts_not_http_errors() {
    let f = fixture(Limits::default());
    let mut host = pod();
    host["spec"]["hostNetwork"] = json!(true);
    let answer = admit(&f.app, &review(host)).await;
    assert_eq!(answer["response"]["allowed"], true);
    assert!(answer["response"].get("patch").is_none());
    assert_eq!(
        metric(
            &f.metrics,
            "sidecar_injection_skip_total{reason=\"host_network\"}"
        ),
        1.0
    );

    let mut bad = pod();
    bad["metadata"]["annotations"] = json!({"inject.istio.io/templates": "nope"});
    let answer = admit(&f.app, &review(bad)).await;
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("shop/ratings") && message.contains("\"nope\""),
        "{message}"
    );
    assert_eq!(
        metric(
            &f.metrics,
            "sidecar_injection_failure_total{reason=\"unknown_template\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn objects_that_are_not_pods_are_denied_not_crashed_on() {
    let f = fixture(Limits::default());
    for (object, needle) in [
        (json!("a pod"), "no containers"),
        (
            json!({"metadata": {"name": "x"}, "spec": {"containers": []}}),
            "no containers",
        ),
        (
            json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "a", "ports": "80"}]}}),
            "not a valid Pod",
        ),
    ] {
        let answer = admit(&f.app, &review(object)).await;
        assert_eq!(answer["response"]["allowed"], false);
        let message = answer["response"]["status"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
    }
}

#[tokio::test]
async fn not_ready_without_a_snapshot() {
    let store = Arc::new(SnapshotStore::default());
    let metrics = Arc::new(Metrics::new(store.clone()));
    let app = router(Options {
        store,
        metrics: metrics.clone(),
        limits: Limits::default(),
        bench_trivial: false,
    })
    .unwrap();
    let (status, body) = call(&app, post_json("/inject", review(pod()).to_string())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&body).contains("no configuration snapshot"));
    assert_eq!(
        metric(
            &metrics,
            "sidecar_injection_failure_total{reason=\"not_ready\"}"
        ),
        1.0
    );
    let (status, _) = call(&app, post_json(TRIVIAL_PATH, "{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the bench route is opt-in");
}

#[tokio::test]
async fn streamed_body_over_the_limit_is_413() {
    let f = fixture(Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    });
    // No Content-Length: the cap is enforced while reading.
    let chunks = (0..2).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 700])));
    let body = Body::from_stream(futures::stream::iter(chunks));
    let (status, text) = call(&f.app, post_json("/inject", body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&text).contains("limit of 1024 bytes"));
}

#[tokio::test]
async fn slow_bodies_time_out_and_excess_requests_are_shed() {
    let f = fixture(Limits::default());
    let limits = Limits {
        timeout: Duration::from_millis(300),
        max_concurrent: 1,
        max_queued: 1,
        ..Limits::default()
    };
    let state = WebhookState::new(f.store.clone(), f.metrics.clone(), limits).unwrap();
    let f = Fixture {
        app: with_layers(
            Router::new().route("/inject", post(handler::inject)),
            state.clone(),
        ),
        ..f
    };
    let stalled = || {
        let body = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        post_json("/inject", body)
    };
    // One processing and one waiting fill the building; a third is shed.
    let first = tokio::spawn(call_owned(f.app.clone(), stalled()));
    let second = tokio::spawn(call_owned(f.app.clone(), stalled()));
    while state.admitted.available_permits() > 0 {
        tokio::task::yield_now().await;
    }
    let (status, text) = call(&f.app, post_json("/inject", review(pod()).to_string())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&text).contains("too many admission requests"));

    for task in [first, second] {
        let (status, text) = task.await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(String::from_utf8_lossy(&text).contains("not answered within 300ms"));
    }
    assert_eq!(
        metric(
            &f.metrics,
            "sidecar_injection_failure_total{reason=\"timeout\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &f.metrics,
            "sidecar_injection_failure_total{reason=\"overloaded\"}"
        ),
        1.0
    );
    // The slots are free again.
    let answer = admit(&f.app, &review(pod())).await;
    assert_eq!(answer["response"]["allowed"], true);
}

async fn call_owned(app: Router, request: Request<Body>) -> (StatusCode, Bytes) {
    call(&app, request).await
}

async fn boom() -> &'static str {
    panic!("handler fault")
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_and_the_router_goes_on() {
    let f = fixture(Limits::default());
    let limits = Limits {
        max_concurrent: 2,
        max_queued: 2,
        ..Limits::default()
    };
    let state = WebhookState::new(f.store.clone(), f.metrics.clone(), limits).unwrap();
    let routes = Router::new()
        .route("/inject", post(handler::inject))
        .route("/boom", post(boom));
    let app = with_layers(routes, state);
    let (status, body) = call(&app, post_json("/boom", "{}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&body).contains("internal error"));
    assert_eq!(
        metric(
            &f.metrics,
            "sidecar_injection_failure_total{reason=\"panic\"}"
        ),
        1.0
    );
    // More panics than the building has permits: each one gave its
    // permits back, or the later ones would be shed with a 503.
    for _ in 0..6 {
        let (status, _) = call(&app, post_json("/boom", "{}")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(
        metric(
            &f.metrics,
            "sidecar_injection_failure_total{reason=\"panic\"}"
        ),
        7.0
    );
    let answer = admit(&app, &review(pod())).await;
    assert_eq!(answer["response"]["allowed"], true);
}

#[tokio::test]
async fn subpaths_are_served_and_other_methods_refused() {
    let f = fixture(Limits::default());
    let (status, _) = call(
        &f.app,
        post_json("/inject/cluster-a/ns", review(pod()).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let get = Request::get("/inject").body(Body::empty()).unwrap();
    assert_eq!(call(&f.app, get).await.0, StatusCode::METHOD_NOT_ALLOWED);
    let (status, body) = call(&f.app, post_json(TRIVIAL_PATH, "{}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("\"allowed\":true"));
}

/// An engine whose template loops over a million values: an admission that
/// takes far longer than a few milliseconds.
fn slow_engine() -> Engine {
    let mut raw = RawConfig::embedded();
    raw.config.body = "policy: enabled\ndefaultTemplates: [slow]\ntemplates:\n  slow: |\n    \
                       metadata:\n      labels:\n        slow: {{#each Values.big}}{{/each}}done\n"
        .into();
    // Set after parsing: the YAML reader bounds what a ConfigMap may hold.
    let mut config = raw.parse().unwrap();
    config.values["big"] = json!(vec![0; 1_000_000]);
    Engine::compile(config, 2).unwrap()
}

#[tokio::test]
async fn the_api_servers_timeout_bounds_the_work_and_the_answer_says_why() {
    let f = fixture(Limits::default());
    f.store.publish(slow_engine());

    // Without a timeout from the API server the work finishes, and it takes
    // longer than the timeout asked for below.
    let started = std::time::Instant::now();
    let mut unhurried = pod();
    unhurried["metadata"]["name"] = json!("unhurried");
    let answer = admit(&f.app, &review(unhurried)).await;
    let work = started.elapsed();
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    assert!(work > Duration::from_millis(100), "the work took {work:?}");

    // kube-apiserver's `?timeout=`: answered within it, with the reason.
    let started = std::time::Instant::now();
    let (status, text) = call(
        &f.app,
        post_json("/inject?timeout=100ms", review(pod()).to_string()),
    )
    .await;
    let answered = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        String::from_utf8_lossy(&text),
        "admission request not answered within 90ms (kube-apiserver's timeout of 100ms less a tenth)\n"
    );
    assert!(answered < work, "answered after {answered:?}");
    assert_eq!(
        metric(
            &f.metrics,
            "sidecar_injection_failure_total{reason=\"timeout\"}"
        ),
        1.0
    );
}
