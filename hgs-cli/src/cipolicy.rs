//! `hgs cipolicy ...` verbs: show.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Subcommand;
use hgs_cipolicy::CiPolicy;

use crate::util::read_file;

/// `hgs cipolicy` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The parsed policy: IDs, version, rule options (audit vs enforced), counts, measured digest.
    Show {
        /// The binary policy (.p7b / .cip / .bin), signed or unsigned.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `hgs cipolicy` subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Show { file, json } => {
            let bytes = read_file(&file)?;
            let p = CiPolicy::parse(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let s = p.summary();
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("{}", file.display());
            println!("  format version   {}", s.format_version);
            println!("  signed           {}", s.signed);
            println!(
                "  name             {}",
                s.name.as_deref().unwrap_or("(none)")
            );
            println!("  policy id        {}", s.policy_id);
            println!("  base policy id   {}", s.base_policy_id);
            println!("  policy type id   {}", s.policy_type_id);
            println!("  platform id      {}", s.platform_id);
            println!("  version          {}", s.version);
            println!("  enforcement      {}", s.enforcement);
            println!("  options          {}", s.options.join(", "));
            println!(
                "  counts           {} EKUs, {} file rules, {} signers, {} scenarios ({})",
                s.counts.ekus,
                s.counts.file_rules,
                s.counts.signers,
                s.counts.scenarios,
                s.scenarios.join(", ")
            );
            println!(
                "  measured digest  sha256:{} (inferred: SHA-256 of the unsigned policy)",
                s.measured_digest.sha256
            );
            if s.audit_mode {
                println!("  NOTE: audit mode — this policy logs violations and blocks nothing.");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
