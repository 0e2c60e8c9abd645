//! Host-side verbs: `hgs platform-identifier`, `hgs baseline capture`, `hgs agent ak|attest|run`,
//! `hgs swtpm start|stop|replay-log`; `hgs agent secret|key-protector` are `agent_keys.rs`'s.
//!
//! These are the Linux counterparts of the Windows cmdlets run on a guarded host
//! (`Get-PlatformIdentifier`, `Get-HgsAttestationBaselinePolicy`) plus the attestation client.
//! The work is the `hgs-agent` library's; this module parses arguments, reads and writes files and
//! prints. Everything touching the TPM needs the `tpm` feature; without it the verbs explain how to
//! rebuild.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::util::read_file;

/// Where Linux exposes the firmware's TCG event log.
pub const DEFAULT_LOG: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";

/// Default directory for the agent's state (the AK blobs).
pub const DEFAULT_AGENT_STATE: &str = "hgs-agent";

/// The `--tcti` option shared by TPM verbs.
#[derive(Debug, Clone, Args)]
pub struct TctiArg {
    /// TCTI: `device:/dev/tpmrm0`, `tabrmd`, `swtpm:host=127.0.0.1,port=2321`.
    /// Default: $TPM2TOOLS_TCTI, then $TCTI, then device:/dev/tpmrm0.
    #[arg(long)]
    pub tcti: Option<String>,
}

/// The `--bound-key` option: which decryption key the agent keeps in the TPM for releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BoundKeyArg {
    /// RSA-2048, OAEP with SHA-256 (releases are RSA-OAEP-256 JWEs).
    Rsa,
    /// NIST P-256 ECDH (releases are ECDH-ES+A256KW JWEs).
    Ecc,
}

/// The `--bound-key` option shared by the verbs that answer challenges.
#[derive(Debug, Clone, Args)]
pub struct BoundKeyOpt {
    /// The bound key (created once in the state directory, certified by the AK in every
    /// answer, the key releases are encrypted to): rsa or ecc. Default: the saved key's kind,
    /// else rsa. Another kind than the saved key's replaces it.
    #[arg(long, value_enum)]
    pub bound_key: Option<BoundKeyArg>,
}

/// `hgs platform-identifier` arguments.
#[derive(Debug, Args)]
pub struct PlatformIdentifierArgs {
    /// Host name recorded in the identifier (defaults to the name the admin gives at `host add`).
    #[arg(long)]
    pub name: String,
    /// Output JSON file.
    #[arg(long)]
    pub out: PathBuf,
    /// TPM connection.
    #[command(flatten)]
    pub tcti: TctiArg,
}

/// `hgs baseline` subcommands.
#[derive(Debug, Subcommand)]
pub enum BaselineCmd {
    /// Copy this host's TCG log as a reference baseline (Get-HgsAttestationBaselinePolicy).
    Capture {
        /// Output file (the raw log bytes).
        #[arg(long)]
        out: PathBuf,
        /// Log to capture.
        #[arg(long, default_value = DEFAULT_LOG)]
        log: PathBuf,
        /// Write the baseline even if the host is not configured as HGS requires.
        #[arg(long)]
        skip_validation: bool,
    },
}

/// `hgs agent` subcommands.
#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Create the attestation key (once) and write its public area (TPM2B_PUBLIC) for the verifier.
    Ak {
        /// Output file: the AK's TPM2B_PUBLIC bytes.
        #[arg(long)]
        out: PathBuf,
        /// Agent state directory (holds ak.json, the AK blobs).
        #[arg(long, default_value = DEFAULT_AGENT_STATE)]
        state: PathBuf,
        /// EK to create the AK under: rsa2048 (AK RSA-2048 RSASSA) or ecc-p256 (AK P-256 ECDSA).
        #[arg(long, default_value = "rsa2048")]
        ek: String,
        /// Replace an existing AK.
        #[arg(long)]
        new: bool,
        /// TPM connection.
        #[command(flatten)]
        tcti: TctiArg,
    },
    /// Answer a verifier challenge: activate the credential, quote, attach the log.
    Attest {
        /// The verifier's challenge (JSON from `hgs challenge`).
        #[arg(long)]
        challenge: PathBuf,
        /// Output evidence JSON.
        #[arg(long)]
        out: PathBuf,
        /// TCG log to attach.
        #[arg(long, default_value = DEFAULT_LOG)]
        log: PathBuf,
        /// Agent state directory (from `hgs agent ak`).
        #[arg(long, default_value = DEFAULT_AGENT_STATE)]
        state: PathBuf,
        /// The bound key.
        #[command(flatten)]
        bound_key: BoundKeyOpt,
        /// TPM connection.
        #[command(flatten)]
        tcti: TctiArg,
    },
    /// Attest to an `hgs serve` attestation service on a schedule, keeping the latest signed
    /// result in STATE/token.jwt; transport and server errors are retried with backoff.
    Run {
        /// The service, e.g. `https://hgs.example:8443`.
        #[arg(long)]
        server: String,
        /// This host's registered name.
        #[arg(long)]
        host: String,
        /// PEM certificate to trust for the service (the one `hgs serve` printed, or its CA);
        /// default: the public web PKI roots.
        #[arg(long)]
        server_cert: Option<PathBuf>,
        /// Seconds between attestations.
        #[arg(long, default_value_t = 3600)]
        interval: u64,
        /// One attestation, then exit: 0 when Passed, 1 when refused, 2 when it could not be done.
        #[arg(long)]
        once: bool,
        /// Retries of a failed round (transport or server error) before giving up on it.
        #[arg(long, default_value_t = 5)]
        retries: u32,
        /// TCG log to attach.
        #[arg(long, default_value = DEFAULT_LOG)]
        log: PathBuf,
        /// Agent state directory (from `hgs agent ak`).
        #[arg(long, default_value = DEFAULT_AGENT_STATE)]
        state: PathBuf,
        /// The bound key.
        #[command(flatten)]
        bound_key: BoundKeyOpt,
        /// TPM connection.
        #[command(flatten)]
        tcti: TctiArg,
    },
    /// Secrets released by the service's key service to this host (attesting first when the
    /// saved token will not do), decrypted in the TPM.
    #[command(subcommand)]
    Secret(crate::agent_keys::SecretCmd),
    /// Key protectors opened by the service for this host: the transport key, decrypted in the
    /// TPM.
    #[command(subcommand)]
    KeyProtector(crate::agent_keys::AgentKeyProtectorCmd),
}

/// `hgs swtpm` subcommands.
#[derive(Debug, Subcommand)]
pub enum SwtpmCmd {
    /// Manufacture (if needed) and start a software TPM in DIR; prints the TCTI to export.
    Start {
        /// State directory.
        #[arg(long, default_value = "hgs-swtpm")]
        dir: PathBuf,
    },
    /// Stop the software TPM started in DIR (by the PID in DIR/swtpm.pid).
    Stop {
        /// State directory.
        #[arg(long, default_value = "hgs-swtpm")]
        dir: PathBuf,
    },
    /// Extend the TPM's PCRs with every extendable event of LOG, in every bank the TPM has.
    ReplayLog {
        /// The TCG log.
        log: PathBuf,
        /// TPM connection.
        #[command(flatten)]
        tcti: TctiArg,
    },
}

/// Writes `bytes` to `path` (through a temporary file and rename, so readers never see half).
fn write_out(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    hgs_cli::store::write_atomic(path, bytes).map_err(anyhow::Error::from)
}

#[cfg(feature = "tpm")]
fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_out(path, &bytes)
}

/// Runs `hgs baseline ...`.
pub fn run_baseline(cmd: BaselineCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BaselineCmd::Capture {
            out,
            log,
            skip_validation,
        } => {
            let bytes = read_file(&log)?;
            // Like Get-HgsAttestationBaselinePolicy: the reference host must have Secure Boot on,
            // an IOMMU required, VBS running and a CI policy applied. --skip-validation only
            // silences these errors; the captured bytes are the same either way.
            let problems = hgs_agent::baseline::validate_capture(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", log.display()))?;
            if !problems.is_empty() {
                if skip_validation {
                    for p in &problems {
                        eprintln!("hgs: warning (validation skipped): {p}");
                    }
                } else {
                    anyhow::bail!(
                        "{}: not a valid HGS reference host: {} (use --skip-validation to capture anyway)",
                        log.display(),
                        problems
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    );
                }
            }
            write_out(&out, &bytes)?;
            use sha2::Digest as _;
            println!(
                "wrote {} ({} bytes, sha256 {}) from {}",
                out.display(),
                bytes.len(),
                crate::util::hex(&sha2::Sha256::digest(&bytes)),
                log.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(not(feature = "tpm"))]
fn no_tpm() -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "this hgs was built without TPM support; rebuild with `cargo build -p hgs-cli --features tpm` \
         (needs the Debian/Ubuntu package libtss2-dev)"
    )
}

/// Runs `hgs platform-identifier`.
#[cfg(not(feature = "tpm"))]
pub fn run_platform_identifier(_args: PlatformIdentifierArgs) -> anyhow::Result<ExitCode> {
    no_tpm()
}

/// Runs `hgs agent ...`.
#[cfg(not(feature = "tpm"))]
pub fn run_agent(_cmd: AgentCmd) -> anyhow::Result<ExitCode> {
    no_tpm()
}

/// Runs `hgs swtpm ...`.
#[cfg(not(feature = "demo"))]
pub fn run_swtpm(_cmd: SwtpmCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "hgs swtpm needs the software-TPM harness: rebuild with --features demo (needs libtss2-dev, swtpm, swtpm-tools)"
    )
}

#[cfg(feature = "demo")]
pub use with_tpm::run_swtpm;
#[cfg(feature = "tpm")]
pub(crate) use with_tpm::{bound_key_for, load_ak_state, open};
#[cfg(feature = "tpm")]
pub use with_tpm::{run_agent, run_platform_identifier};

#[cfg(feature = "tpm")]
mod with_tpm {
    use super::*;
    use anyhow::Context;
    use hgs_agent::client;
    use hgs_agent::tpm::ak::{self, AkState};
    use hgs_agent::tpm::answer::{ak_state_path, load_ak_state as load_state};
    use hgs_agent::tpm::bound_key::{BoundKey, BoundKeyKind};
    use hgs_agent::tpm::ek::{platform_eks, EkProfile};
    use hgs_agent::tpm::key_state::{bound_key_path, ensure_bound_key, KeyOrigin};
    use hgs_agent::tpm::platform as wire;
    use hgs_agent::tpm::{resolve_tcti, Tpm};

    pub(crate) fn open(tcti: &TctiArg) -> anyhow::Result<Tpm> {
        let t = resolve_tcti(tcti.tcti.as_deref());
        Ok(Tpm::open(&t)?)
    }

    /// Runs `hgs platform-identifier`.
    pub fn run_platform_identifier(args: PlatformIdentifierArgs) -> anyhow::Result<ExitCode> {
        let mut tpm = open(&args.tcti)?;
        let eks = platform_eks(&mut tpm)?;
        let id = wire::platform_identifier(&args.name, &eks);
        write_json(&args.out, &id)?;
        for e in &eks {
            println!(
                "{}: EKpub {}, EK certificate {}",
                e.profile,
                match (&e.public, &e.public_error) {
                    (Some(p), _) => format!("{} bytes", p.len()),
                    (None, Some(err)) => format!("unavailable ({err})"),
                    (None, None) => "unavailable".into(),
                },
                match &e.certificate {
                    Some(c) => format!("{} bytes from NV {:#010x}", c.len(), e.cert_nv_index),
                    None => format!("none (NV {:#010x} not defined)", e.cert_nv_index),
                }
            );
        }
        println!("wrote {}", args.out.display());
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn load_ak_state(state: &std::path::Path) -> anyhow::Result<AkState> {
        load_state(state).map_err(|e| match e {
            hgs_agent::tpm::answer::StateError::Read { .. } => {
                anyhow::Error::from(e).context("no AK yet: run `hgs agent ak` first")
            }
            other => other.into(),
        })
    }

    /// Runs `hgs agent ...`.
    pub fn run_agent(cmd: AgentCmd) -> anyhow::Result<ExitCode> {
        match cmd {
            AgentCmd::Ak {
                out,
                state,
                ek,
                new,
                tcti,
            } => {
                let profile = EkProfile::from_name(&ek)
                    .filter(|p| p.is_low_range())
                    .with_context(|| format!("--ek {ek:?}: expected rsa2048 or ecc-p256"))?;
                let path = ak_state_path(&state);
                let st = if path.exists() && !new {
                    load_ak_state(&state)?
                } else {
                    let mut tpm = open(&tcti)?;
                    let st = ak::create_ak(&mut tpm, profile)?;
                    std::fs::create_dir_all(&state)
                        .with_context(|| format!("cannot create {}", state.display()))?;
                    write_json(&path, &st)?;
                    st
                };
                let public = st
                    .public_bytes()
                    .with_context(|| format!("{}: public is not hex", path.display()))?;
                write_out(&out, &public)?;
                println!(
                    "AK under EK {} (name {}), state {}, public written to {}",
                    st.ek_profile,
                    st.name,
                    path.display(),
                    out.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            AgentCmd::Attest {
                challenge,
                out,
                log,
                state,
                bound_key,
                tcti,
            } => {
                let bytes = read_file(&challenge)?;
                let ch: hgs_attest::ChallengeMessage = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{}: not a challenge", challenge.display()))?;
                let log_bytes = read_file(&log)?;
                let st = load_ak_state(&state)?;
                let mut tpm = open(&tcti)?;
                let key = bound_key_for(&mut tpm, &state, &st, &bound_key)?;
                let ev =
                    hgs_agent::tpm::answer::answer(&mut tpm, &ch, &log_bytes, &st, Some(&key))?;
                write_json(&out, &ev)?;
                println!(
                    "credential activated; quoted PCRs {} in {}; bound key ({}) certified; evidence written to {}",
                    ch.pcrs,
                    ev.quotes
                        .iter()
                        .map(|q| q.bank.map_or("?", hgs_tpm::HashAlg::name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    key.kind,
                    out.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            AgentCmd::Secret(cmd) => crate::agent_keys::run_secret(cmd),
            AgentCmd::KeyProtector(cmd) => crate::agent_keys::run_key_protector(cmd),
            AgentCmd::Run {
                server,
                host,
                server_cert,
                interval,
                once,
                retries,
                log,
                state,
                bound_key,
                tcti,
            } => {
                let st = load_ak_state(&state)?;
                let ak_public = st.public_bytes().context("AK state: public is not hex")?;
                let http = client::Client::new(&server, server_cert.as_deref())?;
                let interval = std::time::Duration::from_secs(interval.max(1));
                let key = {
                    let mut tpm = open(&tcti)?;
                    bound_key_for(&mut tpm, &state, &st, &bound_key)?
                };
                loop {
                    let mut attempt = 0;
                    let result = loop {
                        match round(&http, &host, &ak_public, &log, &st, &key, &tcti) {
                            Ok(a) => break Ok(a),
                            Err(e) if e.retryable() && attempt < retries => {
                                let wait = client::backoff(attempt, interval);
                                eprintln!(
                                    "attestation failed: {:#}; retrying in {}s",
                                    anyhow::Error::from(e),
                                    wait.as_secs()
                                );
                                std::thread::sleep(wait);
                                attempt += 1;
                            }
                            Err(e) => break Err(e),
                        }
                    };
                    let passed = match result {
                        Ok(a) => {
                            print!("{}", a.verdict);
                            if let Some(token) = &a.token {
                                hgs_agent::private_file::write_private(
                                    &client::token_path(&state),
                                    token.as_bytes(),
                                )?;
                                println!(
                                    "attestation result saved to {}",
                                    client::token_path(&state).display()
                                );
                            }
                            a.verdict.passed()
                        }
                        Err(e) if once => {
                            return Err(anyhow::Error::from(e).context("attestation failed"))
                        }
                        Err(e) => {
                            eprintln!(
                                "attestation failed: {:#} (next try in {}s)",
                                anyhow::Error::from(e),
                                interval.as_secs()
                            );
                            false
                        }
                    };
                    if once {
                        return Ok(if passed {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::from(1)
                        });
                    }
                    std::thread::sleep(interval);
                }
            }
        }
    }

    /// The agent's bound key in `state` (created, or replaced, as `opt` and the AK ask; see
    /// `hgs_agent::tpm::key_state::ensure_bound_key`), saying so when it is new.
    pub(crate) fn bound_key_for(
        tpm: &mut Tpm,
        state: &std::path::Path,
        st: &AkState,
        opt: &BoundKeyOpt,
    ) -> anyhow::Result<BoundKey> {
        let want = opt.bound_key.map(|k| match k {
            BoundKeyArg::Rsa => BoundKeyKind::Rsa2048,
            BoundKeyArg::Ecc => BoundKeyKind::EccP256,
        });
        let (key, origin) = ensure_bound_key(tpm, state, st, want)?;
        match origin {
            KeyOrigin::Saved => {}
            KeyOrigin::Created => eprintln!(
                "created the bound key ({}) in {}",
                key.kind,
                bound_key_path(state).display()
            ),
            KeyOrigin::Replaced => eprintln!(
                "replaced the bound key with a new {} key under EK {} in {}",
                key.kind,
                key.ek,
                bound_key_path(state).display()
            ),
        }
        Ok(key)
    }

    /// Answers a challenge with the TPM (`hgs_agent::tpm::answer`), certifying `key`.
    fn answer(
        ch: &hgs_attest::ChallengeMessage,
        log_bytes: &[u8],
        st: &AkState,
        key: &BoundKey,
        tcti: &TctiArg,
    ) -> anyhow::Result<hgs_attest::Evidence> {
        let mut tpm = open(tcti)?;
        Ok(hgs_agent::tpm::answer::answer(
            &mut tpm,
            ch,
            log_bytes,
            st,
            Some(key),
        )?)
    }

    /// One round with the service: challenge, answer, verdict.
    fn round(
        http: &client::Client,
        host: &str,
        ak_public: &[u8],
        log: &std::path::Path,
        st: &AkState,
        key: &BoundKey,
        tcti: &TctiArg,
    ) -> Result<client::Attested, client::RoundError> {
        let ch = http.challenge(host, ak_public)?;
        // The log is read each round: it grows as the host runs (new events on PCRs 11-14).
        let log_bytes = read_file(log).map_err(|e| client::RoundError::Tpm(e.into()))?;
        let ev = answer(&ch, &log_bytes, st, key, tcti)
            .map_err(|e| client::RoundError::Tpm(e.into()))?;
        http.attest(&ev)
    }

    /// Runs `hgs swtpm ...`.
    #[cfg(feature = "demo")]
    pub fn run_swtpm(cmd: SwtpmCmd) -> anyhow::Result<ExitCode> {
        match cmd {
            SwtpmCmd::Start { dir } => {
                let (tcti, pid) = hgs_testkit::swtpm::start_daemon(&dir)?;
                println!("swtpm running (pid {pid}, state {})", dir.display());
                println!("export TPM2TOOLS_TCTI=\"{tcti}\"");
                Ok(ExitCode::SUCCESS)
            }
            SwtpmCmd::Stop { dir } => {
                let pid = hgs_testkit::swtpm::stop_daemon(&dir)?;
                println!("stopped swtpm pid {pid}");
                Ok(ExitCode::SUCCESS)
            }
            SwtpmCmd::ReplayLog { log, tcti } => {
                let bytes = read_file(&log)?;
                let mut tpm = open(&tcti)?;
                let n = hgs_agent::tpm::pcr::replay_log(&mut tpm, &bytes)
                    .with_context(|| format!("{}: replay", log.display()))?;
                println!("extended {n} events from {}", log.display());
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}
