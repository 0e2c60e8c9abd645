//! `hgs tcglog ...` verbs.

use std::process::ExitCode;

use clap::Subcommand;

/// `hgs tcglog` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Placeholder until the tcglog verbs land.
    Version,
}

/// Runs one `hgs tcglog` subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Version => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
