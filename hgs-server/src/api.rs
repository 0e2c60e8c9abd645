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

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use hgs_attest::policy::CiPolicyError;
use hgs_attest::policy::PolicyStateError;
use hgs_attest::policy::{register_host, HostError};
use hgs_attest::policy::{BaselineError, BaselineProfile};
use hgs_attest::policy::{
    CiPolicyRegistration, HgsPolicy, PolicySettings, PolicyState, PolicyVersion,
    RegistrationOptions, TpmBaseline, TpmHost,
};
use hgs_attest::policy::{TrustRole, TrustedCertificate};
use hgs_attest::{
    new_challenge, Attestor, ChallengeError, ChallengeMessage, ChallengeRequest, EcdhBackend,
    Evidence, Host, TokenClaims, TokenError, TokenSigner, Verdict,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;
use crate::store::{Consumed, Hosts, Store, StoreError, VerdictRecord};
use crate::ServerConfig;

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
    admin_token_hash: [u8; 32],
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
    ) -> Self {
        let admin_token_hash = Sha256::digest(config.admin_token.trim().as_bytes()).into();
        AppState {
            config,
            store,
            signer,
            metrics,
            admin_token_hash,
            evaluations: Semaphore::new(MAX_CONCURRENT_EVALUATIONS),
        }
    }
}

/// The JSON error body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The kind (stable, machine-readable): `bad_request`, `unknown_host`, `challenge_used`, ...
    pub error: String,
    /// What happened and what to do, for people.
    pub message: String,
}

/// Why a request is refused, each with its HTTP status and `error` kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not the expected JSON (truncated, wrong types, bad hex, ...). 400.
    #[error("the request body is not valid: {0}")]
    BadRequest(String),
    /// The body is larger than [`MAX_BODY_BYTES`]. 413.
    #[error("the request body is larger than {MAX_BODY_BYTES} bytes")]
    PayloadTooLarge,
    /// The body did not arrive within [`crate::REQUEST_BODY_TIMEOUT`]. 408.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// Missing or wrong admin bearer token. 401.
    #[error("administrator endpoints need `Authorization: Bearer <admin token>`")]
    Unauthorized,
    /// No host is registered under this name. 404.
    #[error("no host named {0:?} is registered")]
    UnknownHost(String),
    /// No such artifact. 404.
    #[error("no {kind} named {name:?}")]
    NotFound {
        /// `host`, `baseline`, `CI policy`, `policy`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// The evidence names no challenge this server issued. 404.
    #[error("no challenge with this id was issued (request one with POST /v1/challenges)")]
    UnknownChallenge,
    /// The challenge was already used by an attestation. 409.
    #[error("this challenge was already used; request a new one")]
    ChallengeUsed,
    /// The challenge expired before it was answered. 409.
    #[error("this challenge expired at {expires_at}; request a new one")]
    ChallengeExpired {
        /// When it expired (UNIX seconds).
        expires_at: u64,
    },
    /// The AK or EK cannot be challenged. 422.
    #[error("cannot challenge this host: {0}")]
    Challenge(#[from] ChallengeError),
    /// Host registration refused by the v1/v2 rules. 422 (409 for duplicates).
    #[error(transparent)]
    Registration(#[from] HostError),
    /// The reference log gives no baseline. 422.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// The reference log gives no CI policy. 422.
    #[error(transparent)]
    CiPolicy(#[from] CiPolicyError),
    /// The certificate to install does not parse. 422.
    #[error("not an X.509 certificate: {0}")]
    Certificate(String),
    /// The policy state cannot change (locked). 409.
    #[error(transparent)]
    PolicyState(#[from] PolicyStateError),
    /// The name is taken. 409.
    #[error("a {kind} named {name:?} (or with the same identity) is already registered")]
    Duplicate {
        /// What kind.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// The database failed. 503; details are in the server's log, not the response.
    #[error("storage is unavailable")]
    Store(#[source] StoreError),
    /// Signing the token failed. 500.
    #[error("the token could not be signed")]
    Token(#[source] TokenError),
    /// An evaluation task failed. 500.
    #[error("internal error")]
    Internal,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate { kind, name } => ApiError::Duplicate { kind, name },
            e => ApiError::Store(e),
        }
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::UnknownHost(_) | ApiError::NotFound { .. } | ApiError::UnknownChallenge => {
                StatusCode::NOT_FOUND
            }
            ApiError::ChallengeUsed
            | ApiError::ChallengeExpired { .. }
            | ApiError::PolicyState(_)
            | ApiError::Duplicate { .. }
            | ApiError::Registration(
                HostError::DuplicateName(_) | HostError::DuplicateEkpub { .. },
            ) => StatusCode::CONFLICT,
            ApiError::Challenge(_)
            | ApiError::Registration(_)
            | ApiError::Baseline(_)
            | ApiError::CiPolicy(_)
            | ApiError::Certificate(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Token(_) | ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` kind of the JSON body.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::BodyTimeout => "request_timeout",
            ApiError::Unauthorized => "unauthorized",
            ApiError::UnknownHost(_) => "unknown_host",
            ApiError::NotFound { .. } => "not_found",
            ApiError::UnknownChallenge => "unknown_challenge",
            ApiError::ChallengeUsed => "challenge_used",
            ApiError::ChallengeExpired { .. } => "challenge_expired",
            ApiError::Challenge(_) => "challenge_refused",
            ApiError::Registration(
                HostError::DuplicateName(_) | HostError::DuplicateEkpub { .. },
            )
            | ApiError::Duplicate { .. } => "duplicate",
            ApiError::Registration(_) => "registration_refused",
            ApiError::Baseline(_) => "baseline_refused",
            ApiError::CiPolicy(_) => "ci_policy_refused",
            ApiError::Certificate(_) => "certificate_refused",
            ApiError::PolicyState(_) => "policy_locked",
            ApiError::Store(_) => "storage_unavailable",
            ApiError::Token(_) => "token_signing_failed",
            ApiError::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(e) = &self {
            eprintln!("hgs-server: storage error: {e}");
        }
        let body = ErrorBody {
            error: self.kind().into(),
            message: with_causes(&self),
        };
        (self.status(), Json(body)).into_response()
    }
}

/// An error's message followed by those of its sources (the library keeps lower errors as typed
/// sources, not in its own message), each once.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = c.source();
    }
    message
}

/// A JSON body whose rejections are [`ApiError`]s (413 over the limit, 400 otherwise).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned, St: Send + Sync> FromRequest<St> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        let bytes =
            tokio::time::timeout(crate::REQUEST_BODY_TIMEOUT, Bytes::from_request(req, state))
                .await
                .map_err(|_| ApiError::BodyTimeout)?
                .map_err(|r| {
                    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::PayloadTooLarge
                    } else {
                        ApiError::BadRequest(r.body_text())
                    }
                })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}

/// Proof that the request carried the admin bearer token.
pub(crate) struct Admin;

impl<S: Store> FromRequestParts<Arc<AppState<S>>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        // Hashes of equal length, compared in constant time: neither the token's bytes nor its
        // length leak through timing.
        let hash: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        if bool::from(hash.ct_eq(&state.admin_token_hash)) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// Decodes hex of either case, surrounding whitespace ignored.
pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    hgs_tpm::hex::decode(s.trim())
}

/// `POST /v1/challenges` body.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChallengeBody {
    /// The registered host name.
    pub host: String,
    /// The host's AK public area (TPM2B_PUBLIC or TPMT_PUBLIC), hex.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub ak_public: Vec<u8>,
}

/// `POST /v1/attestations` response.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AttestationResponse {
    /// The verdict, every check with its evidence.
    pub verdict: Verdict,
    /// On `Passed`, the signed attestation result (ES256 JWT); otherwise none.
    pub token: Option<String>,
}

/// `PUT /v1/hosts/{name}` body: the EK entry of a platform identifier.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HostRegistration {
    /// The EK public area (TPM2B_PUBLIC or TPMT_PUBLIC), hex.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub ekpub: Vec<u8>,
    /// The EK certificate (DER), hex, if the platform has one.
    #[serde(default)]
    pub ek_certificate: Option<String>,
    /// `v1` or `v2` (default).
    #[serde(default)]
    pub policy_version: PolicyVersion,
    /// v1 only: register without a trusted EK certificate.
    #[serde(default)]
    pub force: bool,
}

/// `PUT /v1/baselines/{name}` body: a reference host's TCG log.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BaselineRegistration {
    /// The reference log, hex.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub reference_log: Vec<u8>,
    /// `v1` or `v2` (default).
    #[serde(default)]
    pub policy_version: PolicyVersion,
    /// PCRs compared (default: the Secure Boot configuration).
    #[serde(default)]
    pub profile: BaselineProfile,
    /// Keep a reference host that fails validation (its problems are recorded).
    #[serde(default)]
    pub skip_validation: bool,
}

/// `PUT /v1/ci-policies/{name}` body: the policy a reference host measured.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CiPolicyRequest {
    /// The reference log, hex.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub reference_log: Vec<u8>,
    /// `v1` or `v2` (default).
    #[serde(default)]
    pub policy_version: PolicyVersion,
    /// Which measured policy, when the log has several (file name).
    #[serde(default)]
    pub file_name: Option<String>,
}

/// `POST /v1/roots` body: a TPM vendor certificate to trust.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RootInstall {
    /// `root` (a trust anchor) or `intermediate` (chain building only).
    pub role: TrustRole,
    /// The certificate, DER, hex.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub der: Vec<u8>,
    /// The vendor it came from, if known.
    #[serde(default)]
    pub vendor: Option<String>,
}

/// An installed certificate, as `GET /v1/roots` lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InstalledRoot {
    /// SHA-256 of the DER, hex: its name in `DELETE /v1/roots/{fingerprint}`.
    pub fingerprint: String,
    /// Root or intermediate.
    pub role: TrustRole,
    /// Subject.
    pub subject: String,
    /// Vendor, if known.
    pub vendor: Option<String>,
}

impl InstalledRoot {
    fn of(c: &TrustedCertificate) -> InstalledRoot {
        InstalledRoot {
            fingerprint: hgs_tpm::hex::encode(&Sha256::digest(&c.der)),
            role: c.role,
            subject: c.subject.clone(),
            vendor: c.vendor.clone(),
        }
    }
}

/// One policy's state, as `GET /v1/policies` lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PolicyStateEntry {
    /// `Hgs_SecureBootEnabled`, ...
    pub policy: HgsPolicy,
    /// Its state.
    pub state: PolicyState,
}

pub(crate) fn router<S: Store>(state: Arc<AppState<S>>) -> Router {
    Router::new()
        .route("/v1/challenges", post(create_challenge::<S>))
        .route("/v1/attestations", post(attest::<S>))
        .route("/v1/token-key", get(token_key::<S>))
        .route("/v1/hosts", get(list_hosts::<S>))
        .route(
            "/v1/hosts/{name}",
            put(add_host::<S>).delete(remove_host::<S>),
        )
        .route("/v1/baselines", get(list_baselines::<S>))
        .route(
            "/v1/baselines/{name}",
            put(add_baseline::<S>).delete(remove_baseline::<S>),
        )
        .route("/v1/ci-policies", get(list_ci_policies::<S>))
        .route(
            "/v1/ci-policies/{name}",
            put(add_ci_policy::<S>).delete(remove_ci_policy::<S>),
        )
        .route("/v1/roots", get(list_roots::<S>).post(add_root::<S>))
        .route("/v1/roots/{fingerprint}", delete(remove_root::<S>))
        .route("/v1/policies", get(list_policies::<S>))
        .route("/v1/policies/{name}/{action}", post(set_policy::<S>))
        .route("/health", get(health::<S>))
        .route("/metrics", get(metrics::<S>))
        .route("/status", get(status::<S>))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track::<S>,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            crate::MAX_IN_FLIGHT,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound {
        kind: "endpoint",
        name: "this path".into(),
    }
}

async fn create_challenge<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ApiJson(body): ApiJson<ChallengeBody>,
) -> Result<Json<ChallengeMessage>, ApiError> {
    let now = st.config.clock.now();
    let registry = st.store.registry(Hosts::Named(&body.host)).await?;
    let host = registry
        .hosts
        .iter()
        .find(|h| h.name == body.host)
        .ok_or_else(|| ApiError::UnknownHost(body.host.clone()))?;
    let attestor = Attestor::new().with_settings(PolicySettings::clone(&registry.settings));
    // ring's ECDH (4x RustCrypto's; ephemeral keys from the OS, as the secret is anyway).
    let request = ChallengeRequest::new(attestor.required_pcrs(&registry.baselines), now)
        .with_ecdh(EcdhBackend::Ring);
    let (challenge, mut message) =
        new_challenge(host, &body.ak_public, &request, &mut rand_core::OsRng)?;
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let id = hgs_tpm::hex::encode(&id);
    st.store
        .insert_challenge(&id, &challenge, now.saturating_add(st.config.challenge_ttl))
        .await?;
    st.metrics.challenges.inc();
    // Bounded storage: every PURGE_EVERY challenges, drop those expired CHALLENGE_RETENTION ago
    // (kept that long so a late replay reads "used"/"expired" rather than "unknown").
    if st.metrics.challenges.get() % PURGE_EVERY == 0 {
        st.store
            .purge_challenges(now.saturating_sub(CHALLENGE_RETENTION))
            .await?;
    }
    message.id = Some(id);
    Ok(Json(message))
}

async fn attest<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ApiJson(evidence): ApiJson<Evidence>,
) -> Result<Json<AttestationResponse>, ApiError> {
    let id = evidence
        .challenge_id
        .clone()
        .ok_or_else(|| ApiError::BadRequest("the evidence has no challenge_id".into()))?;
    let now = st.config.clock.now();
    // Consumed before evaluation: a replay of this challenge, on any replica, finds it used.
    let challenge = match st.store.consume_challenge(&id, now).await? {
        Consumed::Fresh(c) => c,
        Consumed::Used => return Err(ApiError::ChallengeUsed),
        Consumed::Expired { expires_at } => return Err(ApiError::ChallengeExpired { expires_at }),
        Consumed::Unknown => return Err(ApiError::UnknownChallenge),
    };
    // This service makes every challenge for a registered host's EK: one without is not ours.
    let ek_fingerprint = challenge.ek_fingerprint.ok_or(ApiError::Internal)?;
    let registry = st.store.registry(Hosts::WithEk(&ek_fingerprint)).await?;
    let still_registered = registry.hosts.iter().any(|h| h.name == challenge.host);
    let log_len = evidence.event_log.len();
    let max_age = st.config.challenge_ttl;
    let judge = move || {
        let attestor = Attestor::new()
            .with_settings(PolicySettings::clone(&registry.settings))
            .with_max_challenge_age(max_age);
        let verdict = attestor.evaluate(
            &Host {
                challenge: &challenge,
                evidence: &evidence,
                registered: &registry.hosts,
                now,
            },
            &registry.baselines,
            &registry.ci_policies,
        );
        (verdict, challenge)
    };
    // A typical log (tens of KiB) is judged in about 0.1 ms: on the async worker, as cheap as
    // the hand-off to another thread would be. A larger one (up to the body limit) goes to the
    // blocking pool, so a worker is never held for long.
    let (verdict, challenge) = if log_len <= INLINE_EVALUATION_MAX_LOG {
        judge()
    } else {
        let permit = st
            .evaluations
            .acquire()
            .await
            .map_err(|_| ApiError::Internal)?;
        let judged = tokio::task::spawn_blocking(judge)
            .await
            .map_err(|_| ApiError::Internal)?;
        drop(permit);
        judged
    };

    st.metrics.verdict(&verdict);
    let token = if verdict.passed() {
        let claims =
            TokenClaims::from_verdict(&verdict, &ek_fingerprint, now, st.config.token_lifetime);
        Some(st.signer.sign(&claims).map_err(ApiError::Token)?)
    } else {
        None
    };
    if still_registered {
        st.store
            .record_verdict(&VerdictRecord {
                host: challenge.host.clone(),
                at: now,
                status: status_name(&verdict),
                reason: verdict
                    .failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
                token_expires_at: token
                    .as_ref()
                    .map(|_| now.saturating_add(st.config.token_lifetime)),
            })
            .await?;
    }
    Ok(Json(AttestationResponse { verdict, token }))
}

/// The verdict's status as its serde name (`Passed`, `InsecureHostConfiguration`, ...).
pub(crate) fn status_name(v: &Verdict) -> String {
    serde_json::to_value(v.status)
        .ok()
        .and_then(|s| s.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", v.status))
}

async fn token_key<S: Store>(State(st): State<Arc<AppState<S>>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/jwk+json")],
        st.signer.public_jwk(),
    )
        .into_response()
}

async fn list_hosts<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<TpmHost>>, ApiError> {
    Ok(Json(st.store.registry(Hosts::All).await?.hosts))
}

async fn add_host<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<HostRegistration>,
) -> Result<(StatusCode, Json<TpmHost>), ApiError> {
    let now = st.config.clock.now();
    let cert = body
        .ek_certificate
        .as_deref()
        .map(|c| {
            from_hex(c).ok_or_else(|| ApiError::BadRequest("ek_certificate is not hex".into()))
        })
        .transpose()?;
    let installed = st.store.trusted_certificates().await?;
    let at = hgs_attest::UnixTime(i64::try_from(now).unwrap_or(i64::MAX));
    let check = hgs_attest::check_ek_certificate(cert.as_deref(), &body.ekpub, &installed, at);
    // Only the hosts a duplicate could be (this name, this EK): registering a fleet stays linear.
    let fingerprint = hgs_attest::policy::ek_fingerprint(&body.ekpub)?;
    let existing = st
        .store
        .registry(Hosts::NamedOrWithEk(&name, &fingerprint))
        .await?
        .hosts;
    let host = register_host(
        &name,
        &body.ekpub,
        cert.as_deref(),
        check,
        RegistrationOptions {
            version: body.policy_version,
            force: body.force,
        },
        &existing,
    )?;
    // The unique constraints on name and EK fingerprint settle a race with another replica.
    st.store.insert_host(&host).await?;
    Ok((StatusCode::CREATED, Json(host)))
}

async fn remove_host<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.remove_host(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound { kind: "host", name })
    }
}

async fn list_baselines<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<TpmBaseline>>, ApiError> {
    Ok(Json(
        st.store.registry(Hosts::All).await?.baselines.to_vec(),
    ))
}

async fn add_baseline<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<BaselineRegistration>,
) -> Result<(StatusCode, Json<TpmBaseline>), ApiError> {
    let baseline = TpmBaseline::from_reference_log(
        &name,
        body.policy_version,
        body.profile,
        &body.reference_log,
        body.skip_validation,
    )?;
    st.store.insert_baseline(&baseline).await?;
    Ok((StatusCode::CREATED, Json(baseline)))
}

async fn remove_baseline<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.remove_baseline(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            kind: "baseline",
            name,
        })
    }
}

async fn list_ci_policies<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<CiPolicyRegistration>>, ApiError> {
    Ok(Json(
        st.store.registry(Hosts::All).await?.ci_policies.to_vec(),
    ))
}

async fn add_ci_policy<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CiPolicyRequest>,
) -> Result<(StatusCode, Json<CiPolicyRegistration>), ApiError> {
    let policy = CiPolicyRegistration::from_reference_log(
        &name,
        body.policy_version,
        &body.reference_log,
        body.file_name.as_deref(),
    )?;
    st.store.insert_ci_policy(&policy).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

async fn remove_ci_policy<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.remove_ci_policy(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            kind: "CI policy",
            name,
        })
    }
}

async fn list_roots<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<InstalledRoot>>, ApiError> {
    Ok(Json(
        st.store
            .trusted_certificates()
            .await?
            .iter()
            .map(InstalledRoot::of)
            .collect(),
    ))
}

async fn add_root<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    ApiJson(body): ApiJson<RootInstall>,
) -> Result<(StatusCode, Json<InstalledRoot>), ApiError> {
    let installed = TrustedCertificate {
        vendor: body.vendor,
        ..hgs_attest::trusted_certificate(body.role, &body.der)
            .map_err(|e| ApiError::Certificate(e.to_string()))?
    };
    let entry = InstalledRoot::of(&installed);
    st.store
        .insert_certificate(&entry.fingerprint, &installed)
        .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

async fn remove_root<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(fingerprint): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.remove_certificate(&fingerprint).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            kind: "trusted certificate",
            name: fingerprint,
        })
    }
}

async fn list_policies<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<PolicyStateEntry>>, ApiError> {
    let settings = st.store.registry(Hosts::None).await?.settings;
    Ok(Json(
        HgsPolicy::ALL
            .into_iter()
            .map(|policy| PolicyStateEntry {
                policy,
                state: settings.state(policy),
            })
            .collect(),
    ))
}

async fn set_policy<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<PolicyStateEntry>, ApiError> {
    let policy = HgsPolicy::from_name(&name).ok_or_else(|| ApiError::NotFound {
        kind: "policy",
        name: name.clone(),
    })?;
    let mut settings = PolicySettings::clone(&st.store.registry(Hosts::None).await?.settings);
    match action.as_str() {
        "enable" => settings.enable(policy)?,
        "disable" => settings.disable(policy)?,
        _ => {
            return Err(ApiError::NotFound {
                kind: "policy action (enable or disable)",
                name: action,
            })
        }
    }
    let state = settings.state(policy);
    st.store.set_policy_state(policy, state).await?;
    Ok(Json(PolicyStateEntry { policy, state }))
}

async fn health<S: Store>(State(st): State<Arc<AppState<S>>>) -> Result<Response, ApiError> {
    st.store.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ok" })).into_response())
}

async fn metrics<S: Store>(State(st): State<Arc<AppState<S>>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

async fn status<S: Store>(State(st): State<Arc<AppState<S>>>) -> Result<Html<String>, ApiError> {
    let registry = st.store.registry(Hosts::All).await?;
    let verdicts = st.store.verdicts().await?;
    Ok(Html(crate::status::page(
        &registry.hosts,
        &verdicts,
        st.config.clock.now(),
    )))
}
