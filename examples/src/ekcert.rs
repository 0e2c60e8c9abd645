//! `hgs ekcert ...` verbs.

use std::process::ExitCode;

use clap::Subcommand;

/// `hgs ekcert` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Placeholder until the ekcert verbs land.
    Version,
}

/// Runs one `hgs ekcert` subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Version => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
