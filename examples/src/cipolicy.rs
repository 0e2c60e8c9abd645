//! `hgs cipolicy ...` verbs.

use std::process::ExitCode;

use clap::Subcommand;

/// `hgs cipolicy` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Placeholder until the cipolicy verbs land.
    Version,
}

/// Runs one `hgs cipolicy` subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Version => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
