//! `injector serve`: the webhook on HTTPS and the admin port on HTTP, until
//! SIGTERM or SIGINT.
//!
//! Start-up fails fast (bad config, unreadable certificate, port in use) so
//! a broken rollout never turns ready. Shutdown drains: `/readyz` turns 503,
//! the webhook stops accepting connections, in-flight admissions finish
//! (up to `--shutdown-timeout`), then the process exits, so a rolling update
//! loses no admission.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::TokioTimer;
use rustls::ServerConfig;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::metrics::Metrics;
use crate::snapshot::SnapshotStore;
use crate::snapshot::client::{ClientArgs, ClientError};
use crate::snapshot::local;
use crate::snapshot::versioner::BuildError;
use crate::source::dir::WatchError;
use crate::tls::{self, CertFiles, CertReloader, TlsError};
use crate::webhook::{self, Limits};

/// The flags of `injector serve` (DESIGN §4).
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// HTTPS address of the webhook (`/inject`).
    #[arg(long, default_value = "0.0.0.0:9443", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Plain-HTTP address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, default_value = "0.0.0.0:9090", value_name = "ADDR")]
    pub admin_listen: SocketAddr,
    /// PEM certificate chain of the webhook, leaf first; reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// PEM private key of the certificate; reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// How often the certificate files are checked for a new pair.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub tls_reload_interval: Duration,
    /// Directory holding the `config`, `values` and `mesh` files (as a
    /// mounted ConfigMap shows them) or ConfigMap manifests; the embedded
    /// default configuration without it.
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    #[command(flatten)]
    pub config_server: ClientArgs,
    /// Largest AdmissionReview accepted, in bytes (413 beyond).
    #[arg(long, default_value_t = Limits::default().max_body_bytes, value_name = "BYTES",
          value_parser = at_least_one)]
    pub max_body_bytes: usize,
    /// Longest time to answer one admission request (503 beyond).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Duration,
    /// Admission requests processed at once.
    #[arg(long, default_value_t = Limits::default().max_concurrent, value_name = "N",
          value_parser = at_least_one)]
    pub max_concurrent_requests: usize,
    /// Admission requests waiting for a slot; more are refused with a 503.
    #[arg(long, default_value_t = Limits::default().max_queued, value_name = "N")]
    pub max_queued_requests: usize,
    /// Longest wait for in-flight requests after SIGTERM before exiting.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_timeout: Duration,
    /// Serve a fixed `allowed: true` on /bench/trivial behind the same
    /// layers, for the load bench.
    #[arg(long, hide = true)]
    pub bench_trivial_route: bool,
}

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the configuration cannot be used: {0}")]
    Config(#[from] BuildError),
    #[error("cannot watch the configuration directory: {0}")]
    Watch(#[from] WatchError),
    #[error(transparent)]
    ConfigServer(#[from] ClientError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the {signal} handler: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
    #[error("{server} server failed: {source}")]
    Serve {
        server: &'static str,
        source: std::io::Error,
    },
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses `500ms`, `10s`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (examples: 500ms, 10s, 2m)"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
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
    match &args.config_dir {
        None => {
            local::serve_embedded(store)?;
            if let Some(engine) = store.load() {
                tracing::info!(
                    version = engine.version(),
                    hash = engine.hash(),
                    "serving the embedded configuration"
                );
            }
            Ok(None)
        }
        Some(dir) => {
            let watching = local::watch_dir(dir, store.clone()).await?;
            Ok(Some(tokio::spawn(watching)))
        }
    }
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
    let bind_err = |source| ServeError::Bind { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    Ok(listener)
}

/// Serves `app` over TLS on `listener` (HTTP/1.1 and HTTP/2 by ALPN) until
/// `handle` shuts it down. Any router can be served this way: the webhook,
/// or a test's.
pub async fn serve_https(
    listener: std::net::TcpListener,
    tls: ServerConfig,
    app: Router,
    handle: Handle<SocketAddr>,
    timeout: Duration,
) -> std::io::Result<()> {
    // TCP_NODELAY: an answer is often written as more than one TLS record
    // (h2 HEADERS then DATA); Nagle would hold the last one back until the
    // client's delayed ACK, some 40 ms per admission.
    let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(tls)))
        .handshake_timeout(timeout)
        .acceptor(NoDelayAcceptor::new());
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

/// SIGTERM (kubelet stopping the pod) and SIGINT, caught from start-up on
/// so neither kills the process before it has drained.
struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    fn install() -> Result<Self, ServeError> {
        let install = |kind, name| {
            signal(kind).map_err(|source| ServeError::Signal {
                signal: name,
                source,
            })
        };
        Ok(ShutdownSignals {
            term: install(SignalKind::terminate(), "SIGTERM")?,
            int: install(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    /// The name of the first signal received.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Runs the webhook and the admin port until a shutdown signal.
pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let store = Arc::new(SnapshotStore::new());
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
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            timeout: args.request_timeout,
            max_concurrent: args.max_concurrent_requests,
            max_queued: args.max_queued_requests,
        },
        bench_trivial: args.bench_trivial_route,
    });
    let admin_state = Arc::new(AdminState::new(store, metrics));

    let webhook_listener = bind(args.listen)?;
    let admin_listener = bind(args.admin_listen)?;
    let local = |l: &std::net::TcpListener, addr| {
        l.local_addr()
            .map_err(|source| ServeError::Bind { addr, source })
    };
    let webhook_addr = local(&webhook_listener, args.listen)?;
    let admin_addr = local(&admin_listener, args.admin_listen)?;
    let admin_listener =
        tokio::net::TcpListener::from_std(admin_listener).map_err(|source| ServeError::Bind {
            addr: args.admin_listen,
            source,
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
    ));
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut admin = tokio::spawn(
        axum::serve(admin_listener, admin::router(admin_state.clone()))
            .with_graceful_shutdown(async {
                let _ = admin_stopped.await;
            })
            .into_future(),
    );
    tracing::info!(addr = %webhook_addr, "webhook listening (HTTPS)");
    tracing::info!(addr = %admin_addr, "admin listening (HTTP)");

    let outcome = tokio::select! {
        signal = signals.recv() => Ok(signal),
        result = &mut webhook => Err(ServeError::Serve {
            server: "webhook",
            source: joined(result),
        }),
        result = &mut admin => Err(ServeError::Serve {
            server: "admin",
            source: joined(result),
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
        Err(source) => Err(ServeError::Serve {
            server: "webhook",
            source,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("-1s").is_err());
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err() && at_least_one("x").is_err());
    }
}
