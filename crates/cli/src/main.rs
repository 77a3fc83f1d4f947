//! The `evo-voice` binary: parse the command line, run it, map the outcome
//! to an exit code (0 success, 1 runtime failure, 2 bad usage from clap).

mod admin;
mod bench;
mod cli;
mod demo;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Serve(_) | Command::Demo(_)));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("evo-voice: starting the async runtime failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("evo-voice: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => admin::serve(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Account { command } => admin::account(command).await,
        Command::Customer { command } => admin::customer(command).await,
        Command::User { command } => admin::user(command).await,
        Command::Number { command } => admin::number(command).await,
        Command::Apikey { command } => admin::apikey(command).await,
        Command::Bench(args) => bench::run(args).await,
    }
}

/// Logs go to stderr (stdout is for ids that scripts read). Servers log at
/// info by default, admin commands only warnings; `RUST_LOG` overrides.
fn init_tracing(server: bool) {
    let default = if server {
        "info,evo_server=info,tower_http=warn,sqlx=warn"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
