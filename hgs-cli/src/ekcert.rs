//! `hgs ekcert ...` verbs: verify, show.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use hgs_cli::roots::{add_file, load_roots, LoadedRoots};
use hgs_ekcert::{Certificate, EkPublic, Options, TrustStore, UnixTime};
use serde_json::json;

use crate::util::{hex, read_file};

/// `hgs ekcert` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Validate an EK certificate (DER, PEM, or a raw NV blob) against installed TPM roots.
    /// Exit status 0 only when it is trusted.
    Verify {
        /// The EK certificate.
        cert: PathBuf,
        /// A roots directory (TrustedTpm.cab layout, or a flat / per-vendor folder where
        /// self-signed certificates are anchors). Repeatable.
        #[arg(long, required = true)]
        roots: Vec<PathBuf>,
        /// A directory of extra intermediates (all non-anchors). Repeatable.
        #[arg(long)]
        intermediates: Vec<PathBuf>,
        /// A certificate file to trust as an anchor even if not self-signed
        /// (e.g. "IFX TPM EK Root CA"). Repeatable.
        #[arg(long)]
        anchor: Vec<PathBuf>,
        /// Verification time (RFC 3339, or YYYY-MM-DD); default now.
        #[arg(long)]
        at: Option<String>,
        /// Accept certificates past their notAfter (off by default).
        #[arg(long)]
        allow_expired: bool,
        /// The host's EK public key (TPM2B_PUBLIC, TPMT_PUBLIC, or SPKI DER/PEM): must match.
        #[arg(long)]
        ekpub: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The parsed fields of an EK certificate.
    Show {
        /// The certificate.
        cert: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Runs one `hgs ekcert` subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Verify {
            cert,
            roots,
            intermediates,
            anchor,
            at,
            allow_expired,
            ekpub,
            json,
        } => {
            let time = match at {
                Some(t) => UnixTime::parse_rfc3339(&t)
                    .ok_or_else(|| anyhow!("--at {t}: not an RFC 3339 date-time"))?,
                None => now(),
            };
            let mut loaded = LoadedRoots::default();
            for dir in &roots {
                let l = load_roots(dir).with_context(|| format!("--roots {}", dir.display()))?;
                loaded.anchors.extend(l.anchors);
                loaded.intermediates.extend(l.intermediates);
                loaded.skipped.extend(l.skipped);
            }
            for dir in &intermediates {
                let l = load_roots(dir)
                    .with_context(|| format!("--intermediates {}", dir.display()))?;
                loaded
                    .intermediates
                    .extend(l.anchors.into_iter().chain(l.intermediates));
                loaded.skipped.extend(l.skipped);
            }
            for f in &anchor {
                add_file(&mut loaded, f, Some(true))
                    .with_context(|| format!("--anchor {}", f.display()))?;
            }
            for (f, why) in &loaded.skipped {
                eprintln!("hgs: skipped {}: {why}", f.display());
            }
            let (store, _) = TrustStore::from_certificates(&loaded.anchors, &loaded.intermediates);
            let ek = match &ekpub {
                Some(p) => Some(
                    EkPublic::parse(&read_file(p)?)
                        .map_err(|e| anyhow!("--ekpub {}: {e}", p.display()))?,
                ),
                None => None,
            };
            let bytes = read_file(&cert)?;
            let mut opts = Options::at(time);
            opts.allow_expired = allow_expired;
            let result = hgs_ekcert::verify_chain(&bytes, &store, ek.as_ref(), &opts);
            let parsed = Certificate::from_bytes(&bytes).ok();
            let tpm = parsed.as_ref().and_then(|c| c.extensions.tpm.clone());
            let trusted = result.is_ok();
            if json {
                let doc = match &result {
                    Ok(v) => json!({
                        "trusted": true,
                        "reason": null,
                        "chain": v.chain,
                        "anchor_self_signed": v.anchor_self_signed,
                        "manufacturer": v.manufacturer,
                        "model": v.model,
                        "firmware": v.firmware,
                        "key_type": v.key_type.to_string(),
                        "ekpub_matched": v.ekpub_matched,
                        "quirks": v.quirks,
                        "at": time.to_string(),
                        "store": {"anchors": store.anchors().len(), "intermediates": store.intermediates().len()},
                    }),
                    Err(e) => json!({
                        "trusted": false,
                        "reason": e.to_string(),
                        "chain": [],
                        "manufacturer": tpm.as_ref().and_then(|t| t.manufacturer.clone()),
                        "model": tpm.as_ref().and_then(|t| t.model.clone()),
                        "firmware": tpm.as_ref().and_then(|t| t.firmware.clone()),
                        "key_type": parsed.as_ref().map(|c| c.key.key_type().to_string()),
                        "at": time.to_string(),
                        "store": {"anchors": store.anchors().len(), "intermediates": store.intermediates().len()},
                    }),
                };
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                match &result {
                    Ok(v) => {
                        println!("{}: trusted at {time}", cert.display());
                        for l in &v.chain {
                            println!(
                                "  {:<12} {}",
                                format!("{:?}", l.role).to_lowercase(),
                                l.subject
                            );
                        }
                        println!(
                            "  manufacturer {}  model {}  firmware {}  key {}",
                            v.manufacturer.as_deref().unwrap_or("-"),
                            v.model.as_deref().unwrap_or("-"),
                            v.firmware.as_deref().unwrap_or("-"),
                            v.key_type
                        );
                        if !v.quirks.is_empty() {
                            let q: Vec<String> = v.quirks.iter().map(|q| q.to_string()).collect();
                            println!("  quirks: {}", q.join("; "));
                        }
                    }
                    Err(e) => println!("{}: NOT trusted: {e}", cert.display()),
                }
            }
            Ok(if trusted {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Show { cert, json } => {
            let bytes = read_file(&cert)?;
            let c =
                Certificate::from_bytes(&bytes).map_err(|e| anyhow!("{}: {e}", cert.display()))?;
            let ext = &c.extensions;
            let doc = json!({
                "subject": c.subject.to_string(),
                "issuer": c.issuer.to_string(),
                "serial": c.serial_hex(),
                "not_before": c.not_before.to_string(),
                "not_after": c.not_after.to_string(),
                "signature_algorithm": format!("{:?}", c.signature_algorithm),
                "key_type": c.key.key_type().to_string(),
                "key_usage": ext.key_usage.map(|k| k.names()),
                "ext_key_usage": ext.ext_key_usage,
                "ek_eku": ext.ext_key_usage.as_ref().is_some_and(|e| e.iter().any(|o| o == hgs_ekcert::OID_EK_CERTIFICATE_EKU)),
                "basic_constraints": ext.basic_constraints,
                "san_critical": ext.san_critical,
                "tpm": ext.tpm,
                "tpm_spec": ext.tpm_spec,
                "subject_key_id": ext.subject_key_id.as_deref().map(hex),
                "authority_key_id": ext.authority_key_id.as_deref().map(hex),
                "is_ek_certificate": hgs_ekcert::check_ek_profile(&c).is_ok(),
                "ek_profile": hgs_ekcert::check_ek_profile(&c).err().map(|e| e.to_string()),
                "quirks": c.quirks,
                "self_signed": c.is_self_signed(),
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else if let Some(map) = doc.as_object() {
                println!("{}", cert.display());
                for (k, v) in map {
                    println!("  {k:<20} {v}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
