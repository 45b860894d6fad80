//! The fake API server's mutating admission for Pod creation, as
//! kube-apiserver runs it: every webhook of every
//! MutatingWebhookConfiguration whose rules name pods and CREATE is called
//! in turn over HTTPS, verified with its `caBundle`, at its
//! `clientConfig.url` with `?timeout=Ns` appended (its `timeoutSeconds`,
//! 10 by default), and given that long; its JSON Patch is applied before
//! the next one. A denial, or a failed call under `failurePolicy: Fail`
//! (the default), refuses the pod with kube-apiserver's message.
//!
//! Not modelled: `service` client configs (tests run webhooks on
//! loopback), namespace and object selectors (every matching webhook is
//! called), `matchPolicy`, `reinvocationPolicy` and `sideEffects`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why a pod was refused: the `Status` to answer.
#[derive(Debug)]
pub struct Refusal {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
}

/// kube-apiserver's default and largest webhook timeout.
const DEFAULT_TIMEOUT: u64 = 10;

/// Runs `pod` through the webhooks of `configurations`, in name order.
pub async fn mutate(
    mut configurations: Vec<Value>,
    mut pod: Value,
    uid: &str,
) -> Result<Value, Refusal> {
    configurations.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    let webhooks = configurations
        .iter()
        .flat_map(|c| c["webhooks"].as_array().cloned().unwrap_or_default())
        .filter(creates_pods);
    for webhook in webhooks {
        let name = webhook["name"].as_str().unwrap_or("").to_string();
        match call(&webhook, &pod, uid).await {
            Ok(response) => pod = apply(&name, response, pod)?,
            Err(error) if webhook["failurePolicy"] == "Ignore" => {
                let _ = error;
            }
            Err(error) => {
                return Err(Refusal {
                    code: StatusCode::INTERNAL_SERVER_ERROR,
                    reason: "InternalError",
                    message: format!(
                        "Internal error occurred: failed calling webhook {name:?}: {error}"
                    ),
                });
            }
        }
    }
    Ok(pod)
}

fn creates_pods(webhook: &Value) -> bool {
    let has = |rule: &Value, key: &str, value: &str| {
        rule[key]
            .as_array()
            .is_some_and(|l| l.iter().any(|v| v == value || v == "*"))
    };
    webhook["rules"].as_array().is_some_and(|rules| {
        rules
            .iter()
            .any(|r| has(r, "operations", "CREATE") && has(r, "resources", "pods"))
    })
}

/// The AdmissionReview (`admission.k8s.io/v1`) kube-apiserver sends a
/// mutating webhook for the creation of `pod` in `namespace`. `name` is
/// left out while the pod has none (its `generateName` is not applied yet).
pub fn pod_create_review(pod: &Value, namespace: &str, uid: &str) -> Value {
    let mut review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:test:creator"},
            "object": pod,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    });
    if let Some(name) = pod["metadata"]["name"].as_str() {
        review["request"]["name"] = json!(name);
    }
    review
}

/// The webhook's answer (`response`) or why there is none.
async fn call(webhook: &Value, pod: &Value, uid: &str) -> Result<Value, String> {
    let seconds = webhook["timeoutSeconds"]
        .as_u64()
        .unwrap_or(DEFAULT_TIMEOUT);
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let review = pod_create_review(pod, namespace, uid);
    let url = webhook["clientConfig"]["url"]
        .as_str()
        .ok_or("the fake calls webhooks by clientConfig.url only")?;
    let ca = webhook["clientConfig"]["caBundle"].as_str().unwrap_or("");
    let ca = base64::engine::general_purpose::STANDARD
        .decode(ca)
        .map_err(|e| format!("caBundle is not base64: {e}"))?;
    let url = format!(
        "{url}{}timeout={seconds}s",
        if url.contains('?') { '&' } else { '?' }
    );
    let body = serde_json::to_vec(&review).map_err(|e| e.to_string())?;
    let reply = tokio::time::timeout(Duration::from_secs(seconds), post(&url, &ca, body))
        .await
        .map_err(|_| format!("Post {url:?}: context deadline exceeded"))??;
    let review: Value = serde_json::from_slice(&reply)
        .map_err(|e| format!("the response is not an AdmissionReview: {e}"))?;
    match &review["response"] {
        Value::Object(_) if review["response"]["uid"] == uid => Ok(review["response"].clone()),
        Value::Object(_) => Err("expected response.uid to match the request".into()),
        _ => Err("the AdmissionReview has no response".into()),
    }
}

/// POSTs `body` to the `https` `url`, trusting `ca_pem` only; the body of
/// a 200 answer.
async fn post(url: &str, ca_pem: &[u8], body: Vec<u8>) -> Result<Bytes, String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    let host = uri.host().ok_or("no host")?.to_string();
    let port = uri.port_u16().unwrap_or(443);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| format!("caBundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("caBundle: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
    let post_error = |e: &dyn std::fmt::Display| format!("Post {url:?}: {e}");
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| post_error(&e))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| post_error(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| post_error(&e))?;
    tokio::spawn(connection);
    let request = axum::http::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| post_error(&e))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| post_error(&e))?
        .to_bytes();
    if status != StatusCode::OK {
        return Err(format!(
            "expected webhook response of 200, got {}: {}",
            status.as_u16(),
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(body)
}

/// The pod after webhook `name`'s answer, or its denial.
fn apply(name: &str, response: Value, mut pod: Value) -> Result<Value, Refusal> {
    if response["allowed"] != true {
        let status = &response["status"];
        let code = status["code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        return Err(Refusal {
            code,
            reason: "BadRequest",
            message: format!(
                "admission webhook {name:?} denied the request: {}",
                status["message"].as_str().unwrap_or("without explanation")
            ),
        });
    }
    let Some(patch) = response["patch"].as_str() else {
        return Ok(pod);
    };
    let internal = |message: String| Refusal {
        code: StatusCode::INTERNAL_SERVER_ERROR,
        reason: "InternalError",
        message: format!("Internal error occurred: webhook {name:?}: {message}"),
    };
    if response["patchType"] != "JSONPatch" {
        return Err(internal("a patch needs patchType JSONPatch".into()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| internal(format!("the patch is not base64: {e}")))?;
    let patch: json_patch::Patch = serde_json::from_slice(&bytes)
        .map_err(|e| internal(format!("the patch is not a JSON Patch: {e}")))?;
    json_patch::patch(&mut pod, &patch)
        .map_err(|e| internal(format!("the patch does not apply: {e}")))?;
    Ok(pod)
}
