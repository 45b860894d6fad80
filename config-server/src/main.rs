//! `config-server`: serves validated configuration snapshots to injectors,
//! and shows which replica serves which.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use config_server::{ServeOptions, ServerTls, SourceSpec};
use injector::snapshot::client::ClientTls;

#[derive(Parser)]
#[command(
    version,
    about = "Streams validated injector configuration to the injectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the configuration and serve snapshots over gRPC.
    Serve(ServeArgs),
    /// Print the current snapshot and the state of every connected injector.
    Status(StatusArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// `kube` (the istio-sidecar-injector and istio ConfigMaps) or
    /// `dir:PATH` (a directory of key files or ConfigMap manifests).
    #[arg(long, value_name = "SOURCE")]
    source: SourceSpec,
    #[arg(long, default_value = "0.0.0.0:15010")]
    listen: SocketAddr,
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
    let options = ServeOptions {
        source: args.source,
        listen: args.listen,
        namespace: args.namespace,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // One crypto provider for every TLS client and server in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await.context("serve"),
        Command::Status(args) => status(args).await.context("status"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
