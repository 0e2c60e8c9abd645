//! Request extractors: JSON bodies whose rejections are [`ApiError`]s, the admin token, and the
//! operator's (token or status-page session).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::store::Store;

/// A JSON body whose rejections are [`ApiError`]s (413 over the limit, 400 otherwise).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned, St: Send + Sync> FromRequest<St> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        let ApiBytes(bytes) = ApiBytes::from_request(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}

/// A raw body, with the same limits and rejections as [`ApiJson`] (413 over the limit, 408
/// when it does not arrive in time).
pub(crate) struct ApiBytes(pub(crate) Bytes);

impl<St: Send + Sync> FromRequest<St> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        tokio::time::timeout(crate::REQUEST_BODY_TIMEOUT, Bytes::from_request(req, state))
            .await
            .map_err(|_| ApiError::BodyTimeout)?
            .map(ApiBytes)
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest(r.body_text())
                }
            })
    }
}

/// The bearer tokens a server accepts, as SHA-256 hashes (compared in constant time: neither a
/// token's bytes nor its length leak through timing), and the key of status-page sessions.
pub(crate) struct Tokens {
    admin: [u8; 32],
    operator: Option<[u8; 32]>,
    /// HMAC of session cookies, keyed by a key derived from the admin token: every replica with
    /// the same token accepts the same sessions, and a new admin token ends them all. (HMAC takes
    /// keys of any length; `None` is never reached and would only refuse every session.)
    sessions: Option<Hmac<Sha256>>,
}

/// Name of the status page's session cookie.
pub(crate) const SESSION_COOKIE: &str = "hgs_session";

/// How long a status page session lasts, in seconds.
pub(crate) const SESSION_LIFETIME: u64 = 3600;

impl Tokens {
    pub(crate) fn new(admin: &str, operator: Option<&str>) -> Tokens {
        let sessions = <Hmac<Sha256> as Mac>::new_from_slice(admin.trim().as_bytes())
            .ok()
            .and_then(|mut m| {
                m.update(b"hgs-status-session-key/1");
                <Hmac<Sha256> as Mac>::new_from_slice(&m.finalize().into_bytes()).ok()
            });
        Tokens {
            admin: hash(admin),
            operator: operator.map(hash),
            sessions,
        }
    }

    fn is_admin(&self, presented: &str) -> bool {
        bool::from(hash(presented).ct_eq(&self.admin))
    }

    /// The admin or the operator token.
    pub(crate) fn may_read_status(&self, presented: &str) -> bool {
        let h = hash(presented);
        let admin = h.ct_eq(&self.admin);
        let operator = self
            .operator
            .map_or(subtle::Choice::from(0), |o| h.ct_eq(&o));
        bool::from(admin | operator)
    }

    fn session_mac(&self, expires_at: u64) -> Option<[u8; 32]> {
        let mut m = self.sessions.clone()?;
        m.update(b"status-session/1|");
        m.update(&expires_at.to_be_bytes());
        Some(m.finalize().into_bytes().into())
    }

    /// A session cookie's value, valid until `now + SESSION_LIFETIME`.
    pub(crate) fn new_session(&self, now: u64) -> Option<String> {
        let expires_at = now.saturating_add(SESSION_LIFETIME);
        let mac = self.session_mac(expires_at)?;
        Some(format!("{expires_at}.{}", hgs_tpm::hex::encode(&mac)))
    }

    fn valid_session(&self, value: &str, now: u64) -> bool {
        let Some((expires, mac)) = value.split_once('.') else {
            return false;
        };
        let (Ok(expires_at), Some(mac)) = (expires.parse::<u64>(), hgs_tpm::hex::decode(mac))
        else {
            return false;
        };
        let Some(expected) = self.session_mac(expires_at) else {
            return false;
        };
        now < expires_at && bool::from(mac.as_slice().ct_eq(&expected))
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Proof that the request carried the admin bearer token.
pub(crate) struct Admin;

impl<S: Store> FromRequestParts<Arc<AppState<S>>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Self::Rejection> {
        match bearer(parts) {
            Some(t) if state.auth.is_admin(t) => Ok(Admin),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

/// Proof that the request may read operator pages: the admin or the operator bearer token, or a
/// session cookie from `POST /login`. A cookie grants only these read-only pages, never the
/// admin API (which takes the bearer header alone, so a browser cannot be made to send it).
pub(crate) struct Operator;

impl<S: Store> FromRequestParts<Arc<AppState<S>>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(t) = bearer(parts) {
            return if state.auth.may_read_status(t) {
                Ok(Operator)
            } else {
                Err(ApiError::NeedsOperator)
            };
        }
        match cookie(parts, SESSION_COOKIE) {
            Some(v) if state.auth.valid_session(v, state.config.clock.now()) => Ok(Operator),
            _ => Err(ApiError::NeedsOperator),
        }
    }
}

/// Decodes hex of either case, surrounding whitespace ignored.
pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    hgs_tpm::hex::decode(s.trim())
}
