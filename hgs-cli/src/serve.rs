//! `hgs serve`: runs the attestation service (`hgs-server`) over HTTPS.
//!
//! With no options it works out of the box: SQLite at `./hgs-server.db`, a self-signed
//! certificate generated at start (its SHA-256 fingerprint printed, its PEM written next to the
//! database for clients to trust), an admin token generated once into `./hgs-admin-token`
//! (mode 0600), a master key generated once into `hgs-master-key` next to the database (mode
//! 0600; it seals secrets, guardian keys and the token key in the database), and the token
//! signing key generated once into the database.
//!
//! Master key rotation: `hgs serve --master-key-file NEW --previous-master-key-file OLD`
//! re-seals every value under NEW at start, in one transaction (a crash leaves every value
//! under OLD or NEW; rerun the same command). Then start with `--master-key-file NEW` alone and
//! destroy OLD. Every replica of one PostgreSQL database must use the same key file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hgs_server::{PostgresStore, Server, ServerConfig, SqliteStore, Store, TlsIdentity};

/// `hgs serve` options.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Database: `sqlite:PATH` (embedded, the default) or `postgres://...` (shared by replicas).
    #[arg(long, default_value = "sqlite:hgs-server.db")]
    db: String,
    /// TLS certificate chain (PEM). Without it, a self-signed certificate is generated.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// File holding the administrators' bearer token (else $HGS_ADMIN_TOKEN, else one is
    /// generated into ./hgs-admin-token).
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Token signing key (P-256, PKCS#8 PEM). Without it, the key kept in the database
    /// (generated on first start) is used.
    #[arg(long)]
    token_key: Option<PathBuf>,
    /// The master key file (64 hex digits, mode 0600) sealing secrets, guardian keys and the
    /// token key in the database. Default: `hgs-master-key` next to a SQLite database (in the
    /// working directory for PostgreSQL). Generated (0600) when the file does not exist.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// The master key being rotated away from: every value sealed under it is re-sealed under
    /// --master-key-file at start (one transaction).
    #[arg(long)]
    previous_master_key_file: Option<PathBuf>,
    /// Lifetime of attestation tokens, in seconds.
    #[arg(long, default_value_t = hgs_server::DEFAULT_TOKEN_LIFETIME)]
    token_lifetime: u64,
    /// Seconds a challenge may be answered in.
    #[arg(long, default_value_t = hgs_server::DEFAULT_CHALLENGE_TTL)]
    challenge_ttl: u64,
    /// PostgreSQL connections per server.
    #[arg(long, default_value_t = 16)]
    db_connections: u32,
    /// Where the generated self-signed certificate's PEM is written.
    #[arg(long, default_value = "hgs-server-cert.pem")]
    cert_out: PathBuf,
    /// File holding a read-only operator token for `/status` (else $HGS_OPERATOR_TOKEN, else
    /// only the admin token opens it).
    #[arg(long)]
    operator_token_file: Option<PathBuf>,
    /// Host-endpoint requests per second per client address (IPv6: per /64); 0 disables the
    /// limit (e.g. behind a proxy that limits).
    #[arg(long, default_value_t = 20)]
    rate_per_client: u32,
    /// Burst of host-endpoint requests per client address.
    #[arg(long, default_value_t = 200)]
    burst_per_client: u32,
    /// Challenges per second per registered host name; 0 disables the limit.
    #[arg(long, default_value_t = 1)]
    rate_per_host: u32,
    /// Burst of challenges per host name.
    #[arg(long, default_value_t = 10)]
    burst_per_host: u32,
}

fn operator_token(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.operator_token_file {
        let t = std::fs::read_to_string(path)
            .with_context(|| format!("reading the operator token {}", path.display()))?;
        return Ok(Some(t.trim().to_owned()));
    }
    Ok(std::env::var("HGS_OPERATOR_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned()))
}

const GENERATED_TOKEN_FILE: &str = "hgs-admin-token";

fn admin_token(args: &ServeArgs) -> anyhow::Result<String> {
    if let Some(path) = &args.admin_token_file {
        let t = std::fs::read_to_string(path)
            .with_context(|| format!("reading the admin token {}", path.display()))?;
        return Ok(t.trim().to_owned());
    }
    if let Ok(t) = std::env::var("HGS_ADMIN_TOKEN") {
        return Ok(t.trim().to_owned());
    }
    let path = Path::new(GENERATED_TOKEN_FILE);
    if path.exists() {
        return Ok(std::fs::read_to_string(path)?.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let token = hgs_tpm::hex::encode(&bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut f, token.as_bytes())?;
    f.sync_all()?;
    eprintln!("generated an admin token into ./{GENERATED_TOKEN_FILE} (mode 0600)");
    Ok(token)
}

const MASTER_KEY_FILE: &str = "hgs-master-key";

/// The master key's file: given, or next to the SQLite database, or in the working directory.
fn master_key_path(args: &ServeArgs) -> PathBuf {
    if let Some(p) = &args.master_key_file {
        return p.clone();
    }
    let db = args
        .db
        .strip_prefix("sqlite:")
        .map(|p| p.trim_start_matches("//"));
    match db {
        Some(path) if !path.contains(":memory:") => {
            Path::new(path.split('?').next().unwrap_or(path))
                .parent()
                .map_or_else(
                    || PathBuf::from(MASTER_KEY_FILE),
                    |d| d.join(MASTER_KEY_FILE),
                )
        }
        _ => PathBuf::from(MASTER_KEY_FILE),
    }
}

fn master_keys(
    args: &ServeArgs,
) -> anyhow::Result<(hgs_server::MasterKey, Option<hgs_server::MasterKey>)> {
    let path = master_key_path(args);
    // Generated when absent, given or not: `--master-key-file NEW --previous-master-key-file
    // OLD` is then the whole rotation. A mistyped path on an existing database fails closed:
    // the rows are sealed under another key, and the server refuses to start naming both ids.
    let (key, generated) = hgs_server::MasterKey::load_or_generate(&path)?;
    if generated {
        eprintln!(
            "generated a master key into {} (mode 0600): back it up apart from the database; without it the secrets stored are lost",
            path.display()
        );
    }
    eprintln!("master key {} ({})", key.id(), path.display());
    let previous = match &args.previous_master_key_file {
        Some(p) => {
            let k = hgs_server::MasterKey::from_file(p)?;
            eprintln!("rotating from master key {} ({})", k.id(), p.display());
            Some(k)
        }
        None => None,
    };
    Ok((key, previous))
}

/// Runs the server until Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::new(admin_token(&args)?);
    config.token_lifetime = args.token_lifetime;
    config.challenge_ttl = args.challenge_ttl;
    config.operator_token = operator_token(&args)?;
    let (master, previous) = master_keys(&args)?;
    config.master_key = Some(master);
    config.previous_master_key = previous;
    config.rate_limits = hgs_server::RateLimits {
        per_client: hgs_server::Rate::new(args.rate_per_client, args.burst_per_client),
        per_host: hgs_server::Rate::new(args.rate_per_host, args.burst_per_host),
    };
    if let Some(path) = &args.token_key {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("reading the token key {}", path.display()))?;
        config.token_key = Some(
            hgs_attest::TokenSigner::from_pkcs8_pem(&pem)
                .with_context(|| format!("{}: not a P-256 PKCS#8 key", path.display()))?,
        );
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => TlsIdentity::from_pem_files(cert, key)?,
        _ => {
            let names = vec!["localhost".to_owned(), args.listen.ip().to_string()];
            let tls = TlsIdentity::self_signed(&names)?;
            std::fs::write(&args.cert_out, tls.certificate_pem())
                .with_context(|| format!("writing {}", args.cert_out.display()))?;
            eprintln!(
                "self-signed TLS certificate for {} written to {}",
                names.join(", "),
                args.cert_out.display()
            );
            tls
        }
    };
    eprintln!("TLS certificate SHA-256 fingerprint: {}", tls.fingerprint());
    if args.db.starts_with("postgres://") || args.db.starts_with("postgresql://") {
        let store = PostgresStore::connect(&args.db, args.db_connections)
            .await
            .context("connecting to PostgreSQL")?;
        run_server(args, config, store, tls).await
    } else if args.db.starts_with("sqlite:") {
        let store = SqliteStore::connect(&args.db)
            .await
            .with_context(|| format!("opening {}", args.db))?;
        run_server(args, config, store, tls).await
    } else {
        anyhow::bail!("--db must be sqlite:PATH or postgres://...")
    }
}

async fn run_server<S: Store>(
    args: ServeArgs,
    config: ServerConfig,
    store: S,
    tls: TlsIdentity,
) -> anyhow::Result<()> {
    let server = Server::new(config, store).await?;
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("listening on {}", args.listen))?;
    let handle = axum_server::Handle::new();
    let stop = handle.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.graceful_shutdown(Some(Duration::from_secs(10)));
        }
    });
    eprintln!("hgs-server listening on https://{}", args.listen);
    server.serve(listener, &tls, handle).await?;
    Ok(())
}
