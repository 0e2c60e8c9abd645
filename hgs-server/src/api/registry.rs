//! The administrators' endpoints (`Authorization: Bearer <admin token>`): hosts, baselines, CI
//! policies, trusted TPM vendor certificates and `Hgs_*` policy states.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hgs_attest::policy::{register_host, BaselineProfile};
use hgs_attest::policy::{
    CiPolicyRegistration, HgsPolicy, Name, PolicySettings, PolicyState, PolicyVersion,
    RegistrationOptions, TpmBaseline, TpmHost,
};
use hgs_attest::policy::{TrustRole, TrustedCertificate};
use sha2::{Digest, Sha256};

use super::extract::{from_hex, Admin, ApiJson};
use super::{ApiError, AppState};
use crate::store::{Hosts, Store};

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

/// `PUT /v1/ci-policies/{name}` body: the binary policy file, or the policy a reference host
/// measured (exactly one of the two).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CiPolicyRequest {
    /// The reference log, hex.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hgs_tpm::hex::serde_option"
    )]
    pub reference_log: Option<Vec<u8>>,
    /// Or: the binary policy (.p7b/.bin, signed or not), hex.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hgs_tpm::hex::serde_option"
    )]
    pub policy_file: Option<Vec<u8>>,
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
    /// The certificate, DER, hex (what `hgs store copy` carries to another backend).
    #[serde(with = "hgs_tpm::hex::serde")]
    pub der: Vec<u8>,
}

impl InstalledRoot {
    fn of(c: &TrustedCertificate) -> InstalledRoot {
        InstalledRoot {
            fingerprint: hgs_tpm::hex::encode(&Sha256::digest(&c.der)),
            role: c.role,
            subject: c.subject.clone(),
            vendor: c.vendor.clone(),
            der: c.der.clone(),
        }
    }
}

/// `POST /v1/import` body: registrations exported from another backend (`hgs store copy`),
/// stored as they are (their EK checks were made when they were first registered). Each host's
/// EK fingerprint is recomputed from its EK; names are checked by the naming rule as they are
/// read. Names or EKs already registered are refused (409) at the first conflict.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ImportBody {
    /// Host records.
    #[serde(default)]
    pub hosts: Vec<TpmHost>,
    /// Baselines.
    #[serde(default)]
    pub baselines: Vec<TpmBaseline>,
    /// CI policies.
    #[serde(default)]
    pub ci_policies: Vec<CiPolicyRegistration>,
}

/// `POST /v1/import` answer: how many records were stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Imported {
    /// Records stored.
    pub added: usize,
}

/// One policy's state, as `GET /v1/policies` lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PolicyStateEntry {
    /// `Hgs_SecureBootEnabled`, ...
    pub policy: HgsPolicy,
    /// Its state.
    pub state: PolicyState,
}

pub(super) async fn list_hosts<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<TpmHost>>, ApiError> {
    Ok(Json(st.store.registry(Hosts::All).await?.hosts))
}

pub(super) async fn add_host<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<HostRegistration>,
) -> Result<(StatusCode, Json<TpmHost>), ApiError> {
    let name = Name::new(&name)?;
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

pub(super) async fn remove_host<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.remove_host(&Name::new(&name)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound { kind: "host", name })
    }
}

pub(super) async fn list_baselines<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<TpmBaseline>>, ApiError> {
    Ok(Json(
        st.store.registry(Hosts::All).await?.baselines.to_vec(),
    ))
}

pub(super) async fn add_baseline<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<BaselineRegistration>,
) -> Result<(StatusCode, Json<TpmBaseline>), ApiError> {
    // The naming rule first (400), before the log is parsed.
    let name = Name::new(&name)?;
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

pub(super) async fn remove_baseline<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.remove_baseline(&Name::new(&name)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            kind: "baseline",
            name,
        })
    }
}

pub(super) async fn list_ci_policies<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Json<Vec<CiPolicyRegistration>>, ApiError> {
    Ok(Json(
        st.store.registry(Hosts::All).await?.ci_policies.to_vec(),
    ))
}

pub(super) async fn add_ci_policy<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CiPolicyRequest>,
) -> Result<(StatusCode, Json<CiPolicyRegistration>), ApiError> {
    let name = Name::new(&name)?;
    let policy = match (&body.reference_log, &body.policy_file) {
        (Some(log), None) => CiPolicyRegistration::from_reference_log(
            &name,
            body.policy_version,
            log,
            body.file_name.as_deref(),
        )?,
        (None, Some(file)) => {
            CiPolicyRegistration::from_policy_file(&name, body.policy_version, file)?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of reference_log and policy_file".into(),
            ))
        }
    };
    st.store.insert_ci_policy(&policy).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

pub(super) async fn remove_ci_policy<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.remove_ci_policy(&Name::new(&name)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            kind: "CI policy",
            name,
        })
    }
}

pub(super) async fn list_roots<S: Store>(
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

pub(super) async fn add_root<S: Store>(
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

pub(super) async fn remove_root<S: Store>(
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

pub(super) async fn list_policies<S: Store>(
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

pub(super) async fn set_policy<S: Store>(
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
    let wanted = settings.state(policy);
    let state = st.store.set_policy_state(policy, wanted).await?;
    if state != wanted {
        return Err(hgs_attest::policy::PolicyStateError::Locked(policy).into());
    }
    Ok(Json(PolicyStateEntry { policy, state }))
}

pub(super) async fn import<S: Store>(
    _: Admin,
    State(st): State<Arc<AppState<S>>>,
    ApiJson(body): ApiJson<ImportBody>,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    for h in &body.hosts {
        if hgs_attest::policy::ek_fingerprint(&h.ekpub)? != h.ek_fingerprint {
            return Err(ApiError::BadRequest(format!(
                "host {}: the record's EK fingerprint is not its EK's",
                h.name
            )));
        }
    }
    let mut added = 0;
    for b in &body.baselines {
        st.store.insert_baseline(b).await?;
        added += 1;
    }
    for c in &body.ci_policies {
        st.store.insert_ci_policy(c).await?;
        added += 1;
    }
    for h in &body.hosts {
        // The unique constraints on name and EK fingerprint refuse a duplicate (409).
        st.store.insert_host(h).await?;
        added += 1;
    }
    Ok((StatusCode::CREATED, Json(Imported { added })))
}
