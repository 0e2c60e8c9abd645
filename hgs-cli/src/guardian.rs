//! `hgs guardian`: guardians, the key pairs key protectors are wrapped to.
//!
//! - `hgs guardian new` (`New-HgsGuardian -GenerateCertificates`): an owner's guardian, a P-256
//!   key pair and its self-signed certificate, written as PEM (the private key 0600, never
//!   overwritten).
//! - `hgs guardian export` (`Export-HgsGuardian`): a service guardian's certificate fetched from
//!   `hgs serve` (`GET /v1/guardians/{name}`, public, no token), checked to be a guardian.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use hgs_kps::{Guardian, GuardianKey};

/// `hgs guardian` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Make a guardian key pair (New-HgsGuardian): certificate and private key as PEM files.
    New(NewArgs),
    /// Fetch a service guardian's certificate from a server (Export-HgsGuardian).
    Export(ExportArgs),
}

/// `hgs guardian new` options.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The guardian's name: its certificate's subject CN (at most 64 bytes).
    #[arg(long)]
    name: String,
    /// Where the certificate (PEM) is written.
    #[arg(long)]
    cert_out: PathBuf,
    /// Where the private key (PKCS#8 PEM) is written: created with mode 0600, never overwritten.
    #[arg(long)]
    key_out: PathBuf,
    /// Days the certificate is valid (its dates are informational: nothing checks them).
    #[arg(long, default_value_t = 3650)]
    days: u64,
}

/// `hgs guardian export` options.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The server, `https://host:port`.
    #[arg(long)]
    server: String,
    /// The server's TLS certificate (PEM) to trust, instead of the web PKI roots.
    #[arg(long)]
    server_cert: Option<PathBuf>,
    /// Which service guardian.
    #[arg(long, default_value = hgs_server::DEFAULT_GUARDIAN)]
    name: String,
    /// Where the certificate (PEM) is written.
    #[arg(long)]
    out: PathBuf,
}

/// Runs a `hgs guardian` verb.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::New(args) => new(&args),
        Cmd::Export(args) => export(&args),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn new(args: &NewArgs) -> anyhow::Result<ExitCode> {
    let start = now();
    let end = start
        .saturating_add(args.days.saturating_mul(86_400))
        .min(hgs_kps::MAX_GUARDIAN_NOT_AFTER);
    let key = GuardianKey::generate(&args.name, start, end, &mut rand_core::OsRng)
        .context("cannot make the guardian")?;
    write_private(&args.key_out, key.private_pem().as_bytes())?;
    std::fs::write(&args.cert_out, key.certificate_pem())
        .with_context(|| format!("writing {}", args.cert_out.display()))?;
    println!(
        "guardian {} (fingerprint {}): certificate {}, private key {} (mode 0600)",
        key.guardian().name(),
        key.guardian().fingerprint(),
        args.cert_out.display(),
        args.key_out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key file: created exclusively (an existing key is never replaced), 0600.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| {
        format!(
            "creating {} (an existing key file is never overwritten)",
            path.display()
        )
    })?;
    std::io::Write::write_all(&mut f, bytes)?;
    f.sync_all()?;
    Ok(())
}

fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let client = crate::admin::https_client(
        &args.server,
        args.server_cert.as_deref(),
        Duration::from_secs(30),
    )?;
    let name = hgs_policy::Name::new(&args.name).context("--name")?;
    let url = format!(
        "{}/v1/guardians/{}",
        args.server.trim_end_matches('/'),
        name.as_str()
    );
    let resp = client
        .get(&url)
        .send()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let text = resp.text().context("reading the answer")?;
    if !status.is_success() {
        bail!(
            "GET {url}: {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    let guardian = Guardian::from_pem(&text).context("the server's answer is not a guardian")?;
    std::fs::write(&args.out, guardian_pem(&text))
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "guardian {} (fingerprint {}) written to {}",
        guardian.name(),
        guardian.fingerprint(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn guardian_pem(text: &str) -> String {
    let mut t = text.trim().to_owned();
    t.push('\n');
    t
}
