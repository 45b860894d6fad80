//! The plain-HTTP admin port: `/healthz`, `/readyz`, `/metrics`.
//!
//! Kept off the TLS port so kubelet probes and Prometheus need no
//! certificates, and so a probe never competes with admissions for the
//! webhook's concurrency slots.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use edge::telemetry::METRICS_CONTENT_TYPE;

use crate::metrics::Metrics;
use crate::snapshot::SnapshotStore;

/// What the admin endpoints report on.
pub struct AdminState {
    store: Arc<SnapshotStore>,
    metrics: Arc<Metrics>,
    draining: AtomicBool,
}

impl AdminState {
    pub fn new(store: Arc<SnapshotStore>, metrics: Arc<Metrics>) -> Self {
        AdminState {
            store,
            metrics,
            draining: AtomicBool::new(false),
        }
    }

    /// From now on `/readyz` fails, so endpoints stop sending admissions
    /// while in-flight ones finish.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: holds a configuration snapshot and is not shutting down.
async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    if state.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match state.store.load() {
        Some(served) => format!(
            "ready: snapshot version {} ({})\n",
            served.engine.version(),
            served.engine.hash()
        )
        .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no configuration snapshot yet\n",
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    match state.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode metrics: {e}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use injector_engine::{Engine, RawConfig};
    use tower::ServiceExt;

    async fn get(app: &Router, path: &str) -> (StatusCode, String) {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn ready_only_with_a_snapshot_and_until_draining() {
        let store = Arc::new(SnapshotStore::default());
        let metrics = Arc::new(Metrics::new(store.clone()));
        let state = Arc::new(AdminState::new(store.clone(), metrics));
        let app = router(state.clone());

        assert_eq!(get(&app, "/healthz").await, (StatusCode::OK, "ok\n".into()));
        let (status, body) = get(&app, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("no configuration snapshot"));

        let config = RawConfig::embedded().parse().unwrap();
        store.publish(Engine::compile(config, 3).unwrap());
        let (status, body) = get(&app, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("snapshot version 3"), "{body}");

        let (status, body) = get(&app, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("config_snapshot_version 3"), "{body}");

        state.start_draining();
        let (status, body) = get(&app, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "shutting down\n");
        assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    }
}
