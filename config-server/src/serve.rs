//! `config-server serve`: the source, the publisher and the gRPC server,
//! wired together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::Reporter;
use proto::SnapshotServiceServer;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::admin;
use crate::certs::{CertManager, CertOptions};
use crate::hub::Hub;
use crate::service::Service;
use crate::snapshot::Publisher;
use crate::source;

/// HTTP/2 pings find replicas that vanished without closing their
/// connection, so they leave `Status` and free their stream.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the inputs come from: `kube` or `dir:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    Kube,
    Dir(PathBuf),
}

impl FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "kube" => Ok(SourceSpec::Kube),
            Some(("dir", path)) if !path.is_empty() => Ok(SourceSpec::Dir(path.into())),
            _ => Err(format!("{s:?} is neither `kube` nor `dir:PATH`")),
        }
    }
}

/// The server's certificate and key, and the CA its clients' certificates
/// must chain to when mutual TLS is wanted.
#[derive(Clone, Debug)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub source: SourceSpec,
    pub listen: SocketAddr,
    /// Plain-HTTP address of `/healthz` and `/metrics`.
    pub admin_listen: SocketAddr,
    /// The namespace of the ConfigMaps (kube source).
    pub namespace: String,
    /// This pod's name, reported on Events (kube source).
    pub pod_name: Option<String>,
    pub tls: Option<ServerTls>,
    /// Stamped on every snapshot; older injectors NACK it.
    pub min_injector_version: Option<String>,
    /// Keep the webhook's certificates (kube source only); `None` when
    /// another party (cert-manager) does.
    pub certs: Option<CertOptions>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid TLS settings: {0}")]
    Tls(tonic::transport::Error),
    #[error("gRPC server failed: {0}")]
    Server(tonic::transport::Error),
    #[error("admin server failed: {0}")]
    Admin(std::io::Error),
    #[error("cannot reach the Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Watch(#[from] injector::source::dir::WatchError),
}

/// Runs until `shutdown` completes or the server fails.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let admin_listener = tokio::net::TcpListener::bind(options.admin_listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.admin_listen,
            source,
        })?;
    let hub = Hub::new();
    let mut publisher = Publisher::new(Arc::clone(&hub), options.min_injector_version.clone());
    let source = run_source(&options, &mut publisher).await?;
    let mut server = Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT));
    if let Some(tls) = &options.tls {
        server = server
            .tls_config(tls_config(tls)?)
            .map_err(ServeError::Tls)?;
    }
    let local = listener.local_addr().unwrap_or(options.listen);
    tracing::info!(addr = %local, source = ?options.source, "config server listening");
    let admin_addr = admin_listener.local_addr().unwrap_or(options.admin_listen);
    tracing::info!(addr = %admin_addr, "admin listening (HTTP)");
    let admin = axum::serve(admin_listener, admin::router(Arc::clone(&hub))).into_future();
    let grpc = server
        .add_service(SnapshotServiceServer::new(Service::new(hub)))
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
    options: &'a ServeOptions,
    publisher: &'a mut Publisher,
) -> Result<impl Future<Output = Result<(), ServeError>> + 'a, ServeError> {
    let run: futures::future::BoxFuture<'a, Result<(), ServeError>> = match &options.source {
        SourceSpec::Dir(path) => Box::pin(async move {
            source::dir::run(path, publisher).await?;
            Ok(())
        }),
        SourceSpec::Kube => {
            let client = kube::Client::try_default().await?;
            let reporter = Reporter {
                controller: "config-server".into(),
                instance: options.pod_name.clone(),
            };
            let certs = options
                .certs
                .clone()
                .map(|o| CertManager::new(client.clone(), o));
            Box::pin(async move {
                let watch = source::kube::run(client, &options.namespace, reporter, publisher);
                match certs {
                    // Neither loop ends on its own; both stop with the server.
                    Some(certs) => {
                        tokio::join!(watch, certs.run(std::future::pending()));
                    }
                    None => watch.await,
                }
                Ok(())
            })
        }
    };
    Ok(run)
}

fn tls_config(tls: &ServerTls) -> Result<ServerTlsConfig, ServeError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| ServeError::Read {
            path: path.clone(),
            source,
        })
    };
    let mut config =
        ServerTlsConfig::new().identity(Identity::from_pem(read(&tls.cert)?, read(&tls.key)?));
    if let Some(ca) = &tls.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!("kube".parse(), Ok(SourceSpec::Kube));
        assert_eq!(
            "dir:/etc/cfg".parse(),
            Ok(SourceSpec::Dir("/etc/cfg".into()))
        );
        assert!("dir:".parse::<SourceSpec>().is_err());
        assert!("git:x".parse::<SourceSpec>().is_err());
    }
}
