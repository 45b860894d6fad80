//! `injector serve` on loopback, as a test fixture: a fresh CA, a serving
//! certificate for `localhost`/`127.0.0.1` in a kubelet-style Secret
//! directory, ports chosen by the kernel and read from the log.

use std::net::SocketAddr;
use std::time::Duration;

use crate::atomic_dir::AtomicDir;
use crate::cargo_bin::cargo_bin;
use crate::https::{Client, Protocol};
use crate::pki::{Ca, Leaf};
use crate::process::Process;

/// The name the serving certificate is issued for and clients check.
pub const SERVER_NAME: &str = "localhost";

pub struct Webhook {
    pub process: Process,
    /// The HTTPS address of `/inject`.
    pub addr: SocketAddr,
    /// The plain-HTTP address of `/healthz`, `/readyz`, `/metrics`.
    pub admin: SocketAddr,
    pub ca: Ca,
    /// The certificate being served at start.
    pub leaf: Leaf,
    /// The directory holding `tls.crt` and `tls.key`.
    pub certs: AtomicDir,
}

impl Webhook {
    /// Starts `injector serve` with `extra` flags after the listening and
    /// certificate ones, and waits until it listens.
    pub fn start(extra: &[&str]) -> Webhook {
        Self::start_with_env(extra, &[])
    }

    /// [`start`](Self::start) with `env` added to the process environment.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Webhook {
        let ca = Ca::new("injector e2e CA");
        let leaf = ca.issue(&[SERVER_NAME, "127.0.0.1"]);
        let certs = AtomicDir::new(&[("tls.crt", &leaf.cert_pem), ("tls.key", &leaf.key_pem)]);
        let cert = certs.file("tls.crt");
        let key = certs.file("tls.key");
        let mut args: Vec<&str> = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().expect("UTF-8 path"),
            "--tls-key",
            key.to_str().expect("UTF-8 path"),
        ];
        args.extend_from_slice(extra);
        let process = Process::spawn_with_env(&cargo_bin("injector", "injector"), &args, env);
        let addr = process.announced_addr("webhook listening");
        let admin = process.announced_addr("admin listening");
        Webhook {
            process,
            addr,
            admin,
            ca,
            leaf,
            certs,
        }
    }

    /// A client that trusts the fixture's CA and checks [`SERVER_NAME`].
    pub fn client(&self, protocol: Protocol) -> Client {
        Client::new(self.addr, SERVER_NAME, &self.ca.pem(), protocol)
    }

    /// Installs a new certificate and key, swapped in atomically as
    /// kubelet does.
    pub fn rotate(&mut self, cert_pem: &str, key_pem: &str) {
        self.certs
            .update(&[("tls.crt", cert_pem), ("tls.key", key_pem)]);
    }

    /// Whether `/readyz` turns 200 (a snapshot is held) within `within`.
    pub async fn ready_within(&self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            let reply = crate::https::plain_get(self.admin, "/readyz").await;
            if reply.is_ok_and(|reply| reply.status.is_success()) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for a log line containing all of `needles`.
    pub fn wait_for_log(&self, needles: &[&str]) -> Option<String> {
        self.process.wait_for_line(needles, Duration::from_secs(10))
    }
}
