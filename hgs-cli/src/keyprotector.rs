//! Owner tooling, offline: `hgs key-protector new|show|grant|revoke`.
//!
//! The HGS counterparts: `New-HgsKeyProtector -Owner -Guardian` (a fresh transport key wrapped
//! to the owner and to each guardian), `ConvertTo-HgsKeyProtector` (reading one),
//! `Grant-HgsKeyProtectorAccess` and `Revoke-HgsKeyProtectorAccess` (the owner opens the
//! protector with its private key and re-wraps it). Guardian key pairs, the owner's included,
//! come from `hgs guardian new` (`New-HgsGuardian`), a service's certificates from
//! `hgs guardian export` (`guardian.rs`). The work is `hgs-kps`'s (`KeyProtector`, `Guardian`,
//! `GuardianKey`); this module reads and writes files and prints. A transport key is written
//! mode 0600 from creation.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hgs_kps::{Guardian, GuardianFingerprint, GuardianKey, KeyProtector};

use crate::util::read_file;

/// The owner's key pair: what opens a protector to grant or revoke.
#[derive(Debug, Args)]
pub struct OwnerKeyArgs {
    /// The owner's private key (PKCS#8 PEM, from `hgs guardian new --key-out`); any guardian
    /// listed in the protector may stand in.
    #[arg(long)]
    pub owner_key: PathBuf,
    /// The owner's certificate (PEM) that goes with `--owner-key`.
    #[arg(long)]
    pub owner: PathBuf,
}

/// `hgs key-protector` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Make a key protector (New-HgsKeyProtector -Owner -Guardian): a new random transport key
    /// wrapped to the owner and to each guardian.
    New {
        /// A guardian certificate (PEM), e.g. a fabric's `GET /v1/guardians/{name}`; repeat for
        /// each.
        #[arg(long = "guardian", required = true)]
        guardians: Vec<PathBuf>,
        /// The owner's certificate (PEM); the owner can always open, grant and revoke.
        #[arg(long)]
        owner: PathBuf,
        /// Where to write the key protector document.
        #[arg(long)]
        out: PathBuf,
        /// Also write the 32-octet transport key, raw (created mode 0600): the key to encrypt
        /// the protected data under. The owner can recover it from the protector.
        #[arg(long)]
        transport_key_out: Option<PathBuf>,
    },
    /// Show a key protector: its id, owner and guardians (by fingerprint; by subject too for
    /// those whose certificate is given).
    Show {
        /// The key protector document.
        key_protector: PathBuf,
        /// Certificates (PEM) to name guardians by; repeatable.
        #[arg(long = "certificate")]
        certificates: Vec<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Wrap the transport key to another guardian (Grant-HgsKeyProtectorAccess).
    Grant {
        /// The key protector document (rewritten in place unless --out).
        key_protector: PathBuf,
        /// The holder's key pair.
        #[command(flatten)]
        owner: OwnerKeyArgs,
        /// The new guardian's certificate (PEM).
        #[arg(long)]
        guardian: PathBuf,
        /// Write the result here instead of over KEY_PROTECTOR.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Remove a guardian's wrapping (Revoke-HgsKeyProtectorAccess); never the owner's. Not
    /// retroactive: a revoked guardian may have kept the key.
    Revoke {
        /// The key protector document (rewritten in place unless --out).
        key_protector: PathBuf,
        /// The holder's key pair.
        #[command(flatten)]
        owner: OwnerKeyArgs,
        /// The guardian to remove, by certificate fingerprint (64 hex digits, from `show`).
        #[arg(long)]
        guardian_fingerprint: String,
        /// Write the result here instead of over KEY_PROTECTOR.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    String::from_utf8(read_file(path)?).with_context(|| format!("{}: not text", path.display()))
}

fn guardian(path: &Path) -> anyhow::Result<Guardian> {
    Guardian::from_pem(&read_text(path)?)
        .with_context(|| format!("{}: not a guardian certificate", path.display()))
}

fn protector(path: &Path) -> anyhow::Result<KeyProtector> {
    KeyProtector::parse(&read_file(path)?)
        .with_context(|| format!("{}: not a key protector", path.display()))
}

fn owner_key(args: &OwnerKeyArgs) -> anyhow::Result<GuardianKey> {
    let key = zeroize::Zeroizing::new(read_text(&args.owner_key)?);
    GuardianKey::from_pem(&key, &read_text(&args.owner)?).with_context(|| {
        format!(
            "{} and {}: not a guardian key pair",
            args.owner_key.display(),
            args.owner.display()
        )
    })
}

fn write_protector(path: &Path, kp: &KeyProtector) -> anyhow::Result<()> {
    let mut bytes = kp.to_bytes();
    bytes.push(b'\n');
    hgs_cli::store::write_atomic(path, &bytes).map_err(anyhow::Error::from)
}

/// Runs `hgs key-protector ...`.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    let mut rng = rand_core::OsRng;
    match cmd {
        Cmd::New {
            guardians,
            owner,
            out,
            transport_key_out,
        } => {
            let owner = guardian(&owner)?;
            let guardians = guardians
                .iter()
                .map(|p| guardian(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (kp, transport) = KeyProtector::new(&owner, &guardians, &mut rng)?;
            write_protector(&out, &kp)?;
            if let Some(path) = &transport_key_out {
                hgs_agent::private_file::write_private(path, transport.as_bytes())?;
            }
            println!(
                "key protector {} for owner {} and {} guardian(s) written to {}",
                hgs_tpm::hex::encode(kp.id()),
                owner.name(),
                guardians.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Show {
            key_protector,
            certificates,
            json,
        } => {
            let kp = protector(&key_protector)?;
            let known = certificates
                .iter()
                .map(|p| guardian(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let subject = |fp: &GuardianFingerprint| {
                known
                    .iter()
                    .find(|g| g.fingerprint() == fp)
                    .map(|g| g.name().to_string())
            };
            if json {
                let doc = serde_json::json!({
                    "id": hgs_tpm::hex::encode(kp.id()),
                    "owner": kp.owner(),
                    "wrappings": kp.wrappings().iter().map(|w| serde_json::json!({
                        "role": w.role().name(),
                        "fingerprint": w.guardian(),
                        "subject": subject(w.guardian()),
                    })).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                println!("key protector {}", hgs_tpm::hex::encode(kp.id()));
                for w in kp.wrappings() {
                    println!(
                        "  {:<8} {}{}",
                        w.role().name(),
                        w.guardian(),
                        subject(w.guardian())
                            .map(|s| format!("  {s}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Grant {
            key_protector,
            owner,
            guardian: new,
            out,
        } => {
            let mut kp = protector(&key_protector)?;
            let holder = owner_key(&owner)?;
            let new = guardian(&new)?;
            kp.grant(holder.guardian(), &mut &holder, &new, &mut rng)
                .with_context(|| format!("{}: grant", key_protector.display()))?;
            let out = out.unwrap_or(key_protector);
            write_protector(&out, &kp)?;
            println!(
                "granted {} (fingerprint {}); key protector written to {}",
                new.name(),
                new.fingerprint(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Revoke {
            key_protector,
            owner,
            guardian_fingerprint,
            out,
        } => {
            let fp: GuardianFingerprint = guardian_fingerprint
                .trim()
                .to_ascii_lowercase()
                .parse()
                .with_context(|| format!("--guardian-fingerprint {guardian_fingerprint:?}"))?;
            let mut kp = protector(&key_protector)?;
            let holder = owner_key(&owner)?;
            kp.revoke(holder.guardian(), &mut &holder, &fp)
                .with_context(|| format!("{}: revoke", key_protector.display()))?;
            let out = out.unwrap_or(key_protector);
            write_protector(&out, &kp)?;
            println!("revoked {fp}; key protector written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
