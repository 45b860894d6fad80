//! `injector serve` end to end: the real binary on loopback, a TLS client
//! that verifies the chain like kube-apiserver, AdmissionReviews in and
//! JSON Patches out.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use e2e::cargo_bin::cargo_bin;
use e2e::https::{self, Protocol, Reply};
use e2e::webhook::Webhook;
use http::StatusCode;
use http_body_util::{BodyExt, StreamBody};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

const REVIEW: &str = include_str!("../data/ratings-review.json");

fn review() -> Value {
    serde_json::from_str(REVIEW).unwrap()
}

/// The review with `pod` as its object.
fn review_of(pod: Value) -> Value {
    let mut review = review();
    review["request"]["object"] = pod;
    review
}

/// The fixture's pod as a bare pod (named, no owner): what `kube-inject`
/// sees when given the same pod as a file.
fn bare_pod() -> Value {
    let mut pod = review()["request"]["object"].clone();
    let meta = pod["metadata"].as_object_mut().unwrap();
    meta.remove("ownerReferences");
    meta.remove("generateName");
    meta.insert("name".into(), json!("ratings-standalone"));
    pod
}

async fn post_review(webhook: &Webhook, protocol: Protocol, review: &Value) -> Reply {
    let mut connection = webhook.client(protocol).connect().await.unwrap();
    connection
        .post("/inject", Some("application/json"), review.to_string())
        .await
        .unwrap()
}

/// Applies the answer's patch to `pod`, checking the answer's envelope.
fn apply_patch(answer: &Value, pod: &Value) -> Value {
    let response = &answer["response"];
    assert_eq!(response["allowed"], true, "{answer}");
    assert_eq!(response["patchType"], "JSONPatch");
    let encoded = response["patch"]
        .as_str()
        .expect("patch is a base64 string, not a byte array");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut patched = pod.clone();
    json_patch::patch(&mut patched, &patch).unwrap();
    patched
}

/// `injector kube-inject` on `pod`, parsed back.
fn kube_inject(pod: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pod.json");
    std::fs::write(&input, pod.to_string()).unwrap();
    let output = std::process::Command::new(cargo_bin("injector", "injector"))
        .arg("kube-inject")
        .arg("-f")
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// Removes `snapshotVersion` from the pod's `sidecar.istio.io/status`
/// annotation and returns it.
fn take_snapshot_version(mut pod: Value) -> (Value, u64) {
    let annotation = &mut pod["metadata"]["annotations"]["sidecar.istio.io/status"];
    let mut status: Value = serde_json::from_str(annotation.as_str().unwrap()).unwrap();
    let version = status["snapshotVersion"].as_u64().unwrap();
    status.as_object_mut().unwrap().remove("snapshotVersion");
    *annotation = json!(status.to_string());
    (pod, version)
}

#[tokio::test]
async fn v1_and_v1beta1_answers_patch_the_pod_as_kube_inject_does() {
    let webhook = Webhook::start(&[]);
    let pod = bare_pod();
    let expected = kube_inject(&pod);
    for (version, protocol, alpn) in [
        ("admission.k8s.io/v1", Protocol::Http2, &b"h2"[..]),
        (
            "admission.k8s.io/v1beta1",
            Protocol::Http1,
            &b"http/1.1"[..],
        ),
    ] {
        let mut review = review_of(pod.clone());
        review["apiVersion"] = json!(version);
        let mut connection = webhook.client(protocol).connect().await.unwrap();
        assert_eq!(connection.alpn.as_deref(), Some(alpn));
        assert_eq!(connection.peer_certificate, webhook.leaf.der);
        let reply = connection
            .post("/inject", Some("application/json"), review.to_string())
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.headers["content-type"], "application/json");
        let answer = reply.json();
        assert_eq!(answer["apiVersion"], version);
        assert_eq!(answer["kind"], "AdmissionReview");
        assert_eq!(answer["response"]["uid"], review["request"]["uid"]);

        let patched = apply_patch(&answer, &pod);

        // Re-invoked on its own output, the webhook has nothing to add.
        let again = post_review(&webhook, protocol, &review_of(patched.clone())).await;
        let again = again.json();
        assert_eq!(again["response"]["allowed"], true);
        assert!(again["response"].get("patch").is_none(), "{again}");

        let typed: Pod = serde_json::from_value(patched.clone()).unwrap();
        let spec = typed.spec.unwrap();
        let mut containers = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten());
        assert!(containers.any(|c| c.name == "istio-proxy"), "{patched}");
        // Identical but for the snapshot version each recorded: the
        // server numbers its snapshots from 1, kube-inject has none (0).
        let (patched, served) = take_snapshot_version(patched);
        let (offline, unversioned) = take_snapshot_version(expected.clone());
        assert_eq!((served, unversioned), (1, 0));
        assert_eq!(
            patched, offline,
            "the webhook and kube-inject disagree ({version})"
        );
    }
}

#[tokio::test]
async fn request_namespace_fills_the_pod_and_dry_run_is_answered_the_same() {
    let webhook = Webhook::start(&[]);
    let mut pod = review()["request"]["object"].clone();
    pod["metadata"].as_object_mut().unwrap().remove("namespace");
    let mut review = review_of(pod.clone());
    review["request"]["namespace"] = json!("payments");
    let answer = post_review(&webhook, Protocol::Http2, &review).await.json();
    let patched = apply_patch(&answer, &pod);
    // The owner metadata the proxy gets names the request's namespace and
    // the Deployment behind the ReplicaSet.
    let text = patched.to_string();
    assert!(
        text.contains("kubernetes://apis/apps/v1/namespaces/payments/deployments/ratings-v1"),
        "{text}"
    );

    review["request"]["dryRun"] = json!(true);
    let dry = post_review(&webhook, Protocol::Http2, &review).await.json();
    assert_eq!(dry["response"]["patch"], answer["response"]["patch"]);
}

#[tokio::test]
async fn skips_are_allowed_without_a_patch_and_errors_are_denied_with_a_reason() {
    let webhook = Webhook::start(&[]);
    let mut pod = review()["request"]["object"].clone();
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = json!("false");
    let answer = post_review(&webhook, Protocol::Http2, &review_of(pod))
        .await
        .json();
    let response = &answer["response"];
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_none() && response.get("patchType").is_none());

    let mut pod = review()["request"]["object"].clone();
    pod["metadata"]["annotations"]["inject.istio.io/templates"] = json!("sidecar,gateway-typo");
    let answer = post_review(&webhook, Protocol::Http1, &review_of(pod))
        .await
        .json();
    let response = &answer["response"];
    assert_eq!(response["allowed"], false);
    assert!(response.get("patch").is_none());
    let message = response["status"]["message"].as_str().unwrap();
    for needle in [
        "shop/ratings-v1-7d9f8c6b5d-",
        "\"gateway-typo\"",
        "inject.istio.io/templates",
        "sidecar",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }

    let mut review = review();
    review["request"]["operation"] = json!("UPDATE");
    review["request"]["oldObject"] = review["request"]["object"].clone();
    let answer = post_review(&webhook, Protocol::Http2, &review).await.json();
    assert_eq!(answer["response"]["allowed"], true);
    assert!(answer["response"].get("patch").is_none());
}

#[tokio::test]
async fn bad_requests_get_a_status_and_a_message() {
    let webhook = Webhook::start(&["--max-body-bytes", "65536", "--request-timeout", "1s"]);
    let client = webhook.client(Protocol::Http2);
    let mut connection = client.connect().await.unwrap();
    let json = Some("application/json");
    let body = REVIEW.to_string();
    let without = |pointer: &str| {
        let mut review = review();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut review
        } else {
            review.pointer_mut(parent).unwrap()
        };
        target.as_object_mut().unwrap().remove(key);
        review.to_string()
    };
    let mut wrong_version = review();
    wrong_version["apiVersion"] = json!("admission.k8s.io/v2");
    let cases: Vec<(Option<&str>, String, StatusCode, &str)> = vec![
        (
            Some("text/plain"),
            body.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json (got \"text/plain\")",
        ),
        (
            None,
            body.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json (got none)",
        ),
        (
            json,
            " ".repeat(70_000),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body exceeds the limit of 65536 bytes",
        ),
        (
            json,
            String::new(),
            StatusCode::BAD_REQUEST,
            "empty request body",
        ),
        (
            json,
            body[..body.len() / 2].to_string(),
            StatusCode::BAD_REQUEST,
            "request body is not valid JSON: EOF while parsing",
        ),
        (
            json,
            "[]".into(),
            StatusCode::BAD_REQUEST,
            "request body is JSON an array, not an AdmissionReview object",
        ),
        (
            json,
            wrong_version.to_string(),
            StatusCode::BAD_REQUEST,
            "apiVersion \"admission.k8s.io/v2\", kind \"AdmissionReview\": expected",
        ),
        (
            json,
            without("/request"),
            StatusCode::BAD_REQUEST,
            "AdmissionReview has no request",
        ),
        (
            json,
            without("/request/object"),
            StatusCode::BAD_REQUEST,
            "AdmissionReview request has no object (the pod to admit)",
        ),
        (
            json,
            without("/request/uid"),
            StatusCode::BAD_REQUEST,
            "AdmissionReview request is malformed: missing field `uid`",
        ),
    ];
    for (content_type, body, status, message) in cases {
        let reply = connection
            .post("/inject", content_type, body)
            .await
            .unwrap();
        assert_eq!(reply.status, status, "{}", reply.text());
        assert!(
            reply.text().contains(message),
            "{message:?} not in {:?}",
            reply.text()
        );
        assert_eq!(reply.headers["content-type"], "text/plain; charset=utf-8");
    }

    // A body over the cap without a Content-Length is cut off while read.
    let chunks = (0..3).map(|_| Ok(hyper::body::Frame::data(Bytes::from(vec![b' '; 30_000]))));
    let body = StreamBody::new(futures::stream::iter(chunks)).boxed();
    let reply = connection
        .send(https::post("/inject", json, body))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.text().contains("limit of 65536 bytes"));

    // A client that stops sending its body is answered at the timeout.
    let (sender, stalled) =
        futures::channel::mpsc::unbounded::<Result<hyper::body::Frame<Bytes>, std::io::Error>>();
    sender
        .unbounded_send(Ok(hyper::body::Frame::data(Bytes::from_static(
            b"{\"kind\"",
        ))))
        .unwrap();
    let started = Instant::now();
    let reply = connection
        .send(https::post(
            "/inject",
            json,
            StreamBody::new(stalled).boxed(),
        ))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reply.text().contains("not answered within 1s"),
        "{}",
        reply.text()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(sender);

    // Wrong method and unknown path; the server still injects afterwards.
    let get = http::Request::get("https://injector.test/inject")
        .body(https::full(Bytes::new()))
        .unwrap();
    assert_eq!(
        connection.send(get).await.unwrap().status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let reply = connection
        .post("/mutate", json, REVIEW.to_string())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = connection
        .post("/inject/shop", json, REVIEW.to_string())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["response"]["patchType"], "JSONPatch");
}

#[tokio::test]
async fn admin_port_reports_health_readiness_and_metrics() {
    let webhook = Webhook::start(&[]);
    let healthz = https::plain_get(webhook.admin, "/healthz").await.unwrap();
    assert_eq!(
        (healthz.status, healthz.text().as_str()),
        (StatusCode::OK, "ok\n")
    );
    let readyz = https::plain_get(webhook.admin, "/readyz").await.unwrap();
    assert_eq!(readyz.status, StatusCode::OK);
    assert!(
        readyz
            .text()
            .starts_with("ready: snapshot version 1 (sha256:")
    );

    post_review(&webhook, Protocol::Http2, &review()).await;
    let mut skipped = review();
    skipped["request"]["object"]["spec"]["hostNetwork"] = json!(true);
    post_review(&webhook, Protocol::Http2, &skipped).await;
    let mut connection = webhook.client(Protocol::Http1).connect().await.unwrap();
    connection
        .post("/inject", Some("application/json"), "{")
        .await
        .unwrap();

    let metrics = https::plain_get(webhook.admin, "/metrics").await.unwrap();
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.text();
    for line in [
        "sidecar_injection_requests_total 3",
        "sidecar_injection_success_total 1",
        "sidecar_injection_skip_total{reason=\"host_network\"} 1",
        "sidecar_injection_failure_total{reason=\"bad_request\"} 1",
        "sidecar_injection_duration_seconds_count 3",
        "config_snapshot_version 1",
        "config_snapshot_swaps_total 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
}

#[tokio::test]
async fn config_dir_is_served_and_a_broken_one_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/config");
    for name in ["config", "values", "mesh"] {
        let text = std::fs::read_to_string(format!("{base}/{name}")).unwrap();
        let text = text.replace("policy: enabled", "policy: disabled");
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let webhook = Webhook::start(&["--config-dir", dir.path().to_str().unwrap()]);
    let readyz = https::plain_get(webhook.admin, "/readyz").await.unwrap();
    assert_eq!(readyz.status, StatusCode::OK);
    let answer = post_review(&webhook, Protocol::Http2, &review())
        .await
        .json();
    assert_eq!(answer["response"]["allowed"], true);
    assert!(
        answer["response"].get("patch").is_none(),
        "policy: disabled from --config-dir"
    );

    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("config"), "templates: [").unwrap();
    let webhook = Webhook::start(&["--config-dir", broken.path().to_str().unwrap()]);
    let readyz = https::plain_get(webhook.admin, "/readyz").await.unwrap();
    assert_eq!(readyz.status, StatusCode::SERVICE_UNAVAILABLE);
    let reply = post_review(&webhook, Protocol::Http2, &review()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text().contains("no configuration snapshot yet"));
}

/// kubelet rotates a mounted Secret by swapping the `..data` symlink. While
/// a client keeps making new connections and reusing an old one, a broken
/// pair is refused (the old certificate stays, the log says why), then a
/// good pair is served, and no request fails at any point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_by_symlink_swap_loses_no_request() {
    let mut webhook = Webhook::start(&["--tls-reload-interval", "100ms"]);
    let client = webhook.client(Protocol::Http2);
    let mut long_lived = client.connect().await.unwrap();
    let old = webhook.leaf.der.clone();

    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let load = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut seen: Vec<(StatusCode, Vec<u8>)> = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !*stopped.borrow_and_update() && Instant::now() < deadline {
                let mut connection = client.connect().await.expect("handshake");
                let reply = connection
                    .post("/inject", Some("application/json"), REVIEW)
                    .await
                    .expect("answer");
                seen.push((reply.status, connection.peer_certificate));
            }
            seen
        })
    };

    // A certificate whose key is not in the Secret: refused, the old stays.
    let other = webhook.ca.issue(&["localhost", "127.0.0.1"]);
    let stray = webhook.ca.issue(&["localhost"]);
    webhook.rotate(&other.cert_pem, &stray.key_pem);
    let refused = webhook.wait_for_log(&["not reloaded", "does not belong"]);
    assert!(refused.is_some(), "the refused pair is logged");
    // Logged means that reload is over: the old pair still serves.
    assert_eq!(client.connect().await.unwrap().peer_certificate, old);

    // The real rotation.
    let new = webhook.ca.issue(&["localhost", "127.0.0.1"]);
    webhook.rotate(&new.cert_pem, &new.key_pem);
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.connect().await.unwrap().peer_certificate != new.der {
        assert!(
            Instant::now() < deadline,
            "the new certificate is never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Once served, it stays, across many reloads' worth of handshakes.
    for _ in 0..20 {
        assert_eq!(client.connect().await.unwrap().peer_certificate, new.der);
    }
    stop.send(true).unwrap();
    let seen = load.await.unwrap();

    assert!(seen.iter().all(|(status, _)| *status == StatusCode::OK));
    assert!(
        seen.iter()
            .all(|(_, cert)| *cert == old || *cert == new.der)
    );
    let switched = seen.iter().position(|(_, cert)| *cert == new.der);
    let switched = switched.expect("the load saw the new certificate");
    assert!(switched > 0, "the load started on the old certificate");
    assert!(
        seen[switched..].iter().all(|(_, cert)| *cert == new.der),
        "once served, the new certificate stays"
    );
    // The connection opened before the rotation still works.
    let reply = long_lived
        .post("/inject", Some("application/json"), REVIEW)
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
}

/// SIGTERM while a request is in flight: new connections are refused, the
/// request is answered, and the process exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let mut webhook = Webhook::start(&[]);
    let client = webhook.client(Protocol::Http1);
    let mut connection = client.connect().await.unwrap();
    let (sender, body) =
        futures::channel::mpsc::unbounded::<Result<hyper::body::Frame<Bytes>, std::io::Error>>();
    let (head, tail) = REVIEW.split_at(REVIEW.len() / 2);
    sender
        .unbounded_send(Ok(hyper::body::Frame::data(Bytes::from(head.to_string()))))
        .unwrap();
    let request = https::post(
        "/inject",
        Some("application/json"),
        StreamBody::new(body).boxed(),
    );
    let in_flight = tokio::spawn(async move { connection.send(request).await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    webhook.process.signal("TERM");
    assert!(webhook.wait_for_log(&["shutting down"]).is_some());
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.connect().await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    sender
        .unbounded_send(Ok(hyper::body::Frame::data(Bytes::from(tail.to_string()))))
        .unwrap();
    drop(sender);
    let reply = in_flight.await.unwrap().unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["response"]["patchType"], "JSONPatch");

    let status = webhook.process.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(webhook.wait_for_log(&["stopped"]).is_some());
}

/// TLS 1.2 and 1.3 are served; anything older is refused in the handshake.
#[tokio::test]
async fn tls_below_1_2_is_refused() {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let webhook = Webhook::start(&[]);
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut roots = rustls::RootCertStore::empty();
        let ca = webhook.ca.pem();
        let ca = rustls_pki_types::CertificateDer::from_pem_slice(ca.as_bytes()).unwrap();
        roots.add(ca).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(webhook.addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
    }

    // A TLS 1.1 ClientHello (no supported_versions extension), by hand:
    // rustls cannot speak it, which is the point.
    let mut hello = vec![0x03, 0x02]; // client_version TLS 1.1
    hello.extend([7u8; 32]); // random
    hello.push(0); // no session id
    hello.extend([0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // ECDHE-RSA-AES128-SHA, AES128-SHA
    hello.extend([0x01, 0x00]); // null compression
    // signature_algorithms: ecdsa_secp256r1_sha256 (rustls wants one before
    // it looks at the version).
    hello.extend([0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
    let mut handshake = vec![0x01, 0x00];
    handshake.extend((hello.len() as u16).to_be_bytes());
    handshake.extend(hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);

    let mut tcp = tokio::net::TcpStream::connect(webhook.addr).await.unwrap();
    tcp.write_all(&record).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    // One alert record: fatal (2), protocol_version (70).
    assert_eq!(answer.first(), Some(&0x15), "not an alert: {answer:?}");
    assert_eq!(&answer[5..7], &[2, 70], "{answer:?}");
}

/// At most `--max-connections` are open at once: one more is closed before
/// its TLS handshake, the open ones keep working, and a connection that
/// closes frees its slot.
#[tokio::test]
async fn connections_over_the_limit_are_closed_until_one_frees() {
    let webhook = Webhook::start(&["--max-connections", "2"]);
    let client = webhook.client(Protocol::Http2);
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut connection = client.connect().await.unwrap();
        let reply = connection
            .post("/inject", Some("application/json"), review().to_string())
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        open.push(connection);
    }
    assert!(
        client.connect().await.is_err(),
        "a third connection is refused"
    );
    let reply = open[0]
        .post("/inject", Some("application/json"), review().to_string())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);

    drop(open.pop());
    // The slot is free once the server has seen the close.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut again = loop {
        match client.connect().await {
            Ok(connection) => break connection,
            Err(e) if Instant::now() > deadline => panic!("no slot freed: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let reply = again
        .post("/inject", Some("application/json"), review().to_string())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
}
