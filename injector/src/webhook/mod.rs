//! The admission webhook: the axum router that serves `/inject` and
//! `/inject/*`.
//!
//! Layers, outermost first:
//! 1. [`record`]: the request's span, metrics and log line, written once
//!    from what its response carries;
//! 2. the panic catcher: a fault in a handler becomes a 500, and the
//!    connection and the server go on;
//! 3. [`guard`]: load shedding, concurrency and the [`deadline`];
//! 4. [`handler`]: content type, body cap, envelope, then the answer: from
//!    the response cache at once, or from the engine on one of the
//!    [`workers`] (so the deadline holds however long it takes).
//!
//! The router takes its state as a value so tests, the server and the load
//! bench build the same stack.

mod deadline;
mod error;
mod guard;
mod handler;
mod record;
mod workers;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::post;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::AdmissionError;
use workers::Workers;

use crate::metrics::Metrics;
use crate::snapshot::SnapshotStore;

/// The path of the bench-only trivial handler (see [`Options::bench_trivial`]).
pub const TRIVIAL_PATH: &str = "/bench/trivial";

/// Limits on each admission request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Time from headers received to answer (503 beyond); a shorter
    /// timeout from kube-apiserver lowers it per request.
    pub timeout: Duration,
    /// Requests processed at once.
    pub max_concurrent: usize,
    /// Requests waiting for a processing slot; more are shed with a 503.
    pub max_queued: usize,
    /// Threads running the engine for pods the response cache does not
    /// hold; requests beyond them wait in their processing slot.
    pub engine_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 6 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            max_concurrent: 32,
            max_queued: 256,
            engine_threads: default_engine_threads(),
        }
    }
}

/// One engine thread per CPU the process may use (the standard library
/// reads the cgroup's CPU quota, so a pod's CPU limit counts).
fn default_engine_threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
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
    workers: Workers,
}

type SharedState = Arc<WebhookState>;

impl WebhookState {
    fn new(
        store: Arc<SnapshotStore>,
        metrics: Arc<Metrics>,
        limits: Limits,
    ) -> std::io::Result<SharedState> {
        Ok(Arc::new(WebhookState {
            store,
            metrics,
            limits,
            admitted: Arc::new(Semaphore::new(limits.max_concurrent + limits.max_queued)),
            running: Arc::new(Semaphore::new(limits.max_concurrent)),
            workers: Workers::start(limits.engine_threads)?,
        }))
    }
}

/// The webhook's routes with every layer applied. Fails only if the
/// engine threads cannot be started.
pub fn router(options: Options) -> std::io::Result<Router> {
    let state = WebhookState::new(options.store, options.metrics, options.limits)?;
    let mut routes = Router::new()
        .route("/inject", post(handler::inject))
        .route("/inject/{*rest}", post(handler::inject));
    if options.bench_trivial {
        routes = routes.route(TRIVIAL_PATH, post(handler::trivial));
    }
    Ok(with_layers(routes, state))
}

/// Applies the layers to `routes`, innermost first.
fn with_layers(routes: Router<SharedState>, state: SharedState) -> Router {
    routes
        .route_layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .route_layer(CatchPanicLayer::custom(
            |panic: Box<dyn std::any::Any + Send>| {
                AdmissionError::Panic(workers::panic_message(panic.as_ref()).to_string())
                    .into_response()
            },
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            record::record,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests;
