//! `hgs`: the user-facing program over the no-I/O `hgs-*` crates.
//!
//! Every file read or written, and every TPM command, happens here; the libraries only see bytes.
//! Each verb group lives in its own module: `tcglog.rs`, `ekcert.rs`, `cipolicy.rs`, ...

mod admin;
mod agent_keys;
mod cipolicy;
mod demo;
mod ekcert;
mod guardian;
mod host;
mod keyprotector;
mod serve;
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
    /// The main job in one command: real Windows evidence verified end to end, then the same on a
    /// software TPM (credential activation, fresh quote), with tampered runs refused.
    Demo(demo::DemoArgs),
    /// Parse, replay and decode TCG event logs.
    #[command(subcommand)]
    Tcglog(tcglog::Cmd),
    /// Inspect binary code integrity (WDAC / SiPolicy) policies.
    #[command(subcommand)]
    Cipolicy(cipolicy::Cmd),
    /// Validate TPM endorsement-key certificates against installed TPM vendor roots.
    #[command(subcommand)]
    Ekcert(ekcert::Cmd),
    /// Raw access to the admin store (`--store DIR`, default ./hgs-store).
    #[command(subcommand)]
    Store(hgs_cli::store::verbs::Cmd),
    /// Host side: write this host's platform identifier (EKpub + EK certificates) from its TPM.
    PlatformIdentifier(host::PlatformIdentifierArgs),
    /// Host side: capture (and validate) this host's TCG log as a reference baseline.
    #[command(subcommand)]
    Baseline(host::BaselineCmd),
    /// Host side: the attestation agent (AK, credential activation, quote, evidence).
    #[command(subcommand)]
    Agent(host::AgentCmd),
    /// Software TPM helpers: start a manufactured swtpm, replay a log into PCRs.
    #[command(subcommand)]
    Swtpm(host::SwtpmCmd),
    /// Admin: register, list and remove TPM hosts (Add-HgsAttestationTpmHost).
    #[command(subcommand)]
    Host(admin::HostCmd),
    /// Admin: register TPM baselines (Add-HgsAttestationTpmPolicy).
    #[command(subcommand)]
    TpmPolicy(admin::TpmPolicyCmd),
    /// Admin: register CI policies (Add-HgsAttestationCIPolicy).
    #[command(subcommand)]
    CiPolicy(admin::CiPolicyCmd),
    /// Admin: install TPM vendor root and intermediate certificates.
    #[command(subcommand)]
    Roots(admin::RootsCmd),
    /// Admin: the Hgs_* attestation policies (list, enable, disable) and registered artifacts.
    #[command(subcommand)]
    Policy(admin::PolicyCmd),
    /// Admin: copy every registration from a store or server to another (moving a file store
    /// to `hgs serve`, and back).
    Copy(admin::CopyArgs),
    /// Verifier: make a challenge for a registered host and its AK.
    Challenge(admin::ChallengeArgs),
    /// Verifier: judge a host's evidence; prints the verdict, exit 0 only when Passed.
    Attest(admin::AttestArgs),
    /// Service: run the attestation server (HTTPS API, SQLite or PostgreSQL; see README).
    Serve(serve::ServeArgs),
    /// Key protection: make a guardian key pair (New-HgsGuardian) or fetch a service
    /// guardian's certificate (Export-HgsGuardian).
    #[command(subcommand)]
    Guardian(guardian::Cmd),
    /// Owner: key protectors, offline (New-HgsKeyProtector, Grant-/Revoke-HgsKeyProtectorAccess).
    #[command(subcommand)]
    KeyProtector(keyprotector::Cmd),
}

/// mimalloc: 1.25–1.4x the attestations/s of glibc malloc under `hgs serve`
/// (`cargo bench -p hgs-server --bench load`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Tcglog(cmd) => tcglog::run(cmd),
        Command::Cipolicy(cmd) => cipolicy::run(cmd),
        Command::Ekcert(cmd) => ekcert::run(cmd),
        Command::Store(cmd) => hgs_cli::store::verbs::run(cmd),
        Command::PlatformIdentifier(args) => host::run_platform_identifier(args),
        Command::Baseline(cmd) => host::run_baseline(cmd),
        Command::Agent(cmd) => host::run_agent(cmd),
        Command::Swtpm(cmd) => host::run_swtpm(cmd),
        Command::Host(cmd) => admin::run_host(cmd),
        Command::TpmPolicy(cmd) => admin::run_tpm_policy(cmd),
        Command::CiPolicy(cmd) => admin::run_ci_policy(cmd),
        Command::Roots(cmd) => admin::run_roots(cmd),
        Command::Policy(cmd) => admin::run_policy(cmd),
        Command::Copy(args) => admin::run_copy(args),
        Command::Challenge(args) => admin::run_challenge(args),
        Command::Attest(args) => admin::run_attest(args),
        Command::Serve(args) => serve::run(args),
        Command::Guardian(cmd) => guardian::run(cmd),
        Command::KeyProtector(cmd) => keyprotector::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hgs: {err:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap checks the whole command tree (duplicate argument names, bad defaults, ...).
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
