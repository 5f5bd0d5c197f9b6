//! `memory`: the command-line face of self-learning-memory.
//!
//! Every command opens the database, does one thing through `SelfLearningMemory`, prints the
//! result on stdout (human text or one JSON document) and exits with a code a script can act
//! on: 0 success, 1 failure, 2 invalid input, 3 not found, 4 conflict with the current state.
//! Logs go to stderr (`MEMORY_LOG=debug` for more).

mod cli;
mod commands;
mod config;
mod demo_data;
mod exit;
mod output;
mod parse;
mod pulled_model;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging();
    // The servers answer many clients at once; every other command is one request.
    let mut builder = match cli.command {
        cli::Command::Mcp | cli::Command::Serve(_) | cli::Command::Ui(_) => {
            tokio::runtime::Builder::new_multi_thread()
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", exit::message(&err));
            ExitCode::from(exit::code_for(&err))
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    // libSQL's replication warns of every slow sync (a few milliseconds over its average);
    // an outage is reported once by the store itself.
    let filter = EnvFilter::try_from_env("MEMORY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,libsql::replication=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal; none in a file, a pipe or a service's journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
