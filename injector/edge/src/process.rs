//! Process start-up and shutdown, the same in both binaries.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Installs ring as the one rustls crypto provider of the process, before
/// any TLS client or server is built (aws-lc is kept out of the build).
pub fn install_crypto_provider() -> Result<(), ProcessError> {
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| ProcessError::CryptoProvider)
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("a rustls crypto provider was already installed")]
    CryptoProvider,
    #[error("cannot install the {signal} handler: {error}")]
    Signal {
        signal: &'static str,
        error: std::io::Error,
    },
}

/// SIGTERM (kubelet stopping the pod) and SIGINT, caught from start-up on
/// so neither kills the process before it has drained.
#[derive(Debug)]
pub struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    /// Must be called within a Tokio runtime.
    pub fn install() -> Result<Self, ProcessError> {
        let install = |kind, name| {
            signal(kind).map_err(|error| ProcessError::Signal {
                signal: name,
                error,
            })
        };
        Ok(ShutdownSignals {
            term: install(SignalKind::terminate(), "SIGTERM")?,
            int: install(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    /// The name of the first signal received.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
