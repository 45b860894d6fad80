//! The gRPC channel to the config server, for the injectors' snapshot
//! stream and for one-off calls such as `config-server status`: one place
//! that reads the TLS files and bounds the connection attempt.

use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::report::Chain;

/// Bounds each connection attempt, so an unreachable address fails into
/// backoff instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// TLS files for the channel to the config server.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// The CA that signs the server's certificate; the system roots are not
    /// consulted.
    pub ca: PathBuf,
    /// A client certificate and key, for a server requiring mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// The name to verify in the server's certificate, when it is not the
    /// URL's host.
    pub domain: Option<String>,
}

/// Why the channel cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("invalid config server URL {url:?}: {}", Chain(.error))]
    Url {
        url: String,
        error: tonic::transport::Error,
    },
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid TLS settings for the config server: {}", Chain(.0))]
    Tls(tonic::transport::Error),
}

/// The config server's address with its TLS settings; nothing is connected
/// yet.
pub fn endpoint(url: &str, tls: Option<&ClientTls>) -> Result<Endpoint, ChannelError> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|error| ChannelError::Url {
            url: url.to_string(),
            error,
        })?
        .connect_timeout(CONNECT_TIMEOUT);
    match tls {
        Some(tls) => endpoint
            .tls_config(tls_config(tls)?)
            .map_err(ChannelError::Tls),
        None => Ok(endpoint),
    }
}

fn tls_config(tls: &ClientTls) -> Result<ClientTlsConfig, ChannelError> {
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(&tls.ca)?));
    if let Some((cert, key)) = &tls.identity {
        config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    Ok(config)
}

fn read(path: &PathBuf) -> Result<Vec<u8>, ChannelError> {
    std::fs::read(path).map_err(|error| ChannelError::Read {
        path: path.clone(),
        error,
    })
}
