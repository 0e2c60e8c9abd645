//! The attestation service over [`hgs_attest`]: guarded hosts attest over HTTPS, a `Passed`
//! verdict earns a signed attestation result token, and registrations live in SQLite (embedded
//! default) or in one PostgreSQL database shared by several replicas.
//!
//! - [`Server`]: the axum [`Router`](axum::Router) (the endpoints are in `api.rs`, their bodies
//!   [`ChallengeBody`], [`AttestationResponse`], [`HostRegistration`], ...) over a [`Store`],
//!   served over rustls ([`TlsIdentity`]).
//! - [`Store`]: the storage trait and its two engines ([`SqliteStore`], [`PostgresStore`]);
//!   challenges are consumed atomically, exactly once across replicas.
//! - [`Metrics`]: Prometheus counters and the latency histogram at `/metrics`.
//! - The key protection service (HGS' KPS; `keys/`, endpoints in `api/keys.rs`): secrets
//!   released, and key protectors unwrapped, only to a host whose attestation token still
//!   satisfies the release policy now, encrypted (JWE) to the TPM-bound key the token names.
//!   Secrets, guardian private keys and the token key are sealed in the database under a
//!   [`MasterKey`] from a file (AES-256-GCM); rotation re-seals every value at start in one
//!   transaction (`previous_master_key`).
//!
//! The public surface is the items re-exported here; every module is private.
//!
//! The server reads the clock at the edge ([`Clock`]) and passes `now` to the library; the token
//! key is a P-256 key from a PEM file or generated once and kept in the database, so every
//! replica on one database signs with the same key.
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod api;
mod keys;
mod limits;
mod metrics;
mod status;
mod store;
mod tls;

use std::sync::Arc;

use hgs_attest::TokenSigner;

pub use api::{
    ApiError, AttestationResponse, BaselineRegistration, ChallengeBody, CiPolicyRequest,
    DenyIssuedBefore, ErrorBody, GuardianInfo, HostRegistration, ImportBody, Imported,
    InstalledRoot, PolicyStateEntry, RootInstall, SecretBody, SecretInfo, MAX_AUDIT_LIMIT,
    MAX_BODY_BYTES,
};
pub use keys::{KeyServiceError, MasterKey, MasterKeyError, DEFAULT_GUARDIAN, MASTER_KEY_LEN};
pub use limits::{Limit, Rate, RateLimits, HOUSEKEEPING_EVERY};
pub use metrics::Metrics;
pub use store::{
    AuditRecord, Consumed, GuardianRow, Hosts, KeyStore, PostgresStore, Registry, SealedCell,
    SealedTable, SecretRow, SqliteStore, Store, StoreError, VerdictRecord, MAX_CHALLENGES_PER_HOST,
};
pub use tls::{TlsError, TlsIdentity};

/// How long a token is valid by default: 8 hours, as HGS health certificates.
pub const DEFAULT_TOKEN_LIFETIME: u64 = 8 * 3600;

/// How long a challenge may be answered by default: the library's default maximum challenge age
/// (`hgs_attest::DEFAULT_MAX_CHALLENGE_AGE`, 5 minutes).
pub const DEFAULT_CHALLENGE_TTL: u64 = 300;

/// Requests handled at once per server; more wait in the accept queue (bounded memory).
pub const MAX_IN_FLIGHT: usize = 256;

/// How long a client may take to send a request's head (and a new connection its first
/// request): a connection that trickles bytes is closed instead of holding memory.
pub const REQUEST_HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a client may take to send a request's body (at most [`MAX_BODY_BYTES`]).
pub const REQUEST_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Name of the generated token key in the database's `server_keys` table.
const TOKEN_KEY_NAME: &str = "token-signing-key/p256";

/// The current time in UNIX seconds. The server reads it once per request and passes it on.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        }))
    }

    /// Another time source (e.g. a test's clock that can be moved forward).
    pub fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// Now.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The administrators' bearer token (compared in constant time).
    pub admin_token: String,
    /// A read-only token for operators: `/status` (also open to the admin token), nothing else.
    pub operator_token: Option<String>,
    /// Rate limits on the endpoints anyone can reach.
    pub rate_limits: RateLimits,
    /// Token lifetime in seconds.
    pub token_lifetime: u64,
    /// Seconds a challenge may be answered in.
    pub challenge_ttl: u64,
    /// The token signing key; `None`: the one kept in the database (generated on first start).
    pub token_key: Option<TokenSigner>,
    /// The time source.
    pub clock: Clock,
    /// The master key sealing secrets, guardian keys and the token key in the database
    /// (`hgs serve --master-key-file`). `None`: a random key for this process only (tests,
    /// throwaway servers; a restart, or another replica, then cannot open what it sealed and
    /// refuses to start on that database).
    pub master_key: Option<MasterKey>,
    /// The master key being rotated away from: values sealed under it are re-sealed under
    /// `master_key` at start, in one transaction.
    pub previous_master_key: Option<MasterKey>,
}

impl ServerConfig {
    /// Defaults ([`DEFAULT_TOKEN_LIFETIME`], [`DEFAULT_CHALLENGE_TTL`], key from the database, the
    /// system clock, [`RateLimits::default`], no operator token) with this admin token.
    pub fn new(admin_token: impl Into<String>) -> ServerConfig {
        ServerConfig {
            admin_token: admin_token.into(),
            operator_token: None,
            rate_limits: RateLimits::default(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            challenge_ttl: DEFAULT_CHALLENGE_TTL,
            token_key: None,
            clock: Clock::system(),
            master_key: None,
            previous_master_key: None,
        }
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The admin token is too short to be a secret.
    #[error("the admin token must be at least {MIN_ADMIN_TOKEN_LEN} characters")]
    WeakAdminToken,
    /// The operator token is too short, or is the admin token.
    #[error(
        "the operator token must be at least {MIN_ADMIN_TOKEN_LEN} characters and differ from \
         the admin token"
    )]
    WeakOperatorToken,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored token key is unreadable.
    #[error("the token key stored in the database is unreadable: {0}")]
    TokenKey(#[source] hgs_attest::TokenKeyError),
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The metrics registry refused a metric.
    #[error("metrics: {0}")]
    Metrics(#[source] prometheus::Error),
    /// The key service cannot start (a sealed value the configured master keys cannot open,
    /// storage).
    #[error("key protection service: {0}")]
    KeyService(#[from] KeyServiceError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Shortest admin token accepted (a 128-bit random token is 22+ characters in any encoding).
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// The attestation server: configuration, store, token key and metrics, shared by every request.
#[derive(Debug)]
pub struct Server<S: Store> {
    state: Arc<api::AppState<S>>,
}

impl<S: Store> Clone for Server<S> {
    fn clone(&self) -> Self {
        Server {
            state: self.state.clone(),
        }
    }
}

impl<S: Store> Server<S> {
    /// A server over `store`. Without a configured token key, takes the one in the database,
    /// generating and storing it on first start (insert-if-absent: replicas agree on one key).
    pub async fn new(config: ServerConfig, store: S) -> Result<Server<S>, ServerError> {
        if config.admin_token.trim().len() < MIN_ADMIN_TOKEN_LEN {
            return Err(ServerError::WeakAdminToken);
        }
        if let Some(op) = &config.operator_token {
            if op.trim().len() < MIN_ADMIN_TOKEN_LEN || op.trim() == config.admin_token.trim() {
                return Err(ServerError::WeakOperatorToken);
            }
        }
        let keyring = keys::Keyring {
            current: config
                .master_key
                .clone()
                .unwrap_or_else(MasterKey::generate),
            previous: config.previous_master_key.clone(),
        };
        // Before anything is read: rotation and sealing of a legacy plaintext token key, in one
        // transaction; every sealed value must open with the keys configured.
        keys::prepare(&store, &keyring).await?;
        let signer = match config.token_key.clone() {
            Some(k) => k,
            None => {
                let candidate = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
                let hex = zeroize::Zeroizing::new(hgs_tpm::hex::encode(&candidate.to_bytes()));
                let place = keys::server_key_place(TOKEN_KEY_NAME);
                let sealed = keyring.seal(&place, hex.as_bytes());
                let stored = store.get_or_insert_secret(TOKEN_KEY_NAME, &sealed).await?;
                let opened = keyring
                    .open(&place, &stored)
                    .map_err(KeyServiceError::from)?;
                let text = std::str::from_utf8(&opened)
                    .map_err(|_| ServerError::TokenKey(hgs_attest::TokenKeyError::Scalar))?;
                let bytes = zeroize::Zeroizing::new(
                    api::from_hex(text)
                        .ok_or(ServerError::TokenKey(hgs_attest::TokenKeyError::Scalar))?,
                );
                TokenSigner::from_scalar_bytes(&bytes).map_err(ServerError::TokenKey)?
            }
        };
        keys::ensure_default_guardian(&store, &keyring, config.clock.now()).await?;
        // ring signs 8x faster than RustCrypto's P-256, with nonces from the OS (this is the
        // I/O edge); the tokens verify the same.
        let signer = signer.with_ring().map_err(ServerError::TokenKey)?;
        let metrics = metrics::Metrics::new().map_err(ServerError::Metrics)?;
        Ok(Server {
            state: Arc::new(api::AppState::new(config, store, signer, metrics, keyring)),
        })
    }

    /// The token signing key's public half, as a JWK.
    pub fn token_jwk(&self) -> String {
        self.state.signer.public_jwk()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.state.store
    }

    /// The HTTP application (every endpoint, the body limit, the concurrency limit, metrics).
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// Serves HTTPS on `listener` until `handle` is told to shut down.
    pub async fn serve(
        &self,
        listener: std::net::TcpListener,
        tls: &TlsIdentity,
        handle: axum_server::Handle<std::net::SocketAddr>,
    ) -> Result<(), ServerError> {
        listener.set_nonblocking(true)?;
        let config = tls.rustls_config()?;
        let mut server = axum_server::from_tcp_rustls(listener, config)?
            .first_request_timeout(REQUEST_HEAD_TIMEOUT)
            .handle(handle);
        server
            .http_builder()
            .http1()
            .header_read_timeout(REQUEST_HEAD_TIMEOUT);
        // The peer's address reaches the per-client rate limit.
        server
            .serve(
                self.router()
                    .into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await?;
        Ok(())
    }
}
