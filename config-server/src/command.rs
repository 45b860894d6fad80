//! Runs one `config-server` command inside the runtime `main` built.

use edge::process::{ProcessError, ShutdownSignals};

use crate::cli::Command;
use crate::drift::{self, DriftError};
use crate::serve::{self, ServeError};
use crate::status::{self, StatusError};

/// Why a command failed; each variant's message is complete on its own.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Drift(#[from] DriftError),
}

/// Runs `command`; `status` and `drift` print their report on standard
/// output, `serve` runs until SIGTERM or SIGINT.
pub async fn run(command: Command) -> Result<(), CommandError> {
    match command {
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
}
