//! The HTTP API: versioned JSON endpoints, errors as `{"error": "<kind>", "message": "..."}`.
//!
//! Hosts (no authentication: the TPM evidence is the credential):
//! - `POST /v1/challenges` `{"host": name, "ak_public": hex}` → [`ChallengeMessage`] with `id`.
//! - `POST /v1/attestations` [`Evidence`] with `challenge_id` → [`AttestationResponse`].
//! - `GET /v1/token-key` → the token key as a public JWK (relying parties verify offline).
//!
//! Administrators (`Authorization: Bearer <admin token>`):
//! - `PUT|DELETE /v1/hosts/{name}`, `GET /v1/hosts` ([`HostRegistration`] body);
//! - `PUT|DELETE /v1/baselines/{name}`, `GET /v1/baselines` ([`BaselineRegistration`] body);
//! - `PUT|DELETE /v1/ci-policies/{name}`, `GET /v1/ci-policies` ([`CiPolicyRequest`] body);
//! - `POST /v1/roots` ([`RootInstall`] body), `GET /v1/roots`, `DELETE /v1/roots/{fingerprint}`;
//! - `POST /v1/policies/{name}/enable|disable`, `GET /v1/policies`.
//!
//! Operators: `GET /health`, `GET /metrics` (Prometheus), `GET /status` (read-only HTML).
//!
//! Key protection service (`keys.rs`; HGS' KPS):
//! - administrators: `PUT|DELETE /v1/secrets/{name}` ([`SecretBody`]: `{"value": base64url,
//!   "policy": ReleasePolicy}`; 201 new, 200 replaced with version + 1), `GET /v1/secrets`
//!   ([`SecretInfo`], never values); `POST /v1/guardians/{name}` (a new service guardian);
//!   `PUT|GET /v1/settings/deny-issued-before` ([`DenyIssuedBefore`]);
//!   `PUT|GET /v1/settings/key-protector-policy` (a `ReleasePolicy`, default all guarded, v1);
//!   `GET /v1/audit?limit=N` (N at most 1000);
//! - anyone: `GET /v1/guardians` ([`GuardianInfo`]: certificates, public),
//!   `GET /v1/guardians/{name}` (PEM, `application/x-pem-file`);
//! - hosts (`Authorization: Bearer <attestation token>`): `POST /v1/secrets/{name}/release`
//!   and `POST /v1/key-protectors/unwrap` (body: the key protector document) → 200
//!   `application/jose`, a compact JWE to the token's `cnf` key; 401 `invalid_token`, 403
//!   `release_refused` with `reason`, 403 `no_guardian`, 400 `invalid_key_protector`, 404
//!   `not_found` (only after a valid token).

mod attestation;
mod error;
mod extract;
mod keys;
mod operator;
mod registry;

use std::sync::Arc;

use axum::routing::{delete, get, post, put};
use axum::Router;
use hgs_attest::TokenSigner;
use tokio::sync::Semaphore;

use crate::limits::Limiters;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::ServerConfig;

pub use attestation::{AttestationResponse, ChallengeBody};
pub use error::{ApiError, ErrorBody};
pub(crate) use extract::from_hex;
pub use keys::{DenyIssuedBefore, GuardianInfo, SecretBody, SecretInfo, MAX_AUDIT_LIMIT};
pub use registry::{
    BaselineRegistration, CiPolicyRequest, HostRegistration, ImportBody, Imported, InstalledRoot,
    PolicyStateEntry, RootInstall,
};

/// Largest request body accepted, in bytes; larger bodies get 413 before anything is parsed or
/// stored.
///
/// The largest body is an evidence document (or a baseline's reference log): real Windows TCG logs
/// are up to ~100 KB, which hex encoding doubles, plus quotes and PCR values of a few KB. 1 MiB
/// is five times that and bounds what one request makes the server hold
/// ([`crate::MAX_IN_FLIGHT`] × 1 MiB at most).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Challenges issued between purges of long-expired ones.
const PURGE_EVERY: u64 = 256;

/// Seconds an expired or used challenge is kept before it is purged.
const CHALLENGE_RETENTION: u64 = 3600;

/// Evaluations run at once on the blocking pool (CPU-bound: signature checks, log replay).
const MAX_CONCURRENT_EVALUATIONS: usize = 16;

/// Largest event log (bytes) judged on the async worker itself; larger ones go to the blocking
/// pool. Windows logs are 20–100 KiB; judging 128 KiB takes well under a millisecond.
const INLINE_EVALUATION_MAX_LOG: usize = 128 * 1024;

/// Shared by every request.
pub(crate) struct AppState<S: Store> {
    pub(crate) config: ServerConfig,
    pub(crate) store: S,
    pub(crate) signer: TokenSigner,
    pub(crate) metrics: Metrics,
    pub(crate) limiters: Limiters,
    pub(crate) auth: extract::Tokens,
    /// The master key(s) sealing secrets and guardian keys.
    pub(crate) keyring: crate::keys::Keyring,
    /// Verifies the attestation tokens hosts present for a release (the server's own key).
    pub(crate) verifier: hgs_attest::TokenVerifier,
    /// Audit rows this server wrote (purges every `AUDIT_PURGE_EVERY`).
    pub(crate) audits: std::sync::atomic::AtomicU64,
    evaluations: Semaphore,
}

impl<S: Store> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl<S: Store> AppState<S> {
    pub(crate) fn new(
        config: ServerConfig,
        store: S,
        signer: TokenSigner,
        metrics: Metrics,
        keyring: crate::keys::Keyring,
    ) -> Self {
        AppState {
            verifier: hgs_attest::TokenVerifier::new().with_key(*signer.verifying_key()),
            keyring,
            audits: std::sync::atomic::AtomicU64::new(0),
            limiters: Limiters::new(config.rate_limits),
            auth: extract::Tokens::new(&config.admin_token, config.operator_token.as_deref()),
            config,
            store,
            signer,
            metrics,
            evaluations: Semaphore::new(MAX_CONCURRENT_EVALUATIONS),
        }
    }
}

pub(crate) fn router<S: Store>(state: Arc<AppState<S>>) -> Router {
    // Reachable by anyone: limited per client address before any work is done.
    let open = Router::new()
        .route("/v1/challenges", post(attestation::create_challenge::<S>))
        .route("/v1/attestations", post(attestation::attest::<S>))
        .route("/login", post(operator::login::<S>))
        .route(
            "/v1/secrets/{name}/release",
            post(keys::release_secret::<S>),
        )
        .route(
            "/v1/key-protectors/unwrap",
            post(keys::unwrap_key_protector::<S>),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_clients::<S>,
        ));
    Router::new()
        .merge(open)
        .route("/v1/token-key", get(attestation::token_key::<S>))
        .route("/v1/hosts", get(registry::list_hosts::<S>))
        .route(
            "/v1/hosts/{name}",
            put(registry::add_host::<S>).delete(registry::remove_host::<S>),
        )
        .route("/v1/baselines", get(registry::list_baselines::<S>))
        .route(
            "/v1/baselines/{name}",
            put(registry::add_baseline::<S>).delete(registry::remove_baseline::<S>),
        )
        .route("/v1/ci-policies", get(registry::list_ci_policies::<S>))
        .route(
            "/v1/ci-policies/{name}",
            put(registry::add_ci_policy::<S>).delete(registry::remove_ci_policy::<S>),
        )
        .route(
            "/v1/roots",
            get(registry::list_roots::<S>).post(registry::add_root::<S>),
        )
        .route(
            "/v1/roots/{fingerprint}",
            delete(registry::remove_root::<S>),
        )
        .route("/v1/policies", get(registry::list_policies::<S>))
        .route("/v1/import", post(registry::import::<S>))
        .route(
            "/v1/policies/{name}/{action}",
            post(registry::set_policy::<S>),
        )
        .route("/v1/secrets", get(keys::list_secrets::<S>))
        .route(
            "/v1/secrets/{name}",
            put(keys::put_secret::<S>).delete(keys::delete_secret::<S>),
        )
        .route("/v1/guardians", get(keys::list_guardians::<S>))
        .route(
            "/v1/guardians/{name}",
            get(keys::get_guardian::<S>).post(keys::create_guardian::<S>),
        )
        .route(
            "/v1/settings/deny-issued-before",
            get(keys::get_deny_issued_before::<S>).put(keys::put_deny_issued_before::<S>),
        )
        .route(
            "/v1/settings/key-protector-policy",
            get(keys::get_key_protector_policy::<S>).put(keys::put_key_protector_policy::<S>),
        )
        .route("/v1/audit", get(keys::audit::<S>))
        .route("/health", get(operator::health::<S>))
        .route("/metrics", get(operator::metrics::<S>))
        .route("/status", get(operator::status::<S>))
        .route("/logout", post(operator::logout))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            crate::MAX_IN_FLIGHT,
        ))
        .with_state(state)
}

/// Middleware: the per-client limit ([`crate::RateLimits::per_client`]) on the open endpoints.
/// The address is the TCP peer's ([`crate::Server::serve`] records it); a router served without
/// it (an embedder's own listener) shares one bucket per unknown peer.
async fn limit_clients<S: Store>(
    axum::extract::State(st): axum::extract::State<Arc<AppState<S>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let addr = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), |c| {
            c.0.ip()
        });
    if let Err(limited) = st.limiters.check_client(addr) {
        st.metrics.rate_limited(limited.limit);
        return ApiError::from(limited).into_response();
    }
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound {
        kind: "endpoint",
        name: "this path".into(),
    }
}
