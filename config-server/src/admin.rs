//! The config server's plain-HTTP admin port: `/healthz` and `/metrics`
//! (DESIGN §5), read from the [`Hub`] at scrape time.
//!
//! Every value is already counted by the hub for `Status`; reading it at
//! scrape time keeps one source of truth and costs the streams nothing.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use edge::telemetry::METRICS_CONTENT_TYPE as CONTENT_TYPE;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::hub::Hub;

/// `/healthz` and `/metrics` over `hub`.
pub fn router(hub: Arc<Hub>) -> Router {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(HubCollector { hub }));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(registry))
}

async fn metrics(State(registry): State<Arc<Registry>>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode metrics: {e}\n"),
        )
            .into_response(),
    }
}

#[derive(Debug)]
struct HubCollector {
    hub: Arc<Hub>,
}

fn gauge(value: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Collector for HubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let clients = gauge(self.hub.replica_count() as u64);
        clients.encode(encoder.encode_descriptor(
            "config_stream_clients",
            "Injector replicas with an open snapshot stream.",
            None,
            clients.metric_type(),
        )?)?;
        // 0 before the first valid configuration: versions start at 1.
        let version = gauge(self.hub.current().map_or(0, |s| s.version));
        version.encode(encoder.encode_descriptor(
            "config_snapshot_version",
            "Version of the current snapshot (0: none yet).",
            None,
            version.metric_type(),
        )?)?;
        let nacks = ConstCounter::new(self.hub.nacks_total());
        nacks.encode(encoder.encode_descriptor(
            "config_snapshot_nacks",
            "Snapshots refused by an injector replica.",
            None,
            nacks.metric_type(),
        )?)?;
        let rejections = ConstCounter::new(self.hub.rejected_total());
        rejections.encode(encoder.encode_descriptor(
            "config_snapshot_rejections",
            "Configuration inputs refused by validation; the last good snapshot stayed.",
            None,
            rejections.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use proto::v1::{Identity, Nack, Snapshot};
    use tower::ServiceExt;

    #[tokio::test]
    async fn metrics_follow_the_hub() {
        let hub = Hub::new();
        let app = router(hub.clone());
        let scrape = || async {
            let request = axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(body.to_vec()).unwrap()
        };
        let text = scrape().await;
        assert!(text.contains("config_stream_clients 0\n"), "{text}");
        assert!(text.contains("config_snapshot_version 0\n"), "{text}");

        hub.publish(Snapshot {
            version: 4,
            ..Snapshot::default()
        });
        hub.reject("bad".into(), Vec::new());
        let guard = hub.connect(Identity::default(), "peer".into());
        guard.nacked(Nack::default());
        let text = scrape().await;
        for line in [
            "config_stream_clients 1\n",
            "config_snapshot_version 4\n",
            "config_snapshot_nacks_total 1\n",
            "config_snapshot_rejections_total 1\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from {text}");
        }
    }
}
