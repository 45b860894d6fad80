//! DESIGN §5 end to end: the binaries' traces reach an OTLP receiver with
//! the spans, links and attributes operators rely on, `/metrics` counts
//! what the admissions did, and a dead collector costs no admission.

use std::time::{Duration, Instant};

use e2e::config_plane::{ConfigServer, hash_of, write_config};
use e2e::https::{self, Protocol};
use e2e::otlp::{ReceivedSpan, Receiver};
use e2e::prometheus::{self, Scrape};
use e2e::webhook::Webhook;
use http::StatusCode;
use injector_engine::config::embedded;
use serde_json::{Value, json};
use test_support::config::{BROKEN_CONFIG, config_with_marker};

const WAIT: Duration = Duration::from_secs(20);
const REVIEW: &str = include_str!("../data/ratings-review.json");

/// The environment that points a binary's traces at `endpoint`, exported
/// every 50 ms so the test does not wait for the 5 s default.
fn otel_env<'a>(endpoint: &'a str, service: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_SERVICE_NAME", service),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ]
}

/// The fixture's review with `uid`, changed by `edit`.
fn review(uid: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut review: Value = serde_json::from_str(REVIEW).unwrap();
    review["request"]["uid"] = json!(uid);
    edit(&mut review);
    review
}

/// One admission of each kind the webhook distinguishes, by uid: the
/// reason each is expected to be recorded with.
fn admissions() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (review("uid-injected", |_| {}), "inject", "policy_enabled"),
        (
            review("uid-opted-out", |r| {
                r["request"]["object"]["metadata"]["labels"]["sidecar.istio.io/inject"] =
                    json!("false");
            }),
            "skip",
            "pod_opted_out",
        ),
        (
            review("uid-host-network", |r| {
                r["request"]["object"]["spec"]["hostNetwork"] = json!(true);
            }),
            "skip",
            "host_network",
        ),
        (
            review("uid-update", |r| {
                r["request"]["operation"] = json!("UPDATE")
            }),
            "skip",
            "not_pod_create",
        ),
        (
            review("uid-failed", |r| {
                r["request"]["object"]["metadata"]["annotations"]["inject.istio.io/templates"] =
                    json!("no-such-template");
            }),
            "deny",
            "unknown_template",
        ),
    ]
}

/// Posts `body` to `/inject` with `headers`.
async fn post(webhook: &Webhook, body: String, headers: &[(&'static str, &str)]) -> https::Reply {
    let mut request = https::post("/inject", Some("application/json"), https::full(body));
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    let mut connection = webhook.client(Protocol::Http2).connect().await.unwrap();
    connection.send(request).await.unwrap()
}

/// An injector streaming from `server`, once it holds a snapshot.
async fn injector(server: &ConfigServer, env: &[(&str, &str)]) -> Webhook {
    let webhook = Webhook::start_with_env(&["--config-server", &server.url()], env);
    wait_ready(&webhook).await;
    webhook
}

async fn wait_ready(webhook: &Webhook) {
    assert!(
        webhook.ready_within(WAIT).await,
        "the injector never became ready"
    );
}

async fn span(
    receiver: &Receiver,
    what: &str,
    check: impl Fn(&ReceivedSpan) -> bool,
) -> ReceivedSpan {
    receiver
        .wait_for(WAIT, check)
        .await
        .unwrap_or_else(|| panic!("no {what} span; received: {:#?}", receiver.spans()))
}

#[tokio::test(flavor = "multi_thread")]
async fn admissions_and_config_changes_are_traced() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), embedded::CONFIG);
    let server = ConfigServer::start_with_env(
        dir.path(),
        "127.0.0.1:0",
        &[],
        &otel_env(&endpoint, "e2e-config-server"),
    );
    let webhook = injector(&server, &otel_env(&endpoint, "e2e-injector")).await;

    // Every kind of admission; the injected one carries a caller's trace.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{caller_trace}-{caller_span}-01");
    for (review, _, _) in admissions() {
        let uid = review["request"]["uid"].as_str().unwrap().to_string();
        let headers: &[(&'static str, &str)] = if uid == "uid-injected" {
            &[("traceparent", &traceparent)]
        } else {
            &[]
        };
        let reply = post(&webhook, review.to_string(), headers).await;
        assert_eq!(reply.status, StatusCode::OK, "{uid}: {}", reply.text());
    }
    let reply = post(&webhook, "{".into(), &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let snapshot_hash = hash_of(embedded::CONFIG);
    for (review, decision, reason) in admissions() {
        let uid = review["request"]["uid"].as_str().unwrap().to_string();
        let inject = span(&receiver, &uid, |s| {
            s.name == "inject" && s.attr("admission.uid") == uid
        })
        .await;
        assert_eq!(inject.service, "e2e-injector");
        assert_eq!(inject.attr("injection.decision"), decision, "{inject:#?}");
        assert_eq!(inject.attr("injection.reason"), reason, "{inject:#?}");
        assert_eq!(inject.attr("k8s.namespace.name"), "shop");
        assert!(
            inject.attr("k8s.pod.name").starts_with("ratings"),
            "{inject:#?}"
        );
        assert_eq!(inject.attr("snapshot.version"), "1");
        assert_eq!(inject.attr("snapshot.hash"), snapshot_hash);
        assert_eq!(inject.error, decision == "deny", "{inject:#?}");
        if decision == "deny" {
            assert!(
                inject.status_message.contains("no-such-template"),
                "{inject:#?}"
            );
        }
    }

    // The injected admission: a child of the caller's span, with the
    // engine's steps as its children.
    let inject = span(&receiver, "injected", |s| {
        s.attr("admission.uid") == "uid-injected"
    })
    .await;
    assert_eq!(inject.trace_id, caller_trace);
    assert_eq!(inject.parent_span_id, caller_span);
    assert_eq!(inject.attr("injection.templates"), "sidecar");
    let operations: u32 = inject.attr("patch.operations").parse().unwrap();
    assert!(operations > 0, "{inject:#?}");
    for step in [
        "decide",
        "prepare",
        "render",
        "merge",
        "postprocess",
        "status",
        "patch",
    ] {
        let child = span(&receiver, step, |s| {
            s.name == step && s.parent_span_id == inject.span_id
        })
        .await;
        assert_eq!(child.trace_id, inject.trace_id);
    }
    // Without a caller's header, an admission starts its own trace.
    let skipped = span(&receiver, "skipped", |s| {
        s.attr("admission.uid") == "uid-host-network"
    })
    .await;
    assert!(skipped.parent_span_id.is_empty() && skipped.trace_id != caller_trace);
    // A request refused before any review is still traced, as an error.
    let refused = span(&receiver, "bad request", |s| {
        s.name == "inject" && s.attr("injection.reason") == "bad_request"
    })
    .await;
    assert!(refused.error, "{refused:#?}");

    // A template change: built and pushed by the server, swapped in by the
    // injector, whose swap links to the build (another trace, not a parent).
    let marked = config_with_marker("traced");
    write_config(dir.path(), &marked);
    let hash = hash_of(&marked);
    let build = span(&receiver, "build", |s| {
        s.name == "build" && s.attr("snapshot.hash") == hash
    })
    .await;
    assert_eq!(build.service, "e2e-config-server");
    assert_eq!(build.attr("validation"), "valid");
    assert_eq!(build.attr("snapshot.version"), "2");
    assert!(
        build.attr("snapshot.source").starts_with("file:"),
        "{build:#?}"
    );
    let push = span(&receiver, "push", |s| {
        s.name == "push" && s.attr("snapshot.hash") == hash
    })
    .await;
    assert_eq!(
        (&push.trace_id, &push.parent_span_id),
        (&build.trace_id, &build.span_id)
    );
    let swap = span(&receiver, "swap", |s| {
        s.name == "swap" && s.attr("snapshot.hash") == hash
    })
    .await;
    assert_eq!(swap.service, "e2e-injector");
    assert_eq!(swap.attr("swap.result"), "published");
    assert_eq!(
        swap.links,
        vec![(build.trace_id.clone(), build.span_id.clone())]
    );
    assert_ne!(
        swap.trace_id, build.trace_id,
        "the build is a link, not the parent"
    );

    // A broken edit: the build is recorded as a failed validation.
    write_config(dir.path(), BROKEN_CONFIG);
    let rejected = span(&receiver, "rejected build", |s| {
        s.name == "build" && s.attr("validation") == "rejected"
    })
    .await;
    assert!(
        rejected.error && !rejected.status_message.is_empty(),
        "{rejected:#?}"
    );
    drop(server);
}

async fn scrape(admin: std::net::SocketAddr) -> Scrape {
    let reply = https::plain_get(admin, "/metrics").await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    prometheus::parse(&reply.text()).unwrap_or_else(|e| panic!("{e}\n{}", reply.text()))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_the_admissions_did() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), embedded::CONFIG);
    let server = ConfigServer::start(dir.path(), "127.0.0.1:0", &[]);
    let webhook = injector(&server, &[]).await;

    let before = scrape(webhook.admin).await;
    for (review, _, _) in admissions() {
        post(&webhook, review.to_string(), &[]).await;
    }
    post(&webhook, "{".into(), &[]).await;
    let after = scrape(webhook.admin).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta("sidecar_injection_requests_total", &[]), 6.0);
    assert_eq!(delta("sidecar_injection_success_total", &[]), 1.0);
    for reason in ["pod_opted_out", "host_network", "not_pod_create"] {
        assert_eq!(
            delta("sidecar_injection_skip_total", &[("reason", reason)]),
            1.0,
            "{reason}"
        );
    }
    for reason in ["unknown_template", "bad_request"] {
        assert_eq!(
            delta("sidecar_injection_failure_total", &[("reason", reason)]),
            1.0,
            "{reason}"
        );
    }
    assert_eq!(delta("sidecar_injection_duration_seconds_count", &[]), 6.0);
    assert_eq!(
        after.types["sidecar_injection_duration_seconds"],
        "histogram"
    );
    // The smallest bucket resolves microseconds, the largest seconds.
    let bucket = |le| after.get("sidecar_injection_duration_seconds_bucket", &[("le", le)]);
    assert!(bucket("0.00001").is_some() && bucket("10.48576").is_some());
    assert_eq!(
        bucket("+Inf"),
        after.get("sidecar_injection_duration_seconds_count", &[])
    );
    assert_eq!(after.get("config_snapshot_version", &[]), Some(1.0));

    let config = scrape(server.admin).await;
    assert_eq!(config.get("config_stream_clients", &[]), Some(1.0));
    assert_eq!(config.get("config_snapshot_version", &[]), Some(1.0));
    assert_eq!(config.get("config_snapshot_nacks_total", &[]), Some(0.0));
    assert_eq!(
        config.get("config_snapshot_rejections_total", &[]),
        Some(0.0)
    );
    write_config(dir.path(), BROKEN_CONFIG);
    let deadline = Instant::now() + WAIT;
    loop {
        let config = scrape(server.admin).await;
        if config.value("config_snapshot_rejections_total", &[]) == 1.0 {
            assert_eq!(config.get("config_snapshot_version", &[]), Some(1.0));
            break;
        }
        assert!(Instant::now() < deadline, "the rejection was never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(webhook);
    let deadline = Instant::now() + WAIT;
    while scrape(server.admin)
        .await
        .value("config_stream_clients", &[])
        != 0.0
    {
        assert!(
            Instant::now() < deadline,
            "the stream client was never forgotten"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sequential admissions on one HTTP/2 connection for `duration`: how
/// many were answered, and the slowest.
async fn throughput(webhook: &Webhook, duration: Duration) -> (u32, Duration) {
    let body = review("uid-load", |_| {}).to_string();
    let mut connection = webhook.client(Protocol::Http2).connect().await.unwrap();
    let (mut answered, mut slowest) = (0, Duration::ZERO);
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let started = Instant::now();
        let request = https::post(
            "/inject",
            Some("application/json"),
            https::full(body.clone()),
        );
        let reply = connection.send(request).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(
            reply.text().contains("\"patch\""),
            "not injected: {}",
            reply.text()
        );
        slowest = slowest.max(started.elapsed());
        answered += 1;
    }
    (answered, slowest)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_collector_costs_no_admission() {
    // A loopback port nothing listens on: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let receiver = Receiver::start().await;
    let live = receiver.endpoint();

    let off = Webhook::start(&[]);
    let on = Webhook::start_with_env(&[], &otel_env(&live, "e2e-on"));
    let down = Webhook::start_with_env(&[], &otel_env(&dead, "e2e-down"));
    for webhook in [&off, &on, &down] {
        wait_ready(webhook).await;
    }
    let window = Duration::from_secs(3);
    let (off_n, off_max) = throughput(&off, window).await;
    let (on_n, on_max) = throughput(&on, window).await;
    let (down_n, down_max) = throughput(&down, window).await;
    eprintln!(
        "admissions in {window:?}: tracing off {off_n} (slowest {off_max:?}), \
         on {on_n} (slowest {on_max:?}), collector down {down_n} (slowest {down_max:?}); \
         on/off {:.2}, down/off {:.2}",
        f64::from(on_n) / f64::from(off_n),
        f64::from(down_n) / f64::from(off_n),
    );
    // The exporter's timeout is 10 s: an admission that waited on the
    // collector would take that long. None comes near.
    assert!(
        down_max < Duration::from_secs(1),
        "slowest with the collector down: {down_max:?}"
    );
    assert!(
        on_max < Duration::from_secs(1),
        "slowest with tracing on: {on_max:?}"
    );
    // Spans were really exported by the traced one.
    assert!(
        receiver
            .wait_for(WAIT, |s| s.service == "e2e-on" && s.name == "inject")
            .await
            .is_some()
    );
}
