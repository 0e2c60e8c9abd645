//! Admin (verifier) verbs, mirroring the HGS cmdlets. Each acts on the file store (`--store DIR`,
//! the default) or on a running `hgs serve` (`--server URL`, see `target.rs`) with the same
//! arguments, output, `--json` and exit codes: a verb decides what it means here, once; the two
//! backends (`backend.rs`, `server.rs`) carry it out.
//!
//! | cmdlet | verb |
//! |---|---|
//! | Add-HgsAttestationTpmHost | `hgs host add --path host.json --name HOST [--force] [--policy-version v1\|v2]`, or `--ekpub FILE [--ekcert FILE]` instead of `--path` |
//! | Get-/Remove-HgsAttestationTpmHost | `hgs host list`, `hgs host remove NAME` |
//! | Add-HgsAttestationTpmPolicy | `hgs tpm-policy add --path ref.tcglog --name CLASS` |
//! | Add-HgsAttestationCIPolicy | `hgs ci-policy add --path policy.p7b --name NAME` (or `--from-log`) |
//! | TrustedTpm.cab install | `hgs roots add TrustedTpm.cab [--allow-unsigned]` (or its expanded `DIR`), `hgs roots list` |
//! | Get-/Enable-/Disable-/Remove-HgsAttestationPolicy | `hgs policy list \| enable \| disable \| remove` |
//! | (attestation request) | `hgs challenge`, `hgs attest` (file store only) |
//! | (moving registrations) | `hgs copy --from DIR\|URL --to DIR\|URL` |

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hgs_policy::BaselineProfile;
use hgs_policy::TrustRole;
use hgs_policy::{HgsPolicy, PolicyState, TpmHost};
use hgs_policy::{PolicyVersion, RegistrationOptions};

use crate::util::read_file;
use backend::{name_arg, BaselineRequest, CiRequest, CiSource, HostRequest};
pub use target::Target;

mod backend;
mod server;
pub(crate) use server::https_client;
mod target;
mod verify;

#[cfg(feature = "demo")]
pub use verify::now_unix;
pub use verify::{run_attest, run_challenge, AttestArgs, ChallengeArgs};

/// `--policy-version`.
#[derive(Debug, Clone, Args)]
pub struct VersionArg {
    /// Policy version: v1 (Windows Server 2016 rules) or v2 (default).
    #[arg(long = "policy-version", default_value = "v2")]
    pub version: PolicyVersion,
}

/// `hgs host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCmd {
    /// Register a host (Add-HgsAttestationTpmHost) from its platform identifier, or from the EK
    /// files a Linux host's tools write (`--ekpub`, `--ekcert`).
    Add {
        /// The platform identifier JSON (`hgs platform-identifier`).
        #[arg(long, required_unless_present = "ekpub", conflicts_with = "ekpub")]
        path: Option<PathBuf>,
        /// The EK public key: TPM2B_PUBLIC (`tpm2_createek -u`), TPMT_PUBLIC, or SubjectPublicKeyInfo
        /// PEM/DER (`tpm2_readpublic -f pem`; rebuilt with the default EK template).
        #[arg(long, requires = "name")]
        ekpub: Option<PathBuf>,
        /// The EK certificate: DER, PEM, or the NV blob (`tpm2_getekcertificate`,
        /// `tpm2_nvread 0x01c00002`), header and padding included.
        #[arg(long, requires = "ekpub")]
        ekcert: Option<PathBuf>,
        /// Host name (default: the name in the identifier; required with --ekpub).
        #[arg(long)]
        name: Option<String>,
        /// v1 only: register without a trusted EK certificate.
        #[arg(long)]
        force: bool,
        /// Policy version.
        #[command(flatten)]
        version: VersionArg,
        /// Validate the EK certificate at this time (RFC 3339; default: now; file store only).
        #[arg(long)]
        at: Option<String>,
        /// Print the registered host record as JSON.
        #[arg(long)]
        json: bool,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
    /// List registered hosts.
    List {
        /// Print the host records as JSON.
        #[arg(long)]
        json: bool,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
    /// Remove a host.
    Remove {
        /// Host name.
        name: String,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
}

/// `hgs tpm-policy ...`.
#[derive(Debug, Subcommand)]
pub enum TpmPolicyCmd {
    /// Register a TPM baseline from a reference log (Add-HgsAttestationTpmPolicy).
    Add {
        /// The reference TCG log (`hgs baseline capture`).
        #[arg(long)]
        path: PathBuf,
        /// Baseline (hardware class) name.
        #[arg(long)]
        name: String,
        /// Also compare PCRs 0, 2 and 4 event by event.
        #[arg(long)]
        strict: bool,
        /// Register even if the reference host fails capture validation.
        #[arg(long)]
        skip_validation: bool,
        /// Print the registered baseline as JSON.
        #[arg(long)]
        json: bool,
        /// Policy version.
        #[command(flatten)]
        version: VersionArg,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
}

/// `hgs ci-policy ...`.
#[derive(Debug, Subcommand)]
pub enum CiPolicyCmd {
    /// Register a CI policy (Add-HgsAttestationCIPolicy).
    Add {
        /// The binary policy (.p7b/.bin, signed or not).
        #[arg(long, required_unless_present = "from_log")]
        path: Option<PathBuf>,
        /// Or: take the policy digest a reference host measured into this log.
        #[arg(long, conflicts_with = "path")]
        from_log: Option<PathBuf>,
        /// With --from-log: the policy file name Windows recorded, when the log has several.
        #[arg(long)]
        file_name: Option<String>,
        /// Policy name.
        #[arg(long)]
        name: String,
        /// Print the registered CI policy as JSON.
        #[arg(long)]
        json: bool,
        /// Policy version.
        #[command(flatten)]
        version: VersionArg,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
}

/// `hgs roots ...`.
#[derive(Debug, Subcommand)]
pub enum RootsCmd {
    /// Install TPM vendor certificates (the TrustedTpm.cab step): Microsoft's `TrustedTpm.cab`
    /// itself (its Authenticode signature checked to Microsoft's root; `VENDOR/RootCA` become
    /// anchors, `VENDOR/IntermediateCA` intermediates), the same tree expanded, or a folder of
    /// certificates (self-signed ones become anchors).
    Add {
        /// The cabinet file, or the directory.
        #[arg(value_name = "CAB|DIR")]
        path: PathBuf,
        /// Install from a cabinet whose signature is missing or does not verify (warned).
        #[arg(long)]
        allow_unsigned: bool,
        /// Check the cabinet's signature at this time (RFC 3339; default: now).
        #[arg(long)]
        at: Option<String>,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
    /// List installed certificates.
    List {
        /// Print the certificates as JSON.
        #[arg(long)]
        json: bool,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
}

/// `hgs policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// List the Hgs_* policies with their states, then baselines and CI policies.
    List {
        /// Print the listing as JSON.
        #[arg(long)]
        json: bool,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
    /// Enable an Hgs_* policy.
    Enable {
        /// Policy name (`Hgs_NoDumps` or `NoDumps`).
        name: String,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
    /// Disable an Hgs_* policy (locked policies refuse).
    Disable {
        /// Policy name.
        name: String,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
    /// Remove a registered baseline or CI policy.
    Remove {
        /// Its name.
        name: String,
        /// Store or server.
        #[command(flatten)]
        target: Target,
    },
}

/// Seconds since the Unix epoch, from `--at` (RFC 3339) or the clock.
pub fn unix_time(at: Option<&str>) -> anyhow::Result<i64> {
    match at {
        Some(s) => hgs_ekcert::UnixTime::parse_rfc3339(s)
            .map(|t| t.0)
            .with_context(|| format!("--at {s:?}: not an RFC 3339 time")),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("clock before 1970")?
            .as_secs() as i64),
    }
}

/// The EK of `hgs host add`, with the host name: from the platform identifier (`--path`) or the
/// EK files (`--ekpub`, `--ekcert`).
fn host_ek(
    path: Option<PathBuf>,
    ekpub: Option<PathBuf>,
    ekcert: Option<PathBuf>,
    name: Option<String>,
) -> anyhow::Result<(String, hgs_cli::identity::Ek)> {
    if let Some(file) = ekpub {
        let name = name.context("--name is required with --ekpub")?;
        let public = hgs_cli::ekcheck::ek_public_from_file(&read_file(&file)?)
            .with_context(|| format!("--ekpub {}", file.display()))?;
        let certificate = match ekcert {
            Some(f) => Some(
                hgs_cli::ekcheck::ek_certificate_from_file(&read_file(&f)?)
                    .with_context(|| format!("--ekcert {}", f.display()))?,
            ),
            None => None,
        };
        return Ok((
            name,
            hgs_cli::identity::Ek {
                profile: "files".into(),
                public,
                certificate,
            },
        ));
    }
    let path = path.context("give --path (platform identifier) or --ekpub")?;
    let bytes = read_file(&path)?;
    let id: hgs_cli::identity::PlatformIdentifier = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a platform identifier", path.display()))?;
    let name = name.unwrap_or_else(|| id.name.clone());
    let ek = id
        .primary_ek()
        .with_context(|| format!("{}: no EK public area in the identifier", path.display()))?;
    Ok((name, ek))
}
/// Prints a registered host as `hgs host add` does.
fn print_registered_host(host: &TpmHost) {
    println!(
        "registered host {} ({}, EK {} {}{})",
        host.name,
        host.policy_version,
        host.ek_key_type,
        &host.ek_fingerprint.to_string()[..16],
        if host.forced {
            ", forced without a trusted EK certificate"
        } else {
            ""
        }
    );
    if let hgs_policy::EkCertificateCheck::Trusted(idn) = &host.ek_certificate_check {
        println!(
            "  EK certificate trusted: {} {} firmware {}; chain {}",
            idn.manufacturer.as_deref().unwrap_or("?"),
            idn.model.as_deref().unwrap_or("?"),
            idn.firmware.as_deref().unwrap_or("?"),
            idn.chain.join(" <- ")
        );
    }
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs `hgs host ...`.
pub fn run_host(cmd: HostCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        HostCmd::Add {
            path,
            ekpub,
            ekcert,
            name,
            force,
            version,
            at,
            json,
            target,
        } => {
            let (name, ek) = host_ek(path, ekpub, ekcert, name)?;
            let at = at.as_deref().map(|a| unix_time(Some(a))).transpose()?;
            let host = target.open()?.add_host(&HostRequest {
                name,
                ekpub: ek.public,
                certificate: ek.certificate,
                options: RegistrationOptions {
                    version: version.version,
                    force,
                },
                at,
            })?;
            if json {
                print_json(&host)?;
            } else {
                print_registered_host(&host);
            }
            Ok(ExitCode::SUCCESS)
        }
        HostCmd::List { json, target } => {
            let hosts = target.open()?.hosts()?;
            if json {
                print_json(&hosts)?;
                return Ok(ExitCode::SUCCESS);
            }
            if hosts.is_empty() {
                println!("no hosts registered");
            }
            for h in &hosts {
                let cert = match &h.ek_certificate_check {
                    hgs_policy::EkCertificateCheck::Trusted(i) => {
                        format!(
                            "EK cert trusted ({})",
                            i.manufacturer.as_deref().unwrap_or("?")
                        )
                    }
                    hgs_policy::EkCertificateCheck::Missing => "no EK cert".into(),
                    hgs_policy::EkCertificateCheck::Untrusted { .. } => "EK cert untrusted".into(),
                };
                println!(
                    "{:<20} {}  {:<9} EK {}  {}{}",
                    h.name,
                    h.policy_version,
                    h.ek_key_type,
                    &h.ek_fingerprint.to_string()[..16],
                    cert,
                    if h.forced { " (forced)" } else { "" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        HostCmd::Remove { name, target } => {
            target.open()?.remove_host(&name_arg(&name)?)?;
            println!("removed host {name}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `hgs tpm-policy ...`.
pub fn run_tpm_policy(cmd: TpmPolicyCmd) -> anyhow::Result<ExitCode> {
    let TpmPolicyCmd::Add {
        path,
        name,
        strict,
        skip_validation,
        json,
        version,
        target,
    } = cmd;
    let log = read_file(&path)?;
    let profile = if strict {
        BaselineProfile::Strict
    } else {
        BaselineProfile::SecureBootConfiguration
    };
    let b = target
        .open()?
        .add_baseline(&BaselineRequest {
            name: name.clone(),
            version: version.version,
            profile,
            log,
            skip_validation,
        })
        .with_context(|| format!("{}", path.display()))?;
    for w in &b.capture_warnings {
        eprintln!("warning: {w} (registered anyway: --skip-validation)");
    }
    if json {
        print_json(&b)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "registered TPM baseline {name} ({}, {} events on PCRs {:?})",
        version.version,
        b.events.len(),
        profile.pcrs()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `hgs ci-policy ...`.
pub fn run_ci_policy(cmd: CiPolicyCmd) -> anyhow::Result<ExitCode> {
    let CiPolicyCmd::Add {
        path,
        from_log,
        file_name,
        name,
        json,
        version,
        target,
    } = cmd;
    let (source, file) = match (path, from_log) {
        (Some(p), _) => (CiSource::File(read_file(&p)?), p),
        (None, Some(l)) => (
            CiSource::Log {
                log: read_file(&l)?,
                file_name,
            },
            l,
        ),
        (None, None) => bail!("give --path or --from-log"),
    };
    let reg = target
        .open()?
        .add_ci_policy(&CiRequest {
            name: name.clone(),
            version: version.version,
            source,
        })
        .with_context(|| format!("{}", file.display()))?;
    if json {
        print_json(&reg)?;
        return Ok(ExitCode::SUCCESS);
    }
    let sha256 = reg
        .digests
        .get(&hgs_tpm::HashAlg::Sha256)
        .cloned()
        .unwrap_or_default();
    println!(
        "registered CI policy {name} ({}, SHA-256 {sha256})",
        version.version
    );
    if reg.audit_mode == Some(true) {
        println!("  note: audit mode — hosts running it pass, flagged");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `hgs roots ...`.
pub fn run_roots(cmd: RootsCmd) -> anyhow::Result<ExitCode> {
    use std::collections::BTreeMap;
    match cmd {
        RootsCmd::Add {
            path,
            allow_unsigned,
            at,
            target,
        } => {
            let started = std::time::Instant::now();
            // The backend first: a wrong server or token fails before the cabinet is read.
            let mut registry = target.open()?;
            let (found, skipped) = if path.is_dir() {
                hgs_cli::ekcheck::installable_dir(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?
            } else {
                let bytes = read_file(&path)?;
                let now = unix_time(at.as_deref())?;
                let (found, skipped, package) =
                    hgs_cli::ekcheck::installable_cab(&path, &bytes, now, allow_unsigned)?;
                match (&package.signature, &package.unverified) {
                    (Some(sig), _) => println!(
                        "signature verified: {} (timestamp {}, chain valid at {})",
                        sig.chain.join(" <- "),
                        sig.timestamp
                            .map_or_else(|| "none".to_string(), |t| t.to_string()),
                        sig.checked_at
                    ),
                    (None, Some(e)) => eprintln!(
                        "WARNING: installing from {} although its signature does not verify \
                         (--allow-unsigned): {:#}",
                        path.display(),
                        anyhow::Error::new(e.clone())
                    ),
                    (None, None) => {}
                }
                (found, skipped)
            };
            for s in &skipped {
                eprintln!("skipped {s}");
            }
            let n = found.len();
            let mut per_vendor: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            for i in &found {
                let e = per_vendor
                    .entry(i.certificate.vendor.clone().unwrap_or_else(|| "-".into()))
                    .or_default();
                match i.certificate.role {
                    TrustRole::Root => e.0 += 1,
                    TrustRole::Intermediate => e.1 += 1,
                }
            }
            let added = registry.install_roots(&found)?;
            println!(
                "installed {n} certificates ({added} new) from {} in {:.2} s",
                path.display(),
                started.elapsed().as_secs_f64()
            );
            for (vendor, (a, i)) in per_vendor {
                println!("  {vendor:<10} {a} anchors, {i} intermediates");
            }
            Ok(ExitCode::SUCCESS)
        }
        RootsCmd::List { json, target } => {
            let roots = target.open()?.roots()?;
            if json {
                print_json(&roots)?;
                return Ok(ExitCode::SUCCESS);
            }
            // Per install file and vendor: how many anchors and intermediates came from it.
            let mut summary: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
            let mut lines = Vec::new();
            for c in &roots {
                let file = &c.source;
                // Certificates from a folder record their own file: group them by its folder.
                let group = if file.ends_with(".cab") || file == "-" {
                    file.clone()
                } else {
                    std::path::Path::new(file)
                        .parent()
                        .map_or(file.clone(), |p| p.display().to_string())
                };
                let vendor = c.vendor.clone().unwrap_or_else(|| "-".into());
                let e = summary.entry((group, vendor)).or_default();
                let role = match c.role {
                    TrustRole::Root => {
                        e.0 += 1;
                        "root"
                    }
                    TrustRole::Intermediate => {
                        e.1 += 1;
                        "intermediate"
                    }
                };
                lines.push(format!(
                    "{role:<12} {:<10} {}",
                    c.vendor.as_deref().unwrap_or("-"),
                    c.subject
                ));
            }
            for ((file, vendor), (a, i)) in &summary {
                println!("from {file}: {vendor:<10} {a} anchors, {i} intermediates");
            }
            for l in lines {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `hgs policy ...`.
pub fn run_policy(cmd: PolicyCmd) -> anyhow::Result<ExitCode> {
    let find = |name: &str| {
        HgsPolicy::from_name(name)
            .with_context(|| format!("no attestation policy is named {name:?}"))
    };
    match cmd {
        PolicyCmd::List { json, target } => {
            let listing = target.open()?.policies()?;
            if json {
                print_json(&listing)?;
                return Ok(ExitCode::SUCCESS);
            }
            for (p, state) in &listing.policies {
                let state = match state {
                    PolicyState::Enabled => "Enabled",
                    PolicyState::Disabled => "Disabled",
                    PolicyState::Locked => "Locked",
                };
                println!("{:<34} {state}", p.name());
            }
            for b in &listing.baselines {
                println!(
                    "{:<34} TPM baseline ({}, {} events)",
                    b.name,
                    b.policy_version,
                    b.events.len()
                );
            }
            for c in &listing.ci_policies {
                println!(
                    "{:<34} CI policy ({}{})",
                    c.name,
                    c.policy_version,
                    if c.audit_mode == Some(true) {
                        ", audit mode"
                    } else {
                        ""
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCmd::Enable { name, target } => {
            let p = find(&name)?;
            target.open()?.set_policy(p, true)?;
            println!("{p} enabled");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCmd::Disable { name, target } => {
            let p = find(&name)?;
            target.open()?.set_policy(p, false)?;
            println!("{p} disabled");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCmd::Remove { name, target } => {
            target.open()?.remove_policy(&name_arg(&name)?)?;
            println!("removed {name}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `hgs copy` arguments.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Copy from: a store directory, or a server (https://host:port).
    #[arg(long, value_name = "DIR|URL")]
    pub from: String,
    /// Copy to: a store directory, or a server (https://host:port).
    #[arg(long, value_name = "DIR|URL")]
    pub to: String,
    /// The server's certificate or its CA, PEM (for the side that is a server).
    #[arg(long, value_name = "PEM")]
    pub server_cert: Option<PathBuf>,
    /// File holding the server's admin token (also $HGS_ADMIN_TOKEN_FILE or $HGS_ADMIN_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

impl CopyArgs {
    fn side(&self, location: &str) -> Target {
        let server = location.starts_with("https://") || location.starts_with("http://");
        Target {
            store: (!server).then(|| PathBuf::from(location)),
            server: server.then(|| location.to_string()),
            server_cert: self.server_cert.clone(),
            admin_token_file: self.admin_token_file.clone(),
        }
    }
}

/// Runs `hgs copy`: every registration (TPM roots, `Hgs_*` states, baselines, CI policies,
/// hosts) from one backend to another; names already taken at the destination are refused
/// before anything is written.
pub fn run_copy(args: CopyArgs) -> anyhow::Result<ExitCode> {
    let mut from = args.side(&args.from).open()?;
    let mut to = args.side(&args.to).open()?;
    let registrations = from.export()?;
    let added = to.import(&registrations)?;
    println!(
        "copied {} hosts, {} baselines, {} CI policies and {} certificates from {} to {} \
         ({added} records added)",
        registrations.hosts.len(),
        registrations.baselines.len(),
        registrations.ci_policies.len(),
        registrations.trusted_certificates.len(),
        from.describe(),
        to.describe()
    );
    Ok(ExitCode::SUCCESS)
}

/// A refused registration, with what to do about it: the library says what is wrong, the program
/// knows its own flags and verbs.
fn with_advice(e: hgs_policy::StoreError) -> anyhow::Error {
    use hgs_policy::EkDistrust;
    use hgs_policy::HostError;
    let advice = match &e {
        hgs_policy::StoreError::Host(h) => match h {
            HostError::EkCertificateRequired { .. } => Some(
                "export the platform identifier elevated (it then carries the EK certificate), \
                 or register with --policy-version v1 --force",
            ),
            HostError::EkCertificateUntrusted {
                why: EkDistrust::KeyMismatch,
                ..
            } => Some(
                "the certificate belongs to another TPM: export the platform identifier again \
                 on this host",
            ),
            HostError::EkCertificateUntrusted {
                why: EkDistrust::IssuerSignatureMismatch { .. },
                ..
            } => Some(
                "compare the installed CA of that name (hgs roots list) with the vendor's \
                 current one: if the vendor re-keyed it, install the new certificate (hgs roots \
                 add); otherwise this EK certificate is not the vendor's",
            ),
            HostError::EkCertificateUntrusted { .. } => Some(
                "install the TPM vendor's root and intermediate certificates (hgs roots add), \
                 or register with --policy-version v1 --force",
            ),
            HostError::ForceRequired { .. } => Some("add --force to register it under policy v1"),
            HostError::ForceNotApplicableToV2 => {
                Some("register with --policy-version v1 --force, or without --force")
            }
            _ => None,
        },
        _ => None,
    };
    match advice {
        Some(a) => anyhow::Error::new(e).context(a),
        None => anyhow::Error::new(e),
    }
}
