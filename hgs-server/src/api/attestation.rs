//! The hosts' endpoints (no authentication: the TPM evidence is the credential): challenges,
//! attestations, and the token key relying parties verify with.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hgs_attest::policy::{Name, PolicySettings};
use hgs_attest::{
    new_challenge, Attestor, ChallengeMessage, ChallengeRequest, EcdhBackend, Evidence, Host,
    TokenClaims, Verdict,
};

use super::extract::ApiJson;
use super::{ApiError, AppState, CHALLENGE_RETENTION, INLINE_EVALUATION_MAX_LOG, PURGE_EVERY};
use crate::metrics::status_name;
use crate::store::{Consumed, Hosts, Store, VerdictRecord};

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

pub(super) async fn create_challenge<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ApiJson(body): ApiJson<ChallengeBody>,
) -> Result<Json<ChallengeMessage>, ApiError> {
    let now = st.config.clock.now();
    // The naming rule before the database: a NUL or a 5,000-character "name" never reaches SQL.
    let name = Name::new(&body.host)?;
    let registry = st.store.registry(Hosts::Named(&name)).await?;
    let host = registry
        .hosts
        .iter()
        .find(|h| h.name == name)
        .ok_or_else(|| ApiError::UnknownHost(body.host.clone()))?;
    // Only a registered name gets a bucket: the limiter's memory follows the fleet.
    if let Err(limited) = st.limiters.check_host(&host.name) {
        st.metrics.rate_limited(limited.limit);
        return Err(limited.into());
    }
    let attestor = Attestor::new().with_settings(PolicySettings::clone(&registry.settings));
    // ring's ECDH (4x RustCrypto's; ephemeral keys from the OS, as the secret is anyway).
    let request = ChallengeRequest::new(attestor.required_pcrs(&registry.baselines), now)
        .with_ecdh(EcdhBackend::Ring);
    let (challenge, mut message) =
        new_challenge(host, &body.ak_public, &request, &mut rand_core::OsRng)?;
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let id = hgs_tpm::hex::encode(&id);
    let voided = st
        .store
        .insert_challenge(&id, &challenge, now.saturating_add(st.config.challenge_ttl))
        .await?;
    st.metrics.challenges.inc();
    st.metrics.challenges_voided.inc_by(voided);
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

pub(super) async fn attest<S: Store>(
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

pub(super) async fn token_key<S: Store>(State(st): State<Arc<AppState<S>>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/jwk+json")],
        st.signer.public_jwk(),
    )
        .into_response()
}
