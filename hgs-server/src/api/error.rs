//! Errors as `{"error": "<kind>", "message": "..."}` with their HTTP status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hgs_attest::policy::{BaselineError, CiPolicyError, HostError, NameError, PolicyStateError};
use hgs_attest::{ChallengeError, TokenError};

use super::MAX_BODY_BYTES;
use crate::limits::{Limit, Limited};
use crate::store::StoreError;

/// The JSON error body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The kind (stable, machine-readable): `bad_request`, `unknown_host`, `challenge_used`, ...
    pub error: String,
    /// What happened and what to do, for people.
    pub message: String,
    /// For `release_refused`: the refusal's kind (`host_not_registered`, `expired`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a request is refused, each with its HTTP status and `error` kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not the expected JSON (truncated, wrong types, bad hex, ...). 400.
    #[error("the request body is not valid: {0}")]
    BadRequest(String),
    /// A host, baseline or CI policy name breaks the naming rule (`hgs_policy::Name`). 400.
    #[error(transparent)]
    InvalidName(#[from] NameError),
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
    #[error(
        "no outstanding challenge has this id: never issued, purged, or voided by a newer one \
         for the same host (request one with POST /v1/challenges)"
    )]
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
    /// Too many requests from this client address, or challenges for this host. 429, with
    /// `Retry-After`.
    #[error("too many requests {}; retry after {retry_after} s", match .limit {
        Limit::Client => "from this address",
        Limit::Host => "for this host",
    })]
    RateLimited {
        /// Which limit.
        limit: Limit,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// `/status` (and other operator pages) need the admin or the operator token. 401.
    #[error("this page needs the admin or the operator token")]
    NeedsOperator,
    /// A release request without `Authorization: Bearer <attestation token>`, or with a token
    /// that does not verify (signature, key, structure, expiry). 401.
    #[error("the attestation token is missing or does not verify")]
    InvalidToken(#[source] Option<TokenError>),
    /// The token verified, but the release decision refused it. 403, with `reason`.
    #[error(transparent)]
    ReleaseRefused(#[from] hgs_kps::Refusal),
    /// The key protector lists none of this service's guardians. 403.
    #[error("the key protector is not wrapped to any of this service's guardians")]
    NoGuardian,
    /// The key protector document is malformed or does not open. 400.
    #[error("the key protector is refused")]
    KeyProtector(#[source] hgs_kps::ProtectorError),
    /// A secret value longer than `hgs_keys::MAX_PLAINTEXT`. 413.
    #[error("the secret is {len} bytes, more than the {max} a release can carry")]
    SecretTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The key service failed (a sealed value does not open with the configured master
    /// keys, ...). 500; no secret in the message.
    #[error("the key service failed")]
    KeyService(#[source] crate::keys::KeyServiceError),
    /// Encrypting the release to the token's key failed. 500.
    #[error("the release could not be encrypted to the host's key")]
    Encrypt(#[source] hgs_keys::JweError),
}

impl From<crate::keys::KeyServiceError> for ApiError {
    fn from(e: crate::keys::KeyServiceError) -> Self {
        match e {
            crate::keys::KeyServiceError::Store(e) => e.into(),
            e => ApiError::KeyService(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate { kind, name } => ApiError::Duplicate { kind, name },
            e => ApiError::Store(e),
        }
    }
}

impl From<Limited> for ApiError {
    fn from(l: Limited) -> Self {
        ApiError::RateLimited {
            limit: l.limit,
            retry_after: l.retry_after,
        }
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidName(_) => StatusCode::BAD_REQUEST,
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
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NeedsOperator | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::ReleaseRefused(_) | ApiError::NoGuardian => StatusCode::FORBIDDEN,
            ApiError::KeyProtector(_) => StatusCode::BAD_REQUEST,
            ApiError::SecretTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::KeyService(_) | ApiError::Encrypt(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` kind of the JSON body.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidName(_) => "invalid_name",
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
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::NeedsOperator => "unauthorized",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::ReleaseRefused(_) => "release_refused",
            ApiError::NoGuardian => "no_guardian",
            ApiError::KeyProtector(_) => "invalid_key_protector",
            ApiError::SecretTooLarge { .. } => "secret_too_large",
            ApiError::KeyService(_) => "key_service_failed",
            ApiError::Encrypt(_) => "release_encryption_failed",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(e) = &self {
            eprintln!("hgs-server: storage error: {e}");
        }
        if let ApiError::KeyService(e) = &self {
            eprintln!("hgs-server: key service error: {}", with_causes(e));
        }
        let body = ErrorBody {
            error: self.kind().into(),
            message: with_causes(&self),
            reason: match &self {
                ApiError::ReleaseRefused(r) => Some(crate::keys::refusal_kind(r).to_owned()),
                _ => None,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::RateLimited { retry_after, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
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
