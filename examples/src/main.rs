//! `hgs`: the user-facing program over the no-I/O `hgs-*` crates.
//!
//! Every file read or written, and every TPM command, happens here; the libraries only see bytes.
//! Each verb group lives in its own module: `tcglog.rs`, `ekcert.rs`, `cipolicy.rs`, ...

mod cipolicy;
mod ekcert;
mod tcglog;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// HGS-style TPM attestation: TCG logs, EK certificates, CI policies, baselines and verdicts.
#[derive(Debug, Parser)]
#[command(name = "hgs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, replay and decode TCG event logs.
    #[command(subcommand)]
    Tcglog(tcglog::Cmd),
    /// Inspect and validate TPM endorsement-key certificates.
    #[command(subcommand)]
    Ekcert(ekcert::Cmd),
    /// Inspect binary code integrity (WDAC / SiPolicy) policies.
    #[command(subcommand)]
    Cipolicy(cipolicy::Cmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Tcglog(cmd) => tcglog::run(cmd),
        Command::Ekcert(cmd) => ekcert::run(cmd),
        Command::Cipolicy(cmd) => cipolicy::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hgs: {err:#}");
            ExitCode::from(2)
        }
    }
}
