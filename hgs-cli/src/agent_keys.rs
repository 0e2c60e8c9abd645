//! The agent's side of key protection: `hgs agent secret get NAME` and
//! `hgs agent key-protector unwrap KP`.
//!
//! Both run the same steps: the AK and the bound key from the state directory (the key is made
//! on first use); the saved token if it is still worth presenting (signed by the service's
//! current key, Passed, not about to expire, its `cnf` naming *this* agent's bound key), else a
//! fresh attestation (challenge, answer certifying the bound key, verdict, token saved 0600);
//! the release, with the token as bearer; the JWE decrypted with the bound key *in the TPM*
//! (TPM2_RSA_Decrypt / TPM2_ECDH_ZGen); the plaintext written to a file created mode 0600, or to
//! stdout. A refusal on a saved token is answered by attesting afresh and asking once more; a
//! refusal on a fresh token is printed with the service's reason, exit 1. Status goes to stderr,
//! so stdout carries nothing but the plaintext.

use std::path::PathBuf;
#[cfg(feature = "tpm")]
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::host::{BoundKeyOpt, TctiArg, DEFAULT_AGENT_STATE, DEFAULT_LOG};

/// How the agent reaches the service, and its TPM and state: the options of `hgs agent run`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service, e.g. `https://hgs.example:8443`.
    #[arg(long)]
    pub server: String,
    /// This host's registered name.
    #[arg(long)]
    pub host: String,
    /// PEM certificate to trust for the service (the one `hgs serve` printed, or its CA);
    /// default: the public web PKI roots.
    #[arg(long)]
    pub server_cert: Option<PathBuf>,
    /// TCG log to attach when the agent has to attest.
    #[arg(long, default_value = DEFAULT_LOG)]
    pub log: PathBuf,
    /// Agent state directory (from `hgs agent ak`; holds the bound key and the token).
    #[arg(long, default_value = DEFAULT_AGENT_STATE)]
    pub state: PathBuf,
    /// The bound key.
    #[command(flatten)]
    pub bound_key: BoundKeyOpt,
    /// TPM connection.
    #[command(flatten)]
    pub tcti: TctiArg,
}

/// `hgs agent secret` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Ask the key service for secret NAME and decrypt it in the TPM. Exit 0 with the secret,
    /// 1 when attestation or the release is refused (the reason printed), 2 on other errors.
    Get {
        /// The secret's name.
        name: String,
        /// Write the secret here (created mode 0600); default: stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Service, state and TPM.
        #[command(flatten)]
        service: ServiceArgs,
    },
}

/// `hgs agent key-protector` subcommands.
#[derive(Debug, Subcommand)]
pub enum AgentKeyProtectorCmd {
    /// Present key protector KP (`hgs key-protector new`) to the key service, which opens it
    /// as a guardian it holds and returns the transport key to this host's bound key; decrypt
    /// it in the TPM. Exit codes as `secret get`.
    Unwrap {
        /// The key protector document (`hgs-key-protector/1`).
        key_protector: PathBuf,
        /// Write the 32-octet transport key here, raw (created mode 0600); default: stdout, as
        /// 64 hex digits and a newline.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Service, state and TPM.
        #[command(flatten)]
        service: ServiceArgs,
    },
}

/// Runs `hgs agent secret ...`.
#[cfg(feature = "tpm")]
pub fn run_secret(cmd: SecretCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        SecretCmd::Get { name, out, service } => {
            // Checked before the TPM or the service is asked anything.
            hgs_attest::policy::Name::new(&name)
                .map_err(anyhow::Error::from)
                .map_err(|e| e.context(format!("{name:?} is not a secret name")))?;
            let released =
                with_tpm::release(&service, |http, token| http.release_secret(token, &name))?;
            let plaintext = match released {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            with_tpm::emit(out.as_deref(), &plaintext, &plaintext)?;
            if let Some(out) = &out {
                eprintln!(
                    "secret {name:?} ({} bytes) written to {}",
                    plaintext.len(),
                    out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `hgs agent key-protector ...`.
#[cfg(feature = "tpm")]
pub fn run_key_protector(cmd: AgentKeyProtectorCmd) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    match cmd {
        AgentKeyProtectorCmd::Unwrap {
            key_protector,
            out,
            service,
        } => {
            let bytes = crate::util::read_file(&key_protector)?;
            // Read here first: a document the service would refuse as malformed costs no
            // attestation.
            let kp = hgs_kps::KeyProtector::parse(&bytes)
                .with_context(|| format!("{}: not a key protector", key_protector.display()))?;
            let released = with_tpm::release(&service, |http, token| {
                http.unwrap_key_protector(token, &bytes)
            })?;
            let plaintext = match released {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let key: [u8; hgs_kps::TRANSPORT_KEY_LEN] =
                plaintext.as_slice().try_into().map_err(|_| {
                    anyhow::anyhow!(
                        "the service released {} octets, not a {}-octet transport key",
                        plaintext.len(),
                        hgs_kps::TRANSPORT_KEY_LEN
                    )
                })?;
            let key = hgs_kps::TransportKey::from_bytes(key);
            let mut hex = zeroize::Zeroizing::new(crate::util::hex(key.as_bytes()));
            hex.push('\n');
            with_tpm::emit(out.as_deref(), key.as_bytes(), hex.as_bytes())?;
            eprintln!(
                "key protector {} opened by the service; transport key {}",
                hgs_tpm::hex::encode(kp.id()),
                match &out {
                    Some(out) => format!("written to {}", out.display()),
                    None => "on stdout".into(),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(feature = "tpm")]
mod with_tpm {
    use std::io::Write as _;
    use std::path::Path;
    use std::process::ExitCode;

    use anyhow::Context as _;
    use hgs_agent::client::{self, Client, ReleaseError};
    use hgs_agent::tpm::ak::AkState;
    use hgs_agent::tpm::bound_key::BoundKey;
    use hgs_agent::tpm::unwrap::TpmUnwrap;
    use hgs_agent::tpm::Tpm;
    use zeroize::Zeroizing;

    use super::ServiceArgs;
    use crate::host::{bound_key_for, load_ak_state, open};

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// The agent's pieces for one release.
    struct Agent<'a> {
        args: &'a ServiceArgs,
        tpm: Tpm,
        ak: AkState,
        ak_public: Vec<u8>,
        key: BoundKey,
        jwk: hgs_keys::BoundKey,
        http: Client,
    }

    impl Agent<'_> {
        /// The saved token, if it is worth presenting (else why not, printed).
        fn saved_token(&self) -> anyhow::Result<Option<String>> {
            let path = client::token_path(&self.args.state);
            let token = match std::fs::read_to_string(&path) {
                Ok(t) => t.trim().to_string(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => {
                    return Err(
                        anyhow::Error::from(e).context(format!("cannot read {}", path.display()))
                    )
                }
            };
            let jwk = self.http.token_key()?;
            match client::check_saved_token(&token, &jwk, now(), &self.jwk) {
                Ok(_) => Ok(Some(token)),
                Err(why) => {
                    eprintln!(
                        "the saved token will not do ({:#}); attesting",
                        anyhow::Error::from(why)
                    );
                    Ok(None)
                }
            }
        }

        /// A fresh attestation: the token, or the exit code of a refusal (verdict printed).
        fn attest(&mut self) -> anyhow::Result<Result<String, ExitCode>> {
            let a = &self.args;
            let ch = self.http.challenge(&a.host, &self.ak_public)?;
            let log = crate::util::read_file(&a.log)?;
            let ev = hgs_agent::tpm::answer::answer(
                &mut self.tpm,
                &ch,
                &log,
                &self.ak,
                Some(&self.key),
            )?;
            let attested = self.http.attest(&ev)?;
            match attested.token {
                Some(token) if attested.verdict.passed() => {
                    hgs_agent::private_file::write_private(
                        &client::token_path(&a.state),
                        token.as_bytes(),
                    )?;
                    eprintln!(
                        "attested: {:?} (token saved to {})",
                        attested.verdict.status,
                        client::token_path(&a.state).display()
                    );
                    Ok(Ok(token))
                }
                _ => {
                    eprint!("{}", attested.verdict);
                    eprintln!(
                        "hgs: attestation did not pass ({:?}): nothing is released to this host",
                        attested.verdict.status
                    );
                    Ok(Err(ExitCode::from(1)))
                }
            }
        }
    }

    /// A release that will not happen: a refusal is printed with the service's reason (exit
    /// 1); anything else is an error.
    fn give_up<T>(e: ReleaseError) -> anyhow::Result<Result<T, ExitCode>> {
        match &e {
            ReleaseError::Refused { reason, message } => {
                eprintln!("hgs: release refused: {reason}: {message}");
            }
            ReleaseError::InvalidToken { message } => {
                eprintln!("hgs: release refused: invalid_token: {message}");
            }
            ReleaseError::NotFound { message } => {
                eprintln!("hgs: release refused: not_found: {message}");
            }
            _ => return Err(e.into()),
        }
        Ok(Err(ExitCode::from(1)))
    }

    /// The whole flow for one release `ask` (see the module docs): the plaintext, or the exit
    /// code of a refusal that was printed.
    pub(super) fn release(
        args: &ServiceArgs,
        ask: impl Fn(&Client, &str) -> Result<String, ReleaseError>,
    ) -> anyhow::Result<Result<Zeroizing<Vec<u8>>, ExitCode>> {
        let ak = load_ak_state(&args.state)?;
        let ak_public = ak.public_bytes().context("AK state: public is not hex")?;
        let mut tpm = open(&args.tcti)?;
        let key = bound_key_for(&mut tpm, &args.state, &ak, &args.bound_key)?;
        let jwk = key.jwk().context("the bound key's public area")?;
        let http = Client::new(&args.server, args.server_cert.as_deref())?;
        let mut agent = Agent {
            args,
            tpm,
            ak,
            ak_public,
            key,
            jwk,
            http,
        };

        let first = match agent.saved_token()? {
            Some(token) => Some(ask(&agent.http, &token)),
            None => None,
        };
        let jwe = match first {
            Some(Ok(jwe)) => jwe,
            Some(Err(e)) if !e.refuses_token() => return give_up(e),
            first => {
                if let Some(Err(e)) = first {
                    eprintln!(
                        "the saved token was refused ({:#}); attesting",
                        anyhow::Error::from(e)
                    );
                }
                let token = match agent.attest()? {
                    Ok(token) => token,
                    Err(code) => return Ok(Err(code)),
                };
                match ask(&agent.http, &token) {
                    Ok(jwe) => jwe,
                    Err(e) => return give_up(e),
                }
            }
        };
        let plaintext = hgs_keys::decrypt(
            &jwe,
            &agent.jwk,
            &mut TpmUnwrap::new(&mut agent.tpm, &agent.key),
        )
        .context("the released JWE does not decrypt with this host's bound key")?;
        Ok(Ok(Zeroizing::new(plaintext)))
    }

    /// Writes `raw` to `out` (created mode 0600, atomically), or `text` to stdout.
    pub(super) fn emit(out: Option<&Path>, raw: &[u8], text: &[u8]) -> anyhow::Result<()> {
        match out {
            Some(path) => Ok(hgs_agent::private_file::write_private(path, raw)?),
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(text).context("cannot write to stdout")?;
                stdout.flush().context("cannot write to stdout")?;
                Ok(())
            }
        }
    }
}
