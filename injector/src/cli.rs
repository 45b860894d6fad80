//! The command line of `injector`: every flag, typed. `main` parses it and
//! hands each command's arguments to the module that runs it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use edge::channel::ClientTls;
use edge::duration::parse_duration;
use edge::native::Mode;
use edge::telemetry::LogArgs;
use proto::v1::Identity;

use crate::snapshot::client::Client;
use crate::webhook::Limits;
use injector_engine::admission::ResponseCache;

#[derive(Parser)]
#[command(version, about = "Kubernetes sidecar injector")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Inject sidecars into the pods of a manifest, offline, like
    /// `istioctl kube-inject`.
    KubeInject(KubeInjectArgs),
    /// Explain, for each pod of a manifest, whether and why it would be
    /// injected.
    Check(CheckArgs),
    /// Serve the admission webhook (`/inject`, HTTPS) and the admin port
    /// (`/healthz`, `/readyz`, `/metrics`).
    Serve(Box<ServeArgs>),
}

/// Where the configuration comes from; the embedded default when no flag
/// is given.
#[derive(Args)]
pub struct ConfigArgs {
    /// The `config` key: a file holding it raw, or the istio-sidecar-injector ConfigMap.
    #[arg(long, value_name = "FILE")]
    pub inject_config: Option<PathBuf>,
    /// The `mesh` key: a file holding it raw, or the istio ConfigMap.
    #[arg(long, value_name = "FILE")]
    pub mesh_config: Option<PathBuf>,
    /// The `values` key: a file holding it raw, or the istio-sidecar-injector ConfigMap.
    #[arg(long, value_name = "FILE")]
    pub values: Option<PathBuf>,
    /// Inject the proxy as a native sidecar (`true`) or a classic one
    /// (`false`), unless a pod's `sidecar.istio.io/nativeSidecar` says
    /// otherwise. Offline there is no cluster to ask, so `auto` gives the
    /// classic sidecar, which every API server accepts.
    #[arg(long, value_enum, default_value_t = Mode::Auto, value_name = "MODE")]
    pub native_sidecars: Mode,
}

#[derive(Args)]
pub struct KubeInjectArgs {
    /// The manifest to inject (`-` for standard input).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: String,
    /// Where to write the result (standard output by default).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Args)]
pub struct CheckArgs {
    /// The manifest whose pods to explain (`-` for standard input).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: String,
    /// The namespace's labels (`k=v,k=v`), to include the namespace layer
    /// the webhook applies.
    #[arg(long, value_name = "LABELS")]
    pub namespace_labels: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// The flags of `injector serve` (DESIGN §4).
#[derive(Args, Clone, Debug)]
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
    /// Without a config server: native sidecars (`true`) or classic ones
    /// (`false`). The injector never asks the cluster, so `auto` is
    /// classic; with `--config-server` the server decides.
    #[arg(long, value_enum, default_value_t = Mode::Auto, value_name = "MODE",
          conflicts_with = "config_server")]
    pub native_sidecars: Mode,
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
    /// Threads running the engine for pods not answered from the response
    /// cache; the default is one per CPU the process may use (its CPU limit).
    #[arg(long, default_value_t = Limits::default().engine_threads, value_name = "N",
          value_parser = at_least_one)]
    pub engine_threads: usize,
    /// Bytes of answers each snapshot keeps, keyed by the exact pod text
    /// (replicas of a workload are byte-identical); 0 turns the cache off.
    #[arg(long, default_value_t = ResponseCache::DEFAULT_BYTES, value_name = "BYTES")]
    pub response_cache_bytes: u64,
    /// Open webhook connections at most; one more is closed at once.
    #[arg(long, default_value_t = crate::connections::DEFAULT_MAX_CONNECTIONS, value_name = "N",
          value_parser = at_least_one)]
    pub max_connections: usize,
    /// Longest wait for in-flight requests after SIGTERM before exiting.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_timeout: Duration,
    /// Serve a fixed `allowed: true` on /bench/trivial behind the same
    /// layers, for the load bench.
    #[arg(long, hide = true)]
    pub bench_trivial_route: bool,
}

impl ServeArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            timeout: self.request_timeout,
            max_concurrent: self.max_concurrent_requests,
            max_queued: self.max_queued_requests,
            engine_threads: self.engine_threads,
        }
    }
}

/// `--config-server` and what goes with it.
#[derive(Args, Clone, Debug, Default)]
pub struct ClientArgs {
    /// gRPC URL of the config server (`http://` or `https://`). Without it
    /// the configuration comes from `--config-dir` or the embedded default.
    #[arg(long, value_name = "URL", conflicts_with = "config_dir")]
    pub config_server: Option<String>,
    /// CA certificate (PEM) of the config server's certificate; required
    /// for an `https://` URL.
    #[arg(long, value_name = "FILE", requires = "config_server")]
    pub config_server_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a config server that requires mutual TLS.
    #[arg(long, value_name = "FILE", requires_all = ["config_server_ca", "config_server_key"])]
    pub config_server_cert: Option<PathBuf>,
    /// Key (PEM) of `--config-server-cert`.
    #[arg(long, value_name = "FILE", requires = "config_server_cert")]
    pub config_server_key: Option<PathBuf>,
    /// The name to verify in the config server's certificate, when it is
    /// not the URL's host.
    #[arg(long, value_name = "NAME", requires = "config_server_ca")]
    pub config_server_name: Option<String>,
    /// This replica's name in the config server's status (default: the
    /// host name, which in a pod is the pod's name).
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    pub pod_name: Option<String>,
}

impl ClientArgs {
    /// The client the flags describe; `None` without `--config-server`.
    pub fn client(&self) -> Result<Option<Client>, edge::channel::ChannelError> {
        let Some(url) = &self.config_server else {
            return Ok(None);
        };
        let tls = self.config_server_ca.clone().map(|ca| ClientTls {
            ca,
            identity: self
                .config_server_cert
                .clone()
                .zip(self.config_server_key.clone()),
            domain: self.config_server_name.clone(),
        });
        let pod_name = self
            .pod_name
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "injector".to_string());
        let identity = Identity {
            pod_name,
            binary_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        Client::new(url, identity, tls.as_ref()).map(Some)
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err() && at_least_one("x").is_err());
    }
}
