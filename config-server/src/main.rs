//! `config-server`: serves validated configuration snapshots to injectors,
//! and shows which replica serves which.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use config_server::certs::CertOptions;
use config_server::{ServeOptions, ServerTls, SourceSpec};
use injector::snapshot::client::ClientTls;
use injector::telemetry::{LogArgs, Telemetry};

#[derive(Parser)]
#[command(
    version,
    about = "Streams validated injector configuration to the injectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the configuration and serve snapshots over gRPC.
    Serve(Box<ServeArgs>),
    /// Print the current snapshot and the state of every connected injector.
    Status(StatusArgs),
    /// List the pods whose sidecar came from another configuration than the
    /// current one, grouped by the workload to restart.
    Drift(DriftArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// `kube` (the istio-sidecar-injector and istio ConfigMaps) or
    /// `dir:PATH` (a directory of key files or ConfigMap manifests).
    #[arg(long, value_name = "SOURCE")]
    source: SourceSpec,
    #[arg(long, default_value = "0.0.0.0:15010")]
    listen: SocketAddr,
    /// Plain-HTTP address of `/healthz` and `/metrics`.
    #[arg(long, default_value = "0.0.0.0:15014")]
    admin_listen: SocketAddr,
    /// The ConfigMaps' namespace (kube source).
    #[arg(long, default_value = "istio-system", env = "POD_NAMESPACE")]
    namespace: String,
    /// This pod's name, reported on Events.
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
    /// Serve TLS with this certificate (PEM)...
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// ...and this key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS).
    #[arg(long, requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Stamp snapshots as needing at least this injector version; older
    /// injectors refuse them (NACK) and keep their current configuration.
    #[arg(long, value_name = "VERSION")]
    min_injector_version: Option<String>,
    /// Keep the webhook's CA and serving certificate in the TLS Secret and
    /// its caBundle current, rotating before expiry (kube source). Turn off
    /// when cert-manager does it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    self_managed_certs: bool,
    /// The Secret holding the injector's certificate (tls.crt, tls.key).
    #[arg(long, default_value = "injector-tls")]
    tls_secret: String,
    /// The MutatingWebhookConfiguration whose caBundle to keep.
    #[arg(long, default_value = "sidecar-injector")]
    webhook_config: String,
    /// The injector Service the certificate is for.
    #[arg(long, default_value = "sidecar-injector")]
    webhook_service: String,
}

#[derive(Args)]
struct DriftArgs {
    /// The config server to ask for the current snapshot's hash.
    #[arg(
        long,
        default_value = "http://127.0.0.1:15010",
        conflicts_with = "hash"
    )]
    server: String,
    /// Compare with this template hash instead of asking a server.
    #[arg(long, value_name = "sha256:HEX")]
    hash: Option<String>,
    /// Only this namespace (all namespaces by default).
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// The CA that signs the server's certificate (for an https URL).
    #[arg(long)]
    ca: Option<PathBuf>,
}

#[derive(Args)]
struct StatusArgs {
    #[arg(long, default_value = "http://127.0.0.1:15010")]
    server: String,
    /// The CA that signs the server's certificate (for an https URL).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// A client certificate (PEM), for a server requiring mutual TLS...
    #[arg(long, requires = "key", requires = "ca")]
    cert: Option<PathBuf>,
    /// ...and its key.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let tls = args
        .tls_cert
        .zip(args.tls_key)
        .map(|(cert, key)| ServerTls {
            cert,
            key,
            client_ca: args.client_ca,
        });
    let certs = args.self_managed_certs.then(|| CertOptions {
        namespace: args.namespace.clone(),
        secret: args.tls_secret,
        webhook: args.webhook_config,
        service: args.webhook_service,
        ca_lifetime: 10 * 365 * DAY,
        cert_lifetime: 90 * DAY,
        renew_fraction: 1.0 / 3.0,
        interval: Duration::from_secs(60),
    });
    let options = ServeOptions {
        source: args.source,
        listen: args.listen,
        admin_listen: args.admin_listen,
        namespace: args.namespace,
        certs,
        pod_name: args.pod_name,
        tls,
        min_injector_version: args.min_injector_version,
    };
    config_server::serve(options, shutdown_signal()).await?;
    Ok(())
}

async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let tls = args.ca.map(|ca| ClientTls {
        ca,
        identity: args.cert.zip(args.key),
        domain: None,
    });
    let status = config_server::status::fetch(&args.server, tls.as_ref()).await?;
    print!("{}", config_server::status::render(&status));
    Ok(())
}

async fn drift(args: DriftArgs) -> anyhow::Result<()> {
    let current = match args.hash {
        Some(hash) => hash,
        None => {
            let tls = args.ca.map(|ca| ClientTls {
                ca,
                identity: None,
                domain: None,
            });
            let status = config_server::status::fetch(&args.server, tls.as_ref()).await?;
            status
                .current
                .map(|s| s.hash)
                .context("the config server holds no snapshot yet")?
        }
    };
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let pods = config_server::drift::list_pods(client, args.namespace.as_deref())
        .await
        .context("listing pods")?;
    print!(
        "{}",
        config_server::drift::render(&config_server::drift::assess(&pods, &current))
    );
    Ok(())
}

const DAY: Duration = Duration::from_secs(86_400);

/// SIGTERM (a pod stopping) or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = match Telemetry::init(&cli.log, "config-server") {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One crypto provider for every TLS client and server in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await.context("serve"),
        Command::Status(args) => status(args).await.context("status"),
        Command::Drift(args) => drift(args).await.context("drift"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
