//! The command line of `config-server`: every flag, typed. `main` parses it
//! and hands each command's arguments to the module that runs it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use edge::channel::ClientTls;
use edge::duration::parse_duration;
use edge::native::Mode;
use edge::telemetry::LogArgs;

#[derive(Parser)]
#[command(
    version,
    about = "Streams validated injector configuration to the injectors"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Watch the configuration and serve snapshots over gRPC.
    Serve(Box<ServeArgs>),
    /// Print the current snapshot and the state of every connected injector.
    Status(StatusArgs),
    /// List the pods whose sidecar came from another configuration than the
    /// current one, grouped by the workload to restart.
    Drift(DriftArgs),
}

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

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// `kube` (the istio-sidecar-injector and istio ConfigMaps) or
    /// `dir:PATH` (a directory of key files or ConfigMap manifests).
    #[arg(long, value_name = "SOURCE")]
    pub source: SourceSpec,
    #[arg(long, default_value = "0.0.0.0:15010")]
    pub listen: SocketAddr,
    /// Plain-HTTP address of `/healthz` and `/metrics`.
    #[arg(long, default_value = "0.0.0.0:15014")]
    pub admin_listen: SocketAddr,
    /// The ConfigMaps' namespace (kube source).
    #[arg(long, default_value = "istio-system", env = "POD_NAMESPACE")]
    pub namespace: String,
    /// This pod's name, reported on Events.
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Serve TLS with this certificate (PEM)...
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// ...and this key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS).
    #[arg(long, requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Stamp snapshots as needing at least this injector version; older
    /// injectors refuse them (NACK) and keep their current configuration.
    #[arg(long, value_name = "VERSION")]
    pub min_injector_version: Option<String>,
    /// Keep the webhook's CA and serving certificate in the TLS Secret and
    /// its caBundle current, rotating before expiry (kube source). Turn off
    /// when cert-manager does it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub self_managed_certs: bool,
    /// The Secret holding the injector's certificate (tls.crt, tls.key).
    #[arg(long, default_value = "injector-tls")]
    pub tls_secret: String,
    /// The MutatingWebhookConfiguration whose caBundle to keep.
    #[arg(long, default_value = "sidecar-injector")]
    pub webhook_config: String,
    /// The injector Service the certificate is for.
    #[arg(long, default_value = "sidecar-injector")]
    pub webhook_service: String,
    /// Inject the proxy as a native sidecar (`true`), a classic one
    /// (`false`), or (`auto`) native only when the API server and every
    /// node's kubelet are 1.33 or later, read from the cluster (kube
    /// source; a directory source has no cluster, so `auto` is classic).
    #[arg(long, value_enum, default_value_t = Mode::Auto, env = "NATIVE_SIDECARS", value_name = "MODE")]
    pub native_sidecars: Mode,
    /// How often `auto` reads the API server's version (Nodes are watched).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub version_poll_interval: Duration,
}

/// How to reach a config server: its URL and the TLS files.
#[derive(Args, Clone, Debug)]
pub struct ServerArgs {
    #[arg(long, default_value = "http://127.0.0.1:15010")]
    pub server: String,
    /// The CA that signs the server's certificate (for an https URL).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM), for a server requiring mutual TLS...
    #[arg(long, requires = "key", requires = "ca")]
    pub cert: Option<PathBuf>,
    /// ...and its key.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
}

impl ServerArgs {
    pub fn tls(&self) -> Option<ClientTls> {
        self.ca.clone().map(|ca| ClientTls {
            ca,
            identity: self.cert.clone().zip(self.key.clone()),
            domain: None,
        })
    }
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Args)]
pub struct DriftArgs {
    /// The config server to ask for the current snapshot's hash.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Compare with this template hash instead of asking a server.
    #[arg(long, value_name = "sha256:HEX", conflicts_with = "server")]
    pub hash: Option<String>,
    /// Only this namespace (all namespaces by default).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
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
