//! `injector`: the admission webhook, `kube-inject` and `check`.

use std::process::ExitCode;

use clap::Parser;
use injector::cli::{Cli, Command};
use injector::{offline, serve};

/// mimalloc instead of glibc malloc: an admission allocates and frees
/// thousands of small JSON nodes, and glibc spent a quarter of the webhook's
/// CPU in malloc/free under load (tests/load/run.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    edge::process::install_crypto_provider()?;
    let cli = Cli::parse();
    match cli.command {
        Command::KubeInject(args) => offline::kube_inject(&args)?,
        Command::Check(args) => offline::check(&args)?,
        Command::Serve(args) => serve::run_blocking(*args, &cli.log)?,
    }
    Ok(())
}
