//! The key protection service's endpoints (HGS' KPS): administrators store secrets and make
//! guardians; hosts present their attestation token and get a secret, or a key protector's
//! transport key, encrypted (compact JWE) to the TPM-bound key the token names.
//!
//! A release verifies the token first (before any name is looked up), then reads the host's
//! registration, the release policy and the issued-before cut-off from the database now (no
//! cache: a host removed, a policy tightened or a cut-off set on any replica applies to the
//! next request everywhere), and lets `hgs_kps::decide_release` decide. Every release and
//! refusal is audited.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64ct::{Base64UrlUnpadded, Encoding};
use hgs_attest::policy::Name;
use hgs_attest::{TokenError, VerifiedToken};
use hgs_kps::{decide_release, KeyProtector, ReleasePolicy};
use zeroize::{Zeroize, Zeroizing};

use super::extract::{Admin, ApiBytes, ApiJson};
use super::{ApiError, AppState};
use crate::keys::{
    self, refusal_kind, token_id, AUDIT_MAX_ROWS, AUDIT_PURGE_EVERY, AUDIT_RETENTION,
    DENY_ISSUED_BEFORE, KEY_PROTECTOR_POLICY,
};
use crate::store::{AuditRecord, GuardianRow, Hosts, SecretRow, Store};

/// Most audit rows `GET /v1/audit` returns.
pub const MAX_AUDIT_LIMIT: u64 = 1000;

/// Media type of a release: a compact JWE (RFC 7516 section 9).
const JOSE: &str = "application/jose";

/// `PUT /v1/secrets/{name}` body.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    /// The value, base64url without padding; at most `hgs_keys::MAX_PLAINTEXT` bytes decoded.
    pub value: String,
    /// Who may have it.
    pub policy: ReleasePolicy,
}

impl std::fmt::Debug for SecretBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBody")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A secret as listed (never its value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// 1 when created, +1 per replacement.
    pub version: u64,
    /// Who may have it.
    pub policy: ReleasePolicy,
    /// Length of the value in bytes.
    pub value_len: u64,
    /// When it was created (UNIX seconds).
    pub created_at: u64,
    /// When it was last replaced.
    pub updated_at: u64,
}

/// A service guardian (public: its certificate, what `Export-HgsGuardian` gives).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GuardianInfo {
    /// Its name.
    pub name: String,
    /// SHA-256 of the certificate's DER, hex (what a key protector names it by).
    pub fingerprint: String,
    /// The certificate, PEM.
    pub certificate_pem: String,
}

/// `PUT|GET /v1/settings/deny-issued-before`: tokens issued before this instant release
/// nothing (`DenyHealthCertificatesIssuedBefore`); `null` clears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyIssuedBefore {
    /// UNIX seconds, or none.
    pub before: Option<u64>,
}

/// `GET /v1/audit` query.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub(super) struct AuditQuery {
    limit: Option<u64>,
}

impl From<&SecretRow> for SecretInfo {
    fn from(r: &SecretRow) -> Self {
        SecretInfo {
            name: r.name.clone(),
            version: r.version,
            policy: serde_json::from_str(&r.policy).unwrap_or_else(|_| ReleasePolicy {
                // Unreadable: shown as naming no host (releases of it fail closed anyway).
                hosts: hgs_kps::HostSelector::Names(Default::default()),
                ..ReleasePolicy::all_guarded()
            }),
            value_len: r.value_len,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl From<&GuardianRow> for GuardianInfo {
    fn from(r: &GuardianRow) -> Self {
        GuardianInfo {
            name: r.name.clone(),
            fingerprint: r.fingerprint.clone(),
            certificate_pem: r.certificate_pem.clone(),
        }
    }
}

// --- administrators ------------------------------------------------------------------------

pub(super) async fn put_secret<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    let name = Name::new(&name)?;
    // Parsed here, not by ApiJson: a JSON error message never quotes the body (the value).
    let mut body: SecretBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "not a secret body ({:?} error at line {} column {}); expected \
             {{\"value\": base64url, \"policy\": release policy}}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    let decoded = Base64UrlUnpadded::decode_vec(body.value.trim()).map(Zeroizing::new);
    body.value.zeroize();
    let value = decoded
        .map_err(|_| ApiError::BadRequest("the value is not base64url without padding".into()))?;
    if value.len() > hgs_keys::MAX_PLAINTEXT {
        return Err(ApiError::SecretTooLarge {
            len: value.len(),
            max: hgs_keys::MAX_PLAINTEXT,
        });
    }
    let policy = crate::store::json(&body.policy, "release policy")?;
    let sealed = st
        .keyring
        .seal(&keys::secret_place(name.as_str(), &policy), &value);
    let now = st.config.clock.now();
    let version = st
        .store
        .put_secret(name.as_str(), &policy, value.len() as u64, &sealed, now)
        .await?;
    let status = if version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let row = st.store.secret(name.as_str()).await?;
    let info = row.as_ref().map(SecretInfo::from).unwrap_or(SecretInfo {
        name: name.to_string(),
        version,
        policy: body.policy,
        value_len: value.len() as u64,
        created_at: now,
        updated_at: now,
    });
    Ok((status, Json(info)).into_response())
}

pub(super) async fn list_secrets<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<SecretInfo>>, ApiError> {
    let rows = st.store.secrets().await?;
    Ok(Json(rows.iter().map(SecretInfo::from).collect()))
}

pub(super) async fn delete_secret<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = Name::new(&name)?;
    if st.store.delete_secret(name.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            kind: "secret",
            name: name.to_string(),
        })
    }
}

pub(super) async fn create_guardian<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = Name::new(&name)?;
    if name.as_str().len() > hgs_kps::MAX_GUARDIAN_CN_LEN {
        return Err(ApiError::BadRequest(format!(
            "a guardian name (its certificate's common name) is at most {} bytes",
            hgs_kps::MAX_GUARDIAN_CN_LEN
        )));
    }
    let row =
        keys::create_guardian(&st.store, &st.keyring, name.as_str(), st.config.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(GuardianInfo::from(&row))).into_response())
}

/// Unauthenticated: guardian certificates are public (owners make key protectors offline).
pub(super) async fn list_guardians<S: Store>(
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<GuardianInfo>>, ApiError> {
    let rows = st.store.guardians().await?;
    Ok(Json(rows.iter().map(GuardianInfo::from).collect()))
}

/// Unauthenticated: one guardian's certificate as PEM (`Export-HgsGuardian`).
pub(super) async fn get_guardian<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = Name::new(&name)?;
    let rows = st.store.guardians().await?;
    let row = rows
        .iter()
        .find(|r| r.name == name.as_str())
        .ok_or_else(|| ApiError::NotFound {
            kind: "guardian",
            name: name.to_string(),
        })?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        row.certificate_pem.clone(),
    )
        .into_response())
}

pub(super) async fn put_deny_issued_before<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    ApiJson(body): ApiJson<DenyIssuedBefore>,
) -> Result<Json<DenyIssuedBefore>, ApiError> {
    let text = body.before.map(|b| b.to_string());
    st.store
        .set_kps_setting(DENY_ISSUED_BEFORE, text.as_deref())
        .await?;
    Ok(Json(body))
}

pub(super) async fn get_deny_issued_before<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<DenyIssuedBefore>, ApiError> {
    Ok(Json(DenyIssuedBefore {
        before: deny_issued_before(&st.store).await?,
    }))
}

pub(super) async fn put_key_protector_policy<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    ApiJson(policy): ApiJson<ReleasePolicy>,
) -> Result<Json<ReleasePolicy>, ApiError> {
    let text = crate::store::json(&policy, "release policy")?;
    st.store
        .set_kps_setting(KEY_PROTECTOR_POLICY, Some(&text))
        .await?;
    Ok(Json(policy))
}

pub(super) async fn get_key_protector_policy<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<ReleasePolicy>, ApiError> {
    Ok(Json(key_protector_policy(&st.store).await?))
}

pub(super) async fn audit<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit > MAX_AUDIT_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit is at most {MAX_AUDIT_LIMIT}"
        )));
    }
    Ok(Json(st.store.audit(limit).await?))
}

async fn deny_issued_before<S: Store>(store: &S) -> Result<Option<u64>, ApiError> {
    match store.kps_setting(DENY_ISSUED_BEFORE).await? {
        None => Ok(None),
        // Written by this server as decimal; anything else fails closed (deny all).
        Some(t) => Ok(Some(t.trim().parse().unwrap_or(u64::MAX))),
    }
}

async fn key_protector_policy<S: Store>(store: &S) -> Result<ReleasePolicy, ApiError> {
    match store.kps_setting(KEY_PROTECTOR_POLICY).await? {
        None => Ok(ReleasePolicy::all_guarded()),
        Some(t) => Ok(crate::store::parse(&t, "key-protector policy")?),
    }
}

// --- hosts ---------------------------------------------------------------------------------

/// One request's audit context.
struct Audit<'a, S: Store> {
    st: &'a AppState<S>,
    kind: &'static str,
    object: String,
    token_id: String,
    host: Option<String>,
}

impl<S: Store> Audit<'_, S> {
    async fn write(&self, outcome: &str, reason: &str) -> Result<(), ApiError> {
        let st = self.st;
        let now = st.config.clock.now();
        st.metrics.release(if outcome == "released" {
            "released"
        } else {
            reason
        });
        st.store
            .record_audit(&AuditRecord {
                at: now,
                host: self.host.clone(),
                kind: self.kind.to_owned(),
                object: self.object.clone(),
                token_id: self.token_id.clone(),
                outcome: outcome.to_owned(),
                reason: reason.to_owned(),
            })
            .await?;
        // Bounded: purge by age and count every AUDIT_PURGE_EVERY rows this server wrote.
        if st.audits.fetch_add(1, Ordering::Relaxed) % AUDIT_PURGE_EVERY == AUDIT_PURGE_EVERY - 1 {
            st.store
                .purge_audit(now.saturating_sub(AUDIT_RETENTION), AUDIT_MAX_ROWS)
                .await?;
        }
        Ok(())
    }

    /// Audits a refusal and returns it.
    async fn refuse(&self, e: ApiError) -> ApiError {
        let reason = match &e {
            ApiError::ReleaseRefused(r) => refusal_kind(r),
            e => e.kind(),
        };
        match self.write("refused", reason).await {
            Ok(()) => e,
            Err(audit_failed) => audit_failed,
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Verifies the bearer token: the signature with the server's token key first. An authentic
/// but expired token is the refusal `expired` (403); anything else that does not verify is
/// `invalid_token` (401).
fn verify<S: Store>(
    st: &AppState<S>,
    token: Option<&str>,
    now: u64,
) -> Result<VerifiedToken, ApiError> {
    let token = token.ok_or(ApiError::InvalidToken(None))?;
    st.verifier.verify(token, now).map_err(|e| match e {
        TokenError::Expired { exp, now, .. } => {
            ApiError::ReleaseRefused(hgs_kps::Refusal::Expired { exp, now })
        }
        e => ApiError::InvalidToken(Some(e)),
    })
}

/// The registration the token's host has now (none if it names no valid, registered host).
async fn registration<S: Store>(
    st: &AppState<S>,
    token: &VerifiedToken,
) -> Result<Option<hgs_attest::policy::TpmHost>, ApiError> {
    let Some(name) = token
        .claims()
        .host
        .as_deref()
        .and_then(|h| Name::new(h).ok())
    else {
        return Ok(None);
    };
    let registry = st.store.registry(Hosts::Named(&name)).await?;
    Ok(registry.hosts.into_iter().find(|h| h.name == name))
}

/// `hgs_kps::decide_release` on what the database says now: the host's registration and the
/// cut-off (no cache, so a change on any replica applies to the next release).
async fn decide<S: Store>(
    st: &AppState<S>,
    verified: &VerifiedToken,
    now: u64,
    policy: &ReleasePolicy,
) -> Result<Result<hgs_kps::Release, hgs_kps::Refusal>, ApiError> {
    let registered = registration(st, verified).await?;
    let cutoff = deny_issued_before(&st.store).await?;
    Ok(decide_release(
        verified,
        now,
        registered.as_ref(),
        policy,
        cutoff,
    ))
}

fn jose(jwe: String) -> Response {
    ([(header::CONTENT_TYPE, JOSE)], jwe).into_response()
}

/// `POST /v1/secrets/{name}/release`.
pub(super) async fn release_secret<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let now = st.config.clock.now();
    let token = bearer(&headers);
    let mut audit = Audit {
        st: &st,
        kind: "secret",
        // Bounded, and only a valid name (the path is the client's text).
        object: Name::new(&name).map_or_else(|_| "-".to_owned(), |n| n.to_string()),
        token_id: token.map_or_else(|| "none".to_owned(), token_id),
        host: None,
    };
    let verified = match verify(&st, token, now) {
        Ok(v) => v,
        Err(e) => return Err(audit.refuse(e).await),
    };
    audit.host = verified.claims().host.clone();
    let name = match Name::new(&name) {
        Ok(n) => n,
        Err(e) => return Err(audit.refuse(e.into()).await),
    };
    let Some(secret) = st.store.secret(name.as_str()).await? else {
        let e = ApiError::NotFound {
            kind: "secret",
            name: name.to_string(),
        };
        return Err(audit.refuse(e).await);
    };
    let policy: ReleasePolicy = crate::store::parse(&secret.policy, "release policy")?;
    let release = match decide(&st, &verified, now, &policy).await? {
        Ok(r) => r,
        Err(r) => return Err(audit.refuse(r.into()).await),
    };
    let value = st
        .keyring
        .open(
            &keys::secret_place(name.as_str(), &secret.policy),
            &secret.sealed,
        )
        .map_err(|e| ApiError::KeyService(e.into()))?;
    let jwe = hgs_keys::encrypt(&release.key, &value, &mut rand_core::OsRng)
        .map_err(ApiError::Encrypt)?;
    audit.write("released", "released").await?;
    Ok(jose(jwe))
}

/// `POST /v1/key-protectors/unwrap`: the body is the key protector document.
pub(super) async fn unwrap_key_protector<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    let now = st.config.clock.now();
    let token = bearer(&headers);
    let mut audit = Audit {
        st: &st,
        kind: "key_protector",
        object: "-".to_owned(),
        token_id: token.map_or_else(|| "none".to_owned(), token_id),
        host: None,
    };
    let verified = match verify(&st, token, now) {
        Ok(v) => v,
        Err(e) => return Err(audit.refuse(e).await),
    };
    audit.host = verified.claims().host.clone();
    let protector = match KeyProtector::parse(&body) {
        Ok(p) => p,
        Err(e) => return Err(audit.refuse(ApiError::KeyProtector(e)).await),
    };
    audit.object = hgs_tpm::hex::encode(protector.id());
    let guardians = st.store.guardians().await?;
    let Some(row) = guardians.iter().find(|g| {
        protector
            .wrappings()
            .iter()
            .any(|w| w.guardian().to_string() == g.fingerprint)
    }) else {
        return Err(audit.refuse(ApiError::NoGuardian).await);
    };
    let policy = key_protector_policy(&st.store).await?;
    let release = match decide(&st, &verified, now, &policy).await? {
        Ok(r) => r,
        Err(r) => return Err(audit.refuse(r.into()).await),
    };
    let guardian = keys::open_guardian(&st.keyring, row)?;
    let transport = match guardian.open(&protector) {
        Ok(t) => t,
        Err(e) => return Err(audit.refuse(ApiError::KeyProtector(e)).await),
    };
    let jwe = match protector.rewrap_to(&transport, &release.key, &mut rand_core::OsRng) {
        Ok(j) => j,
        Err(e) => return Err(audit.refuse(ApiError::KeyProtector(e)).await),
    };
    audit.write("released", "released").await?;
    Ok(jose(jwe))
}

/// The `/status` summary of the key service (names and counts, never a value).
pub(super) async fn summary<S: Store>(
    st: &AppState<S>,
) -> Result<crate::status::KeySummary, ApiError> {
    let now = st.config.clock.now();
    Ok(crate::status::KeySummary {
        secrets: st
            .store
            .secrets()
            .await?
            .into_iter()
            .map(|s| (s.name, s.version))
            .collect(),
        guardians: st
            .store
            .guardians()
            .await?
            .into_iter()
            .map(|g| (g.name, g.fingerprint))
            .collect(),
        deny_issued_before: deny_issued_before(&st.store).await?,
        last_hour: st.store.audit_counts(now.saturating_sub(3600)).await?,
    })
}
