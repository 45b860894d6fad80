//! `injector serve`: the webhook on HTTPS and the admin port on HTTP, until
//! SIGTERM or SIGINT.
//!
//! Start-up fails fast (bad config, unreadable certificate, port in use) so
//! a broken rollout never turns ready. Shutdown drains: `/readyz` turns 503,
//! the webhook stops accepting connections, in-flight admissions finish
//! (up to `--shutdown-timeout`), then the process exits, so a rolling update
//! loses no admission.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use edge::channel::ChannelError;
use edge::dir::WatchError;
use edge::native;
use edge::process::{ProcessError, ShutdownSignals};
use edge::telemetry::{LogArgs, Telemetry, TelemetryError};
use edge::versioner::BuildError;
use hyper_util::rt::TokioTimer;
use rustls::ServerConfig;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::cli::ServeArgs;
use crate::connections::ConnectionLimit;
use crate::metrics::Metrics;
use crate::snapshot::SnapshotStore;
use crate::snapshot::local;
use crate::tls::{self, CertFiles, CertReloader, TlsError};
use crate::webhook;

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot start the engine threads: {0}")]
    Workers(std::io::Error),
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    #[error("the configuration cannot be used: {0}")]
    Config(#[from] BuildError),
    #[error("cannot watch the configuration directory: {0}")]
    Watch(#[from] WatchError),
    #[error(transparent)]
    ConfigServer(#[from] ChannelError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("{server} server failed: {error}")]
    Serve {
        server: &'static str,
        error: std::io::Error,
    },
}

/// Starts the source of configuration snapshots.
///
/// This is the seam where snapshots come from: the embedded default, or
/// the `dir` source watching `--config-dir` in-process (a change is
/// published, a bad one logged while the last good one keeps serving). The
/// config-server client (`--config-server`) is the other source and
/// publishes to the same store. Returns the task that keeps watching, if
/// any.
async fn start_snapshots(
    args: &ServeArgs,
    store: &Arc<SnapshotStore>,
) -> Result<Option<JoinHandle<()>>, ServeError> {
    if let Some(client) = args.config_server.client()? {
        return Ok(Some(tokio::spawn(client.run(store.clone()))));
    }
    let cluster = native::decide(args.native_sidecars, None).facts();
    match &args.config_dir {
        None => {
            local::serve_embedded(store, cluster)?;
            if let Some(served) = store.load() {
                tracing::info!(
                    version = served.engine.version(),
                    hash = served.engine.hash(),
                    "serving the embedded configuration"
                );
            }
            Ok(None)
        }
        Some(dir) => {
            let watching = local::watch_dir(dir, store.clone(), cluster).await?;
            Ok(Some(tokio::spawn(watching)))
        }
    }
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
    let bind_err = |error| ServeError::Bind { addr, error };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    Ok(listener)
}

/// Serves `app` over TLS on `listener` (HTTP/1.1 and HTTP/2 by ALPN), at
/// most `max_connections` open at once, until `handle` shuts it down. Any
/// router can be served this way: the webhook, or a test's.
pub async fn serve_https(
    listener: std::net::TcpListener,
    tls: ServerConfig,
    app: Router,
    handle: Handle<SocketAddr>,
    timeout: Duration,
    max_connections: usize,
) -> std::io::Result<()> {
    // TCP_NODELAY: an answer is often written as more than one TLS record
    // (h2 HEADERS then DATA); Nagle would hold the last one back until the
    // client's delayed ACK, some 40 ms per admission.
    let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(tls)))
        .handshake_timeout(timeout)
        .acceptor(ConnectionLimit::new(
            max_connections,
            NoDelayAcceptor::new(),
        ));
    let mut server = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle);
    // A client that never finishes its headers holds a connection only
    // this long; the body is bounded by the request timeout.
    server
        .http_builder()
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    server.serve(app.into_make_service()).await
}

/// Starts the async runtime and telemetry, then [`run`]s.
pub fn run_blocking(args: ServeArgs, log: &LogArgs) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    // The trace exporter's channel lives on the runtime; the guard flushes
    // the last spans on the way out.
    let _telemetry = {
        let _runtime = runtime.enter();
        Telemetry::init(log, "injector")?
    };
    runtime.block_on(run(args))
}

/// Runs the webhook and the admin port until a shutdown signal.
pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let store = Arc::new(SnapshotStore::new(args.response_cache_bytes));
    let watching = start_snapshots(&args, &store).await?;
    let metrics = Arc::new(Metrics::new(store.clone()));

    let files = CertFiles {
        cert: args.tls_cert.clone(),
        key: args.tls_key.clone(),
    };
    let reloader = CertReloader::load(files, provider.clone())?;
    let tls = tls::server_config(provider, reloader.resolver())?;

    let app = webhook::router(webhook::Options {
        store: store.clone(),
        metrics: metrics.clone(),
        limits: args.limits(),
        bench_trivial: args.bench_trivial_route,
    })
    .map_err(ServeError::Workers)?;
    let admin_state = Arc::new(AdminState::new(store, metrics));

    let webhook_listener = bind(args.listen)?;
    let admin_listener = bind(args.admin_listen)?;
    let local = |l: &std::net::TcpListener, addr| {
        l.local_addr()
            .map_err(|error| ServeError::Bind { addr, error })
    };
    let webhook_addr = local(&webhook_listener, args.listen)?;
    let admin_addr = local(&admin_listener, args.admin_listen)?;
    let admin_listener =
        tokio::net::TcpListener::from_std(admin_listener).map_err(|error| ServeError::Bind {
            addr: args.admin_listen,
            error,
        })?;
    let mut signals = ShutdownSignals::install()?;

    let mut background = Background::default();
    background.0.extend(watching);
    background
        .0
        .push(tokio::spawn(reloader.run(args.tls_reload_interval)));
    let handle = Handle::new();
    let mut webhook = tokio::spawn(serve_https(
        webhook_listener,
        tls,
        app,
        handle.clone(),
        args.request_timeout,
        args.max_connections,
    ));
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut admin = tokio::spawn(
        axum::serve(admin_listener, admin::router(admin_state.clone()))
            .with_graceful_shutdown(async {
                let _ = admin_stopped.await;
            })
            .into_future(),
    );
    tracing::info!(addr = %webhook_addr, engine_threads = args.engine_threads, "webhook listening (HTTPS)");
    tracing::info!(addr = %admin_addr, "admin listening (HTTP)");

    let outcome = tokio::select! {
        signal = signals.recv() => Ok(signal),
        result = &mut webhook => Err(ServeError::Serve {
            server: "webhook",
            error: joined(result),
        }),
        result = &mut admin => Err(ServeError::Serve {
            server: "admin",
            error: joined(result),
        }),
    };
    let signal = outcome?;
    tracing::info!(
        signal,
        timeout = ?args.shutdown_timeout,
        "shutting down: finishing in-flight admissions"
    );
    admin_state.start_draining();
    handle.graceful_shutdown(Some(args.shutdown_timeout));
    let drained = webhook.await;
    let _ = stop_admin.send(());
    let _ = admin.await;
    match joined_result(drained) {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(())
        }
        Err(error) => Err(ServeError::Serve {
            server: "webhook",
            error,
        }),
    }
}

/// Tasks that live as long as the server: stopped when `run` returns.
#[derive(Default)]
struct Background(Vec<JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// A server task that ended before shutdown: its error, or a note that it
/// stopped unexpectedly.
fn joined(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Error {
    match joined_result(result) {
        Ok(()) => std::io::Error::other("stopped unexpectedly"),
        Err(e) => e,
    }
}

fn joined_result(
    result: Result<std::io::Result<()>, tokio::task::JoinError>,
) -> std::io::Result<()> {
    match result {
        Ok(inner) => inner,
        Err(join) => Err(std::io::Error::other(join.to_string())),
    }
}
