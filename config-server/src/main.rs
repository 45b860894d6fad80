//! `config-server`: serves validated configuration snapshots to injectors,
//! and shows which replica serves which.

use std::process::ExitCode;

use clap::Parser;
use config_server::cli::{Cli, Command};
use config_server::{drift, serve, status};
use edge::process::ShutdownSignals;
use edge::telemetry::Telemetry;

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
    tokio::runtime::Runtime::new()?.block_on(async {
        let _telemetry = Telemetry::init(&cli.log, "config-server")?;
        match cli.command {
            Command::Serve(args) => {
                let mut signals = ShutdownSignals::install()?;
                let shutdown = async move {
                    signals.recv().await;
                };
                serve::serve(&args, shutdown).await?;
            }
            Command::Status(args) => {
                let server = &args.server;
                let status = status::fetch(&server.server, server.tls().as_ref()).await?;
                print!("{}", status::render(&status));
            }
            Command::Drift(args) => print!("{}", drift::run(&args).await?),
        }
        Ok(())
    })
}
