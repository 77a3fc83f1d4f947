//! The `evo-voice` binary: parse the command line, run it, map the outcome
//! to an exit code (0 success, 1 runtime failure, 2 bad usage from clap).

mod admin;
mod allocator;
mod backup;
mod bench;
mod cli;
mod demo;
mod runtime;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, LogFormat};

/// jemalloc is the allocator by default, for memory (issue 12: under 4 KiB
/// resident per active session). glibc's malloc kept about 3.4 KB per
/// session of freed memory in its per-thread arenas (one per SQLite
/// connection thread), and never gave it back; jemalloc, answering
/// `malloc` for SQLite too and returning freed pages at once (`allocator`),
/// measured 3.8 KB per session against glibc's 4.9 KB (6.2 KB before the
/// pool was sized to the cores), 21 KB per subscriber against 25 KB, with
/// read CPU per request no higher (20.3–21.3 µs against 22.6–24.3 µs, one
/// run after the other), for 2–3 MiB more when empty (docs/benchmarks.md,
/// "Allocator and memory per session").
/// `--no-default-features` builds with glibc's; mimalloc
/// (`--no-default-features --features mimalloc`) read faster in session 4 but holds
/// 34 MiB more when empty and 35–40 KB per subscriber.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", feature = "mimalloc"))]
compile_error!(
    "choose one allocator: build mimalloc with `--no-default-features --features mimalloc`"
);

fn main() -> ExitCode {
    allocator::configure();
    let cli = Cli::parse();
    init_tracing(
        matches!(cli.command, Command::Serve(_) | Command::Demo(_)),
        cli.log_format,
    );
    // The servers' workers each on a CPU of their own (`runtime`); the
    // bench's static-bytes server is measured against `serve`, so it runs
    // on the same runtime.
    let serves = match &cli.command {
        Command::Serve(_) | Command::Demo(_) => true,
        Command::Bench(args) => args.static_server.is_some(),
        _ => false,
    };
    let runtime = match runtime::build(serves) {
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
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::Migrate(args) => admin::migrate(args).await,
    }
}

/// Logs go to stderr (stdout is for ids that scripts read). Servers log at
/// info by default, admin commands only warnings; `RUST_LOG` overrides.
/// Text is coloured only when stderr is a terminal; JSON is one object a
/// line with the request span (and its `request_id`) in each.
fn init_tracing(server: bool, format: LogFormat) {
    let default = if server {
        "info,evo_server=info,tower_http=warn,sqlx=warn"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}
