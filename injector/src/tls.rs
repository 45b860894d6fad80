//! The serving certificate: loaded from PEM files and reloaded when they
//! change, without a restart.
//!
//! kubelet and cert-manager rotate a mounted Secret by swapping a symlink
//! (`..data`) or rewriting the files, so the reloader neither trusts inotify
//! nor mtimes: it re-reads both files on an interval and compares their
//! bytes with what it loaded last. A pair that does not parse or whose key
//! does not match the certificate (say, the certificate was rewritten and the
//! key not yet) is logged once and skipped; the old pair keeps serving and
//! the next tick tries again. New handshakes get the new pair through
//! [`CertResolver`]; established connections keep theirs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate/key pair could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: no PEM CERTIFICATE block")]
    NoCertificate { path: PathBuf },
    #[error("{path}: not a PEM certificate chain: {message}")]
    Certificate { path: PathBuf, message: String },
    #[error("{path}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {message}")]
    Key { path: PathBuf, message: String },
    #[error("{key} does not belong to the certificate in {cert}: {message}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The PEM files of the serving certificate chain and its key.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The files' bytes, to tell a change from a re-read of the same content.
#[derive(Clone, PartialEq, Eq)]
struct PemPair {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl CertFiles {
    fn read(&self) -> Result<PemPair, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|error| TlsError::Read {
                path: path.to_path_buf(),
                error,
            })
        };
        Ok(PemPair {
            cert: read(&self.cert)?,
            key: read(&self.key)?,
        })
    }

    fn parse(&self, pem: &PemPair, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
        let chain = CertificateDer::pem_slice_iter(&pem.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate {
                path: self.cert.clone(),
                message: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: self.cert.clone(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&pem.key).map_err(|e| TlsError::Key {
            path: self.key.clone(),
            message: e.to_string(),
        })?;
        CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Mismatch {
            cert: self.cert.clone(),
            key: self.key.clone(),
            message: e.to_string(),
        })
    }
}

/// Hands every new handshake the current pair; swapped by [`CertReloader`].
#[derive(Debug)]
pub struct CertResolver {
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    /// The pair new handshakes are served with.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Loads the pair once, then keeps [`CertResolver`] current.
pub struct CertReloader {
    files: CertFiles,
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
    loaded: PemPair,
    /// The last content that failed to parse, not parsed again until it
    /// changes.
    rejected: Option<PemPair>,
    /// The last failure logged, so a lasting one is logged once, not on
    /// every tick.
    last_error: Option<String>,
}

impl CertReloader {
    /// Loads the initial pair: the server does not start without one.
    pub fn load(files: CertFiles, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let pem = files.read()?;
        let key = files.parse(&pem, &provider)?;
        Ok(CertReloader {
            files,
            provider,
            resolver: Arc::new(CertResolver {
                current: ArcSwap::from_pointee(key),
            }),
            loaded: pem,
            rejected: None,
            last_error: None,
        })
    }

    pub fn resolver(&self) -> Arc<CertResolver> {
        self.resolver.clone()
    }

    /// Re-reads the files and swaps in the pair if it changed and is valid.
    /// Returns whether a new pair now serves.
    pub fn reload(&mut self) -> bool {
        let pem = match self.files.read() {
            Ok(pem) => pem,
            Err(e) => {
                self.report(&e);
                return false;
            }
        };
        if pem == self.loaded {
            self.last_error = None;
            return false;
        }
        if self.rejected.as_ref() == Some(&pem) {
            return false;
        }
        match self.files.parse(&pem, &self.provider) {
            Ok(key) => {
                self.resolver.current.store(Arc::new(key));
                self.loaded = pem;
                self.rejected = None;
                self.last_error = None;
                tracing::info!(
                    cert = %self.files.cert.display(),
                    "serving certificate reloaded"
                );
                true
            }
            Err(e) => {
                self.report(&e);
                self.rejected = Some(pem);
                false
            }
        }
    }

    /// Logs a failed reload, once per distinct error rather than per tick.
    fn report(&mut self, error: &TlsError) {
        let message = error.to_string();
        if self.last_error.as_deref() != Some(message.as_str()) {
            tracing::warn!(%error, "serving certificate not reloaded; the previous one stays");
            self.last_error = Some(message);
        }
    }

    /// Reloads every `interval` until the task is dropped.
    pub async fn run(mut self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            self.reload();
        }
    }
}

/// The rustls configuration of the webhook: TLS 1.2 and 1.3 only, ALPN
/// `h2` then `http/1.1` (kube-apiserver speaks both), the certificate from
/// `resolver`.
pub fn server_config(
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    struct Pair {
        cert: String,
        key: String,
    }

    fn generate(name: &str) -> Pair {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn write(dir: &Path, pair: &Pair) -> CertFiles {
        std::fs::write(dir.join("tls.crt"), &pair.cert).unwrap();
        std::fs::write(dir.join("tls.key"), &pair.key).unwrap();
        CertFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        }
    }

    fn served(reloader: &CertReloader) -> Vec<u8> {
        reloader.resolver().current().cert[0].to_vec()
    }

    #[test]
    fn reload_swaps_a_valid_pair_and_keeps_the_old_one_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate("one.test");
        let files = write(dir.path(), &first);
        let mut reloader = CertReloader::load(files.clone(), provider()).unwrap();
        let first_der = served(&reloader);
        assert!(!reloader.reload(), "unchanged files are not a reload");

        // The certificate changes before the key: a mismatch, kept out.
        let second = generate("two.test");
        std::fs::write(&files.cert, &second.cert).unwrap();
        assert!(!reloader.reload());
        assert_eq!(served(&reloader), first_der);

        // Then the key follows: the new pair serves.
        std::fs::write(&files.key, &second.key).unwrap();
        assert!(reloader.reload());
        let second_der = served(&reloader);
        assert_ne!(second_der, first_der);

        // Garbage and a missing file keep the last good pair.
        std::fs::write(&files.cert, "not pem").unwrap();
        assert!(!reloader.reload());
        std::fs::remove_file(&files.key).unwrap();
        assert!(!reloader.reload());
        assert_eq!(served(&reloader), second_der);

        // A valid pair again is picked up after failures.
        write(dir.path(), &first);
        assert!(reloader.reload());
        assert_eq!(served(&reloader), first_der);
    }

    #[test]
    fn initial_load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let pair = generate("x.test");
        let files = write(dir.path(), &pair);
        std::fs::write(&files.key, "junk").unwrap();
        let err = CertReloader::load(files.clone(), provider()).err().unwrap();
        assert!(err.to_string().contains("tls.key"), "{err}");

        std::fs::write(&files.cert, "").unwrap();
        let err = CertReloader::load(files.clone(), provider()).err().unwrap();
        assert!(err.to_string().contains("no PEM CERTIFICATE"), "{err}");

        let other = generate("y.test");
        std::fs::write(&files.cert, &pair.cert).unwrap();
        std::fs::write(&files.key, &other.key).unwrap();
        let err = CertReloader::load(files, provider()).err().unwrap();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    #[test]
    fn server_config_offers_h2_and_http11() {
        let dir = tempfile::tempdir().unwrap();
        let files = write(dir.path(), &generate("x.test"));
        let reloader = CertReloader::load(files, provider()).unwrap();
        let config = server_config(provider(), reloader.resolver()).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
