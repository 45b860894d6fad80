//! The admission webhook: the axum router that serves `/inject` and
//! `/inject/*`, and the limits every admission passes through.
//!
//! Layers, outermost first:
//! 1. panic catcher: a fault in a handler becomes a 500 and a log line, and
//!    the connection and the server go on;
//! 2. admission guard: counts and times the request, sheds load beyond
//!    `max_concurrent + max_queued` requests with a 503 (no unbounded queue:
//!    kube-apiserver retries elsewhere or applies `failurePolicy`), waits
//!    for one of `max_concurrent` slots, and answers 503 when the request
//!    takes longer than the timeout;
//! 3. the handler (`handler.rs`): content type, body cap, envelope, engine.
//!
//! The router takes its state as a value so tests, the server and the load
//! bench build the same stack.

mod handler;
pub mod review;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

use crate::metrics::{Failure, Metrics};
use crate::snapshot::SnapshotStore;

/// The path of the bench-only trivial handler (see [`Options::bench_trivial`]).
pub const TRIVIAL_PATH: &str = "/bench/trivial";

/// Limits on each admission request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Time from headers received to answer (503 beyond).
    pub timeout: Duration,
    /// Requests processed at once.
    pub max_concurrent: usize,
    /// Requests waiting for a processing slot; more are shed with a 503.
    pub max_queued: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 6 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            max_concurrent: 32,
            max_queued: 256,
        }
    }
}

/// What the router needs.
pub struct Options {
    pub store: Arc<SnapshotStore>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Also serve [`TRIVIAL_PATH`], a fixed `allowed: true` behind the same
    /// layers, for the load bench to compare against.
    pub bench_trivial: bool,
}

struct WebhookState {
    store: Arc<SnapshotStore>,
    metrics: Arc<Metrics>,
    limits: Limits,
    /// Permits for requests in the building (processing or waiting).
    admitted: Arc<Semaphore>,
    /// Permits for requests being processed.
    running: Arc<Semaphore>,
}

type SharedState = Arc<WebhookState>;

/// A request answered with an HTTP error status and a one-line message.
#[derive(Debug)]
struct Rejection {
    status: StatusCode,
    failure: Failure,
    message: String,
}

impl Rejection {
    fn new(status: StatusCode, failure: Failure, message: impl ToString) -> Self {
        Rejection {
            status,
            failure,
            message: message.to_string(),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = format!("{}\n", self.message);
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// The webhook's routes with every layer applied.
pub fn router(options: Options) -> Router {
    let limits = options.limits;
    let state = Arc::new(WebhookState {
        store: options.store,
        metrics: options.metrics,
        limits,
        admitted: Arc::new(Semaphore::new(limits.max_concurrent + limits.max_queued)),
        running: Arc::new(Semaphore::new(limits.max_concurrent)),
    });
    let mut routes = Router::new()
        .route("/inject", post(handler::inject))
        .route("/inject/{*rest}", post(handler::inject));
    if options.bench_trivial {
        routes = routes.route(TRIVIAL_PATH, post(handler::trivial));
    }
    with_layers(routes, state)
}

/// Applies the panic catcher and the admission guard to `routes`.
fn with_layers(routes: Router<SharedState>, state: SharedState) -> Router {
    let metrics = state.metrics.clone();
    routes
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(CatchPanicLayer::custom(
            move |panic: Box<dyn std::any::Any + Send>| {
                let detail = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                tracing::error!(panic = detail, "admission handler panicked");
                metrics.failure(Failure::Panic);
                Rejection::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Failure::Panic,
                    "internal error in the sidecar injector (logged); retry",
                )
                .into_response()
            },
        ))
        .with_state(state)
}

async fn guard(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    state.metrics.request();
    let response = match guarded(&state, request, next).await {
        Ok(response) => response,
        Err(rejection) => {
            state.metrics.failure(rejection.failure);
            tracing::warn!(status = %rejection.status, error = %rejection.message, "admission request rejected");
            rejection.into_response()
        }
    };
    state.metrics.observe(started.elapsed());
    response
}

async fn guarded(
    state: &WebhookState,
    request: Request,
    next: Next,
) -> Result<Response, Rejection> {
    let limits = state.limits;
    let Ok(_admitted) = state.admitted.clone().try_acquire_owned() else {
        return Err(Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Failure::Overloaded,
            format!(
                "too many admission requests in progress ({} processing, {} waiting); retry",
                limits.max_concurrent, limits.max_queued
            ),
        ));
    };
    let timed_out = || {
        Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Failure::Timeout,
            format!(
                "admission request not answered within {:?} (--request-timeout)",
                limits.timeout
            ),
        )
    };
    let work = async {
        // Closed never: the semaphore lives as long as the state.
        let _running = state.running.acquire().await;
        next.run(request).await
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| timed_out())
}

#[cfg(test)]
mod tests;
