//! `injector`: the admission webhook, `kube-inject` and `check`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use injector::server::ServeArgs;
use injector::telemetry::{LogArgs, Telemetry};
use injector::{Engine, RawConfig};

/// mimalloc instead of glibc malloc: an admission allocates and frees
/// thousands of small JSON nodes, and glibc spent a quarter of the webhook's
/// CPU in malloc/free under load (tests/load/run.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "Kubernetes sidecar injector")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Subcommand)]
enum Command {
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
struct ConfigArgs {
    /// The `config` key: a file holding it raw, or the istio-sidecar-injector ConfigMap.
    #[arg(long, value_name = "FILE")]
    inject_config: Option<PathBuf>,
    /// The `mesh` key: a file holding it raw, or the istio ConfigMap.
    #[arg(long, value_name = "FILE")]
    mesh_config: Option<PathBuf>,
    /// The `values` key: a file holding it raw, or the istio-sidecar-injector ConfigMap.
    #[arg(long, value_name = "FILE")]
    values: Option<PathBuf>,
}

impl ConfigArgs {
    fn engine(&self) -> anyhow::Result<Engine> {
        let raw = RawConfig::from_files(
            self.inject_config.as_deref(),
            self.values.as_deref(),
            self.mesh_config.as_deref(),
        )?;
        Ok(Engine::compile(raw.parse()?, 0)?)
    }
}

#[derive(Args)]
struct KubeInjectArgs {
    /// The manifest to inject (`-` for standard input).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    filename: String,
    /// Where to write the result (standard output by default).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Args)]
struct CheckArgs {
    /// The manifest whose pods to explain (`-` for standard input).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    filename: String,
    /// The namespace's labels (`k=v,k=v`), to include the namespace layer
    /// the webhook applies.
    #[arg(long, value_name = "LABELS")]
    namespace_labels: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

fn read_input(name: &str) -> anyhow::Result<String> {
    if name == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        Ok(s)
    } else {
        std::fs::read_to_string(name).with_context(|| format!("reading {name}"))
    }
}

fn parse_labels(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("namespace label {pair:?} is not key=value");
        };
        labels.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(labels)
}

fn kube_inject(args: &KubeInjectArgs) -> anyhow::Result<()> {
    let engine = args.config.engine()?;
    let input = read_input(&args.filename)?;
    let report = injector::kube_inject::kube_inject(&engine, &input)?;
    for line in &report.skipped {
        eprintln!("{line}");
    }
    match &args.output {
        Some(path) => std::fs::write(path, &report.output)
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout()
            .write_all(report.output.as_bytes())
            .context("writing standard output")?,
    }
    Ok(())
}

fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let engine = args.config.engine()?;
    let input = read_input(&args.filename)?;
    let labels = args
        .namespace_labels
        .as_deref()
        .map(parse_labels)
        .transpose()?;
    let report = injector::check::check(&engine, &input, labels.as_ref())?;
    print!("{report}");
    Ok(())
}

fn serve(args: ServeArgs, log: &LogArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The trace exporter's channel lives on the runtime; the guard flushes
    // the last spans on the way out.
    let _telemetry = {
        let _runtime = runtime.enter();
        Telemetry::init(log, "injector")?
    };
    runtime.block_on(injector::server::run(args))?;
    Ok(())
}

fn main() -> ExitCode {
    // One crypto provider in the process: ring (no aws-lc).
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        eprintln!("error: a rustls crypto provider was already installed");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::KubeInject(args) => kube_inject(&args),
        Command::Check(args) => check(&args),
        Command::Serve(args) => serve(*args, &cli.log),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
