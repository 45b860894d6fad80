//! Self-managed webhook certificates against the fake API server: creation,
//! `caBundle` patching, serving-certificate rotation, CA rotation with an
//! overlap in which the served certificate is always trusted, and two
//! replicas racing to one CA. The exact API requests are asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use config_server::certs::pki::{self, CertInfo};
use config_server::certs::{CA_CERT, CertManager, CertOptions, Pass, TLS_CERT};
use serde_json::{Value, json};
use test_support::fake_apiserver::{FakeApiServer, Kind};

const NS: &str = "istio-system";
const DAY: Duration = Duration::from_secs(86_400);
const SECRET_PATH: &str = "/api/v1/namespaces/istio-system/secrets";
const WEBHOOK_PATH: &str = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";

fn options() -> CertOptions {
    CertOptions {
        namespace: NS.into(),
        secret: "injector-tls".into(),
        webhook: "sidecar-injector".into(),
        service: "sidecar-injector".into(),
        ca_lifetime: 300 * DAY,
        cert_lifetime: 30 * DAY,
        renew_fraction: 1.0 / 3.0,
        interval: Duration::from_secs(60),
    }
}

fn webhook_configuration() -> Value {
    let hook = |name: &str| {
        json!({
            "name": name,
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {"service": {"name": "sidecar-injector", "namespace": NS, "path": "/inject"}},
        })
    };
    json!({
        "metadata": {"name": "sidecar-injector"},
        "webhooks": [hook("namespace.sidecar-injector.istio.io"), hook("object.sidecar-injector.istio.io")],
    })
}

async fn fake_with_webhook() -> FakeApiServer {
    let fake = FakeApiServer::start().await;
    fake.put(
        &Kind::MUTATING_WEBHOOK_CONFIGURATION,
        webhook_configuration(),
    );
    fake
}

fn decode(v: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

/// The Secret's serving certificate and CA bundle, and every webhook's bundle.
fn state(fake: &FakeApiServer) -> (CertInfo, Vec<CertInfo>, Vec<Vec<CertInfo>>) {
    let secret = fake
        .get(&Kind::SECRET, NS, "injector-tls")
        .expect("the Secret exists");
    let serving = pki::parse_bundle(&decode(&secret["data"][TLS_CERT]), "tls.crt")
        .unwrap()
        .remove(0);
    let cas = pki::parse_bundle(&decode(&secret["data"][CA_CERT]), "ca.crt").unwrap();
    let webhook = fake
        .get(
            &Kind::MUTATING_WEBHOOK_CONFIGURATION,
            "",
            "sidecar-injector",
        )
        .unwrap();
    let bundles = webhook["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| pki::parse_bundle(&decode(&h["clientConfig"]["caBundle"]), "caBundle").unwrap())
        .collect();
    (serving, cas, bundles)
}

/// What an API server with these webhook bundles would accept: the served
/// certificate chains to a CA in every webhook's bundle.
fn api_server_trusts_serving_cert(fake: &FakeApiServer) -> bool {
    let (serving, _, bundles) = state(fake);
    bundles
        .iter()
        .all(|b| b.iter().any(|ca| serving.signed_by(ca)))
}

fn requests_since(fake: &FakeApiServer, from: usize) -> Vec<String> {
    fake.requests()[from..]
        .iter()
        .map(|r| r.split('?').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn creates_the_pair_and_patches_every_webhook_then_rests() {
    let fake = fake_with_webhook().await;
    let manager = CertManager::new(fake.client(), options());
    let now = SystemTime::now();

    let before = fake.requests().len();
    let pass = manager.reconcile(now).await.unwrap();
    assert_eq!(
        pass,
        Pass {
            created_ca: true,
            issued_serving: true,
            secret_written: true,
            webhooks_patched: 2,
            conflicts: 0
        }
    );
    assert_eq!(
        requests_since(&fake, before),
        [
            format!("GET {SECRET_PATH}/injector-tls"),
            format!("GET {WEBHOOK_PATH}/sidecar-injector"),
            format!("POST {SECRET_PATH}"),
            format!("PUT {WEBHOOK_PATH}/sidecar-injector"),
        ]
    );
    let (serving, cas, bundles) = state(&fake);
    assert_eq!(
        serving.dns_names[..2],
        [
            "sidecar-injector.istio-system.svc",
            "sidecar-injector.istio-system.svc.cluster.local"
        ]
    );
    assert_eq!(cas.len(), 1);
    assert!(serving.signed_by(&cas[0]));
    assert!(
        bundles.iter().all(|b| b == &cas),
        "every webhook trusts the CA"
    );
    let secret = fake.get(&Kind::SECRET, NS, "injector-tls").unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");

    // Nothing to do: two reads, no writes.
    let before = fake.requests().len();
    assert_eq!(manager.reconcile(now + DAY).await.unwrap(), Pass::default());
    assert_eq!(
        requests_since(&fake, before),
        [
            format!("GET {SECRET_PATH}/injector-tls"),
            format!("GET {WEBHOOK_PATH}/sidecar-injector")
        ]
    );
}

#[tokio::test]
async fn rotates_the_serving_certificate_before_expiry_under_the_same_ca() {
    let fake = fake_with_webhook().await;
    let manager = CertManager::new(fake.client(), options());
    let start = SystemTime::now();
    manager.reconcile(start).await.unwrap();
    let (first, cas, _) = state(&fake);

    // 19 days into 30: more than a third left, nothing happens.
    assert_eq!(
        manager.reconcile(start + 19 * DAY).await.unwrap(),
        Pass::default()
    );
    // 21 days in: less than a third left, a new serving certificate.
    let before = fake.requests().len();
    let pass = manager.reconcile(start + 21 * DAY).await.unwrap();
    assert!(
        pass.issued_serving
            && pass.secret_written
            && !pass.created_ca
            && pass.webhooks_patched == 0,
        "{pass:?}"
    );
    assert_eq!(
        requests_since(&fake, before),
        [
            format!("GET {SECRET_PATH}/injector-tls"),
            format!("GET {WEBHOOK_PATH}/sidecar-injector"),
            format!("PUT {SECRET_PATH}/injector-tls"),
        ]
    );
    let (second, cas_after, _) = state(&fake);
    assert_ne!(first.der, second.der);
    assert!(second.not_after > first.not_after);
    assert_eq!(cas, cas_after, "the CA is kept");
    assert!(api_server_trusts_serving_cert(&fake));
}

#[tokio::test]
async fn rotates_the_ca_with_an_overlap_in_which_every_served_certificate_is_trusted() {
    let fake = fake_with_webhook().await;
    let manager = CertManager::new(fake.client(), options());
    let start = SystemTime::now();
    manager.reconcile(start).await.unwrap();
    let (_, original, _) = state(&fake);

    // Walk the clock through the CA's rotation one interval at a time.
    let mut now = start;
    let mut saw_two_cas = false;
    for _ in 0..40 {
        now += 10 * DAY;
        manager.reconcile(now).await.unwrap();
        assert!(
            api_server_trusts_serving_cert(&fake),
            "an admission would fail at {now:?}"
        );
        let (serving, cas, bundles) = state(&fake);
        assert!(
            bundles.iter().all(|b| b == &cas),
            "webhooks trust exactly the Secret's bundle"
        );
        assert!(
            cas.iter().all(|c| c.not_after > now),
            "expired CAs leave the bundle"
        );
        saw_two_cas |= cas.len() == 2;
        assert!(
            serving.not_after > now,
            "the served certificate never expires"
        );
    }
    let (serving, cas, _) = state(&fake);
    assert!(saw_two_cas, "the old and new CA overlapped");
    assert!(
        !cas.iter().any(|c| c.der == original[0].der),
        "the first CA was retired"
    );
    assert!(
        serving.signed_by(&cas[0]),
        "the serving certificate moved to the new CA"
    );
}

#[tokio::test]
async fn two_replicas_converge_on_one_ca() {
    let fake = fake_with_webhook().await;
    let a = CertManager::new(fake.client(), options());
    let b = CertManager::new(fake.client(), options());
    let now = SystemTime::now();
    let (pa, pb) = tokio::join!(a.reconcile(now), b.reconcile(now));
    let (pa, pb) = (pa.unwrap(), pb.unwrap());
    // Both may have made a CA; only one Secret was created, and the loser
    // adopted it after its create or replace conflicted.
    let creates = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with(&format!("POST {SECRET_PATH}")))
        .count();
    assert!(creates >= 1);
    assert!(pa.conflicts + pb.conflicts >= creates - 1, "{pa:?} {pb:?}");
    for _ in 0..3 {
        let (ra, rb) = tokio::join!(a.reconcile(now), b.reconcile(now));
        ra.unwrap();
        rb.unwrap();
    }
    let (serving, cas, bundles) = state(&fake);
    assert_eq!(cas.len(), 1, "one CA");
    assert!(bundles.iter().all(|bundle| bundle == &cas));
    assert!(serving.signed_by(&cas[0]));
    // At rest: neither replica writes any more.
    assert_eq!(a.reconcile(now).await.unwrap(), Pass::default());
    assert_eq!(b.reconcile(now).await.unwrap(), Pass::default());
}

#[tokio::test]
async fn a_secret_edited_by_hand_is_repaired() {
    let fake = fake_with_webhook().await;
    let manager = CertManager::new(fake.client(), options());
    let now = SystemTime::now();
    manager.reconcile(now).await.unwrap();
    // Someone replaces the serving certificate with one for other names.
    let mut secret = fake.get(&Kind::SECRET, NS, "injector-tls").unwrap();
    let ca = pki::new_ca("elsewhere", now, DAY).unwrap();
    let wrong = pki::issue_serving(&ca, &["wrong.example".into()], now, DAY).unwrap();
    secret["data"][TLS_CERT] = json!(base64::engine::general_purpose::STANDARD.encode(wrong.cert));
    fake.put(&Kind::SECRET, secret);
    assert!(!api_server_trusts_serving_cert(&fake));
    let pass = manager.reconcile(now).await.unwrap();
    assert!(pass.issued_serving && !pass.created_ca, "{pass:?}");
    assert!(api_server_trusts_serving_cert(&fake));
    assert_eq!(
        state(&fake).0.dns_names[0],
        "sidecar-injector.istio-system.svc"
    );
}
