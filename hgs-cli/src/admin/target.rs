//! Which backend an admin verb acts on: the file store (`--store DIR`, the default) or a running
//! `hgs serve` (`--server URL`).
//!
//! The server and its credentials come from, first to last: the flags (`--server`,
//! `--server-cert`, `--admin-token-file`); the environment (`HGS_SERVER`, `HGS_SERVER_CERT`,
//! `HGS_ADMIN_TOKEN_FILE`, or the token itself in `HGS_ADMIN_TOKEN`); the config file
//! (`$HGS_CONFIG`, else `$XDG_CONFIG_HOME/hgs/config.json`, else `~/.config/hgs/config.json`):
//!
//! ```json
//! { "server": "https://hgs.example:8443", "server_cert": "/etc/hgs/cert.pem",
//!   "admin_token_file": "/etc/hgs/admin-token" }
//! ```
//!
//! An explicit `--store` always means the file store; `--store` with `--server` is refused.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use hgs_cli::store::verbs::DEFAULT_STORE_DIR;

use super::backend::{FileRegistry, Registry};
use super::server::ServerRegistry;

/// `--store DIR` or `--server URL [--server-cert PEM] [--admin-token-file FILE]`.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Store directory (created on first write; default ./hgs-store).
    #[arg(long = "store", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Administer a running `hgs serve` instead (https://host:port; also $HGS_SERVER or the
    /// config file).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The server's certificate or its CA, PEM (default: the web PKI roots; also
    /// $HGS_SERVER_CERT).
    #[arg(long, value_name = "PEM")]
    pub server_cert: Option<PathBuf>,
    /// File holding the admin token (also $HGS_ADMIN_TOKEN_FILE, or the token in
    /// $HGS_ADMIN_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

/// The config file's fields.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    server: Option<String>,
    server_cert: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
}

fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HGS_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("hgs").join("config.json"))
}

fn read_config() -> anyhow::Result<Config> {
    let Some(path) = config_path() else {
        return Ok(Config::default());
    };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not an hgs config file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the admin token file {}", path.display()))?;
    let token = raw.trim().to_string();
    if token.is_empty() {
        bail!("the admin token file {} is empty", path.display());
    }
    Ok(token)
}

impl Target {
    /// The file store directory, for verbs that only work on one (`hgs challenge`, `hgs attest`).
    pub fn store_dir(&self) -> PathBuf {
        self.store
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE_DIR))
    }

    /// Opens the backend these arguments name.
    pub fn open(&self) -> anyhow::Result<Box<dyn Registry>> {
        if self.store.is_some() && self.server.is_some() {
            bail!("give --store or --server, not both");
        }
        if let Some(dir) = &self.store {
            return Ok(Box::new(FileRegistry::open(dir.clone())?));
        }
        let config = read_config()?;
        let server = self
            .server
            .clone()
            .or_else(|| std::env::var("HGS_SERVER").ok().filter(|s| !s.is_empty()))
            .or(config.server);
        let Some(server) = server else {
            return Ok(Box::new(FileRegistry::open(self.store_dir())?));
        };
        let cert = self
            .server_cert
            .clone()
            .or_else(|| env_path("HGS_SERVER_CERT"))
            .or(config.server_cert);
        let token = match self
            .admin_token_file
            .clone()
            .or_else(|| env_path("HGS_ADMIN_TOKEN_FILE"))
        {
            Some(file) => read_token(&file)?,
            None => match std::env::var("HGS_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
            {
                Some(t) => t,
                None => match &config.admin_token_file {
                    Some(file) => read_token(file)?,
                    None => bail!(
                        "--server needs the admin token: --admin-token-file FILE, \
                         $HGS_ADMIN_TOKEN_FILE, $HGS_ADMIN_TOKEN or the config file"
                    ),
                },
            },
        };
        Ok(Box::new(ServerRegistry::new(
            &server,
            cert.as_deref(),
            token,
        )?))
    }
}
