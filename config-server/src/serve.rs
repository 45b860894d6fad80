//! `config-server serve`: the source, the publisher and the gRPC server,
//! wired together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use edge::native;
use edge::report::Chain;
use kube::runtime::events::Reporter;
use proto::SnapshotServiceServer;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::admin;
use crate::certs::{CertManager, CertOptions};
use crate::cli::{ServeArgs, SourceSpec};
use crate::cluster;
use crate::hub::Hub;
use crate::service::Service;
use crate::snapshot::Publisher;
use crate::source;

/// HTTP/2 pings find replicas that vanished without closing their
/// connection, so they leave `Status` and free their stream.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The server's certificate and key, and the CA its clients' certificates
/// must chain to when mutual TLS is wanted.
#[derive(Clone, Debug)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid TLS settings: {}", Chain(.0))]
    Tls(tonic::transport::Error),
    #[error("gRPC server failed: {}", Chain(.0))]
    Server(tonic::transport::Error),
    #[error("admin server failed: {0}")]
    Admin(std::io::Error),
    #[error("cannot reach the Kubernetes API: {}", Chain(.0))]
    Kube(kube::Error),
    #[error(transparent)]
    Watch(#[from] edge::dir::WatchError),
}

/// Runs until `shutdown` completes or the server fails.
pub async fn serve(
    options: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|error| ServeError::Listen {
            addr: options.listen,
            error,
        })?;
    let admin_listener = tokio::net::TcpListener::bind(options.admin_listen)
        .await
        .map_err(|error| ServeError::Listen {
            addr: options.admin_listen,
            error,
        })?;
    let hub = Hub::new();
    // A directory has no cluster to ask; the kube source asks before its
    // first build.
    let decision = match options.source {
        SourceSpec::Dir(_) => Some(native::decide(options.native_sidecars, None)),
        SourceSpec::Kube => None,
    };
    let mut publisher = Publisher::new(
        Arc::clone(&hub),
        options.min_injector_version.clone(),
        decision,
    );
    let source = run_source(options, &mut publisher).await?;
    let mut server = Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT));
    if let Some(tls) = server_tls(options) {
        server = server
            .tls_config(tls_config(&tls)?)
            .map_err(ServeError::Tls)?;
    }
    let local = listener.local_addr().unwrap_or(options.listen);
    tracing::info!(addr = %local, source = ?options.source, "config server listening");
    let admin_addr = admin_listener.local_addr().unwrap_or(options.admin_listen);
    tracing::info!(addr = %admin_addr, "admin listening (HTTP)");
    let admin = axum::serve(admin_listener, admin::router(Arc::clone(&hub))).into_future();
    let grpc = server
        .add_service(
            SnapshotServiceServer::new(Service::new(hub))
                .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
        )
        // A snapshot must not wait on Nagle for the replica's ACK of the
        // previous write; `Server::tcp_nodelay` does not apply to a listener
        // passed in, so it is set here.
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        );
    tokio::select! {
        result = grpc => result.map_err(ServeError::Server),
        result = source => result,
        result = admin => result.map_err(ServeError::Admin),
    }
}

/// The future that runs the configured source into `publisher`; it ends
/// only if the source fails (a directory that cannot be watched).
async fn run_source<'a>(
    options: &'a ServeArgs,
    publisher: &'a mut Publisher,
) -> Result<impl Future<Output = Result<(), ServeError>> + 'a, ServeError> {
    let run: futures::future::BoxFuture<'a, Result<(), ServeError>> = match &options.source {
        SourceSpec::Dir(path) => Box::pin(async move {
            source::dir::run(path, publisher).await?;
            Ok(())
        }),
        SourceSpec::Kube => {
            let client = kube::Client::try_default()
                .await
                .map_err(ServeError::Kube)?;
            let reporter = Reporter {
                controller: "config-server".into(),
                instance: options.pod_name.clone(),
            };
            let certs = cert_options(options).map(|o| CertManager::new(client.clone(), o));
            let (decisions, cluster) = watch::channel(None);
            let detect = cluster::detect(
                client.clone(),
                options.native_sidecars,
                options.version_poll_interval,
                decisions,
            );
            Box::pin(async move {
                let watch =
                    source::kube::run(client, &options.namespace, reporter, publisher, cluster);
                let certs = async move {
                    if let Some(certs) = certs {
                        certs.run(std::future::pending()).await;
                    }
                };
                // None of the loops ends on its own; all stop with the server.
                tokio::join!(watch, detect, certs);
                Ok(())
            })
        }
    };
    Ok(run)
}

fn tls_config(tls: &ServerTls) -> Result<ServerTlsConfig, ServeError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|error| ServeError::Read {
            path: path.clone(),
            error,
        })
    };
    let mut config =
        ServerTlsConfig::new().identity(Identity::from_pem(read(&tls.cert)?, read(&tls.key)?));
    if let Some(ca) = &tls.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(config)
}

fn server_tls(args: &ServeArgs) -> Option<ServerTls> {
    let (cert, key) = args.tls_cert.clone().zip(args.tls_key.clone())?;
    Some(ServerTls {
        cert,
        key,
        client_ca: args.client_ca.clone(),
    })
}

const DAY: Duration = Duration::from_secs(86_400);

/// What the certificate manager keeps, unless `--self-managed-certs=false`:
/// a CA for 10 years and serving certificates for 90 days, renewed when a
/// third of their life is left, checked every minute.
fn cert_options(args: &ServeArgs) -> Option<CertOptions> {
    args.self_managed_certs.then(|| CertOptions {
        namespace: args.namespace.clone(),
        secret: args.tls_secret.clone(),
        webhook: args.webhook_config.clone(),
        service: args.webhook_service.clone(),
        ca_lifetime: 10 * 365 * DAY,
        cert_lifetime: 90 * DAY,
        renew_fraction: 1.0 / 3.0,
        interval: Duration::from_secs(60),
    })
}
