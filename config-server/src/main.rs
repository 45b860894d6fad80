//! `config-server`: serves validated configuration snapshots to injectors,
//! and shows which replica serves which.

use std::process::ExitCode;

use clap::Parser;
use config_server::cli::Cli;
use config_server::command;
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
        command::run(cli.command).await?;
        Ok(())
    })
}
