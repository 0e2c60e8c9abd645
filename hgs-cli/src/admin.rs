//! Admin (verifier) verbs over the file store, mirroring the HGS cmdlets:
//!
//! | cmdlet | verb |
//! |---|---|
//! | Add-HgsAttestationTpmHost | `hgs host add --path host.json --name HOST [--force] [--policy-version v1\|v2]`, or `--ekpub FILE [--ekcert FILE]` instead of `--path` |
//! | Get-/Remove-HgsAttestationTpmHost | `hgs host list`, `hgs host remove NAME` |
//! | Add-HgsAttestationTpmPolicy | `hgs tpm-policy add --path ref.tcglog --name CLASS` |
//! | Add-HgsAttestationCIPolicy | `hgs ci-policy add --path policy.p7b --name NAME` (or `--from-log`) |
//! | TrustedTpm.cab install | `hgs roots add TrustedTpm.cab [--allow-unsigned]` (or its expanded `DIR`), `hgs roots list` |
//! | Get-/Enable-/Disable-/Remove-HgsAttestationPolicy | `hgs policy list \| enable \| disable \| remove` |
//! | (attestation request) | `hgs challenge`, `hgs attest` |

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hgs_attest::{
    new_challenge, Attestor, BankPolicy, Challenge, ChallengeMessage, ChallengeRequest, Evidence,
    PcrSet,
};
use hgs_cli::store::verbs::StoreArg;
use hgs_policy::TrustRole;
use hgs_policy::{BaselineProfile, TpmBaseline};
use hgs_policy::{CiPolicyRegistration, PolicyStore, PolicyVersion, RegistrationOptions};
use hgs_policy::{HgsPolicy, PolicyState};
use hgs_tpm::HashAlg;

use crate::util::{hex, read_file};

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
        /// Validate the EK certificate at this time (RFC 3339; default: now).
        #[arg(long)]
        at: Option<String>,
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// List registered hosts.
    List {
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Remove a host.
    Remove {
        /// Host name.
        name: String,
        /// Store.
        #[command(flatten)]
        store: StoreArg,
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
        /// Policy version.
        #[command(flatten)]
        version: VersionArg,
        /// Store.
        #[command(flatten)]
        store: StoreArg,
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
        /// Policy version.
        #[command(flatten)]
        version: VersionArg,
        /// Store.
        #[command(flatten)]
        store: StoreArg,
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
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// List installed certificates.
    List {
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `hgs policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// List the Hgs_* policies with their states, then baselines and CI policies.
    List {
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Enable an Hgs_* policy.
    Enable {
        /// Policy name (`Hgs_NoDumps` or `NoDumps`).
        name: String,
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Disable an Hgs_* policy (locked policies refuse).
    Disable {
        /// Policy name.
        name: String,
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Remove a registered baseline or CI policy.
    Remove {
        /// Its name.
        name: String,
        /// Store.
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `hgs challenge` arguments.
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// Registered host name.
    #[arg(long)]
    pub host: String,
    /// The host's AK public area (`hgs agent ak --out`).
    #[arg(long)]
    pub ak: PathBuf,
    /// Where to write the challenge for the host.
    #[arg(long)]
    pub out: PathBuf,
    /// PCRs to quote (default 0-7,11-14).
    #[arg(long, value_delimiter = ',')]
    pub pcrs: Vec<u32>,
    /// Banks to quote (default sha256).
    #[arg(long, value_delimiter = ',', default_value = "sha256")]
    pub banks: Vec<String>,
    /// Allow the SHA-1 bank (for SHA-1-only TPMs; refused by default).
    #[arg(long)]
    pub allow_sha1: bool,
    /// Store.
    #[command(flatten)]
    pub store: StoreArg,
}

/// `hgs attest` arguments.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The host's evidence (`hgs agent attest --out`).
    #[arg(long)]
    pub evidence: PathBuf,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
    /// Trust SHA-1 quotes when the log declares no stronger bank (SHA-1-only TPMs).
    #[arg(long)]
    pub allow_sha1: bool,
    /// Store.
    #[command(flatten)]
    pub store: StoreArg,
}

fn update<T>(
    store: &StoreArg,
    f: impl FnOnce(&mut PolicyStore) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    store.open()?.update(|data| f(&mut data.registrations))
}

fn read(store: &StoreArg) -> anyhow::Result<PolicyStore> {
    Ok(store.open()?.read()?.registrations)
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
            store,
        } => {
            let (name, ek) = host_ek(path, ekpub, ekcert, name)?;
            let at = unix_time(at.as_deref())?;
            let host = update(&store, |ps| {
                let check = hgs_cli::ekcheck::check_ek_certificate(
                    ek.certificate.as_deref(),
                    &ek.public,
                    &ps.trusted_certificates,
                    hgs_ekcert::UnixTime(at),
                );
                let h = ps
                    .add_host(
                        &name,
                        &ek.public,
                        ek.certificate.as_deref(),
                        check,
                        RegistrationOptions {
                            version: version.version,
                            force,
                        },
                    )
                    .map_err(with_advice)?;
                Ok(h.clone())
            })?;
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
            Ok(ExitCode::SUCCESS)
        }
        HostCmd::List { store } => {
            let ps = read(&store)?;
            if ps.hosts.is_empty() {
                println!("no hosts registered");
            }
            for h in ps.hosts.values() {
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
        HostCmd::Remove { name, store } => {
            update(&store, |ps| Ok(ps.remove_host(&name)?))?;
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
        version,
        store,
    } = cmd;
    let log = read_file(&path)?;
    let profile = if strict {
        BaselineProfile::Strict
    } else {
        BaselineProfile::SecureBootConfiguration
    };
    let b = TpmBaseline::from_reference_log(&name, version.version, profile, &log, skip_validation)
        .with_context(|| format!("{}", path.display()))?;
    for w in &b.capture_warnings {
        eprintln!("warning: {w} (registered anyway: --skip-validation)");
    }
    let n = b.events.len();
    update(&store, |ps| Ok(ps.add_baseline(b)?))?;
    println!(
        "registered TPM baseline {name} ({}, {n} events on PCRs {:?})",
        version.version,
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
        version,
        store,
    } = cmd;
    let reg = match (path, from_log) {
        (Some(p), _) => {
            CiPolicyRegistration::from_policy_file(&name, version.version, &read_file(&p)?)
                .with_context(|| format!("{}", p.display()))?
        }
        (None, Some(l)) => CiPolicyRegistration::from_reference_log(
            &name,
            version.version,
            &read_file(&l)?,
            file_name.as_deref(),
        )
        .with_context(|| format!("{}", l.display()))?,
        (None, None) => bail!("give --path or --from-log"),
    };
    let audit = reg.audit_mode == Some(true);
    let sha256 = reg
        .digests
        .get(&hgs_tpm::HashAlg::Sha256)
        .cloned()
        .unwrap_or_default();
    update(&store, |ps| Ok(ps.add_ci_policy(reg)?))?;
    println!(
        "registered CI policy {name} ({}, SHA-256 {sha256})",
        version.version
    );
    if audit {
        println!("  note: audit mode — hosts running it pass, flagged");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `hgs roots ...`.
pub fn run_roots(cmd: RootsCmd) -> anyhow::Result<ExitCode> {
    use hgs_cli::store::{cert_key, RootSource};
    use std::collections::{BTreeMap, HashSet};
    match cmd {
        RootsCmd::Add {
            path,
            allow_unsigned,
            at,
            store,
        } => {
            let started = std::time::Instant::now();
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
            let added = store.open()?.update(|data| {
                let ps = &mut data.registrations;
                let mut have: HashSet<Vec<u8>> = ps
                    .trusted_certificates
                    .iter()
                    .map(|t| t.der.clone())
                    .collect();
                let mut added = 0usize;
                for i in &found {
                    if have.insert(i.certificate.der.clone()) {
                        ps.trusted_certificates.push(i.certificate.clone());
                        added += 1;
                    }
                }
                for i in &found {
                    data.root_sources.insert(
                        cert_key(&i.certificate.der),
                        RootSource {
                            file: i.source.clone(),
                        },
                    );
                }
                Ok::<_, anyhow::Error>(added)
            })?;
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
        RootsCmd::List { store } => {
            let data = store.open()?.read()?;
            let ps = &data.registrations;
            let source = |der: &[u8]| {
                data.root_sources
                    .get(&cert_key(der))
                    .map_or_else(|| "-".into(), |s| s.file.clone())
            };
            // Per install file and vendor: how many anchors and intermediates came from it.
            let mut summary: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
            let mut lines = Vec::new();
            for c in &ps.trusted_certificates {
                let file = source(&c.der);
                // Certificates from a folder record their own file: group them by its folder.
                let group = if file.ends_with(".cab") || file == "-" {
                    file.clone()
                } else {
                    std::path::Path::new(&file)
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
        PolicyCmd::List { store } => {
            let ps = read(&store)?;
            for p in HgsPolicy::ALL {
                let state = match ps.settings.state(p) {
                    PolicyState::Enabled => "Enabled",
                    PolicyState::Disabled => "Disabled",
                    PolicyState::Locked => "Locked",
                };
                println!("{:<34} {state}", p.name());
            }
            for b in ps.baselines.values() {
                println!(
                    "{:<34} TPM baseline ({}, {} events)",
                    b.name,
                    b.policy_version,
                    b.events.len()
                );
            }
            for c in ps.ci_policies.values() {
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
        PolicyCmd::Enable { name, store } => {
            let p = find(&name)?;
            update(&store, |ps| Ok(ps.settings.enable(p)?))?;
            println!("{p} enabled");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCmd::Disable { name, store } => {
            let p = find(&name)?;
            update(&store, |ps| Ok(ps.settings.disable(p)?))?;
            println!("{p} disabled");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCmd::Remove { name, store } => {
            update(&store, |ps| Ok(ps.remove_policy(&name)?))?;
            println!("removed {name}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn bank_policy(allow_sha1: bool) -> BankPolicy {
    if allow_sha1 {
        BankPolicy::AllowSha1
    } else {
        BankPolicy::Sha256OrStronger
    }
}

/// Now, in UNIX seconds (the verifier's clock, passed to the library).
pub fn now_unix() -> anyhow::Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs())
}

/// Runs `hgs challenge`.
pub fn run_challenge(args: ChallengeArgs) -> anyhow::Result<ExitCode> {
    let ak = read_file(&args.ak)?;
    let banks = args
        .banks
        .iter()
        .map(|b| {
            [
                HashAlg::Sha1,
                HashAlg::Sha256,
                HashAlg::Sha384,
                HashAlg::Sha512,
            ]
            .into_iter()
            .find(|h| h.name() == b.as_str())
            .with_context(|| format!("unknown bank {b:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bank_policy = bank_policy(args.allow_sha1);
    let mut id = [0u8; 16];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut id)?;
    let id = hex(&id);
    let msg: ChallengeMessage = args.store.open()?.update(|data| -> anyhow::Result<_> {
        let ps = &data.registrations;
        let host = ps
            .hosts
            .get(&args.host)
            .with_context(|| format!("no host named {} is registered", args.host))?;
        let baselines: Vec<_> = ps.baselines.values().cloned().collect();
        let required = Attestor::new()
            .with_settings(ps.settings.clone())
            .required_pcrs(&baselines);
        let pcrs = if args.pcrs.is_empty() {
            hgs_attest::DEFAULT_PCRS.union(required)
        } else {
            PcrSet::from_indices(&args.pcrs)?
        };
        let request = ChallengeRequest {
            pcrs,
            banks: &banks,
            required_pcrs: required,
            bank_policy,
            issued_at: now_unix()?,
            ecdh: hgs_attest::EcdhBackend::default(),
        };
        let (challenge, mut msg) = new_challenge(host, &ak, &request, &mut rand_core::OsRng)
            .with_context(|| format!("{}", args.ak.display()))?;
        data.challenges.insert(id.clone(), challenge);
        msg.id = Some(id.clone());
        Ok(msg)
    })?;
    let json = serde_json::to_vec_pretty(&msg)?;
    std::fs::write(&args.out, json)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "challenge {id} for {} written to {} (PCRs {}, banks {:?})",
        args.host,
        args.out.display(),
        msg.pcrs,
        args.banks
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `hgs attest`: exit 0 only when Passed, 1 otherwise.
pub fn run_attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let bytes = read_file(&args.evidence)?;
    let evidence =
        Evidence::from_json(&bytes).with_context(|| format!("{}", args.evidence.display()))?;
    let id = evidence.challenge_id.clone().with_context(|| {
        format!(
            "{}: no challenge_id: answer a challenge from `hgs challenge`",
            args.evidence.display()
        )
    })?;
    // The challenge is consumed whatever the verdict: a quote can be judged once.
    let (challenge, ps) =
        args.store
            .open()?
            .update(|data| -> anyhow::Result<(Challenge, PolicyStore)> {
                let c = data
                    .challenges
                    .remove(&id)
                    .with_context(|| format!("challenge {id} is unknown or was already used"))?;
                Ok((c, data.registrations.clone()))
            })?;
    let hosts: Vec<_> = ps.hosts.values().cloned().collect();
    let baselines: Vec<_> = ps.baselines.values().cloned().collect();
    let policies: Vec<_> = ps.ci_policies.values().cloned().collect();
    let verdict = Attestor::new()
        .with_settings(ps.settings.clone())
        .with_bank_policy(bank_policy(args.allow_sha1))
        .evaluate(
            &hgs_attest::Host {
                challenge: &challenge,
                evidence: &evidence,
                registered: &hosts,
                now: now_unix()?,
            },
            &baselines,
            &policies,
        );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        print!("{verdict}");
    }
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
