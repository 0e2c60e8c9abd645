//! The release decision: may a key service give a secret to the host a verified token is for?
//! A pure function of the token, the time, the host's current registration and the
//! administrator's policy, so an embedder's own key broker can decide without this project's
//! server.

use std::collections::BTreeSet;

use hgs_attest::{AttestationStatus, EarStatus, TokenStatus, UnixSeconds, VerifiedToken};
use hgs_keys::BoundKey;
use hgs_policy::{EkFingerprint, HgsPolicy, Name, PolicyVersion, SubStatus, TpmHost};
use serde::{Deserialize, Serialize};

/// Which guarded hosts a release policy admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HostSelector {
    /// Every registered host that passes (`"all_guarded"`).
    AllGuarded,
    /// Only these registered hosts (`{"names": ["HOST01", ...]}`).
    Names(BTreeSet<Name>),
}

/// What an administrator requires before a key is released to a host.
///
/// JSON: `{"hosts": "all_guarded", "min_policy_version": "v2", "required_sub_statuses":
/// ["Hgs_BitLockerEnabled"]}` (`required_sub_statuses` may be left out: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasePolicy {
    /// The hosts admitted.
    pub hosts: HostSelector,
    /// The lowest policy version a host may have passed under (`v2` refuses hosts that only
    /// pass the Windows Server 2016 rules).
    pub min_policy_version: PolicyVersion,
    /// `Hgs_*` policies the host must have been evaluated against and satisfied: listed in the
    /// token's `hgs.policies`, so its sub-status cannot have been reported. A policy the
    /// attestation service has disabled (`Hgs_BitLockerEnabled` by default) is not listed,
    /// so requiring it refuses every host until it is enabled.
    #[serde(default)]
    pub required_sub_statuses: Vec<HgsPolicy>,
}

impl ReleasePolicy {
    /// Every guarded host, any policy version, no policy beyond those the token passed.
    pub fn all_guarded() -> ReleasePolicy {
        ReleasePolicy {
            hosts: HostSelector::AllGuarded,
            min_policy_version: PolicyVersion::V1,
            required_sub_statuses: Vec::new(),
        }
    }
}

/// A positive decision: what to encrypt to, for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The host, as registered.
    pub host: Name,
    /// The token's `cnf` key, in the host's TPM: encrypt what is released to it
    /// ([`KeyProtector::rewrap_to`](crate::KeyProtector::rewrap_to)).
    pub key: BoundKey,
    /// The policy version the host passed under.
    pub policy_version: PolicyVersion,
    /// When the token expires: release nothing on it from this second on.
    pub expires_at: UnixSeconds,
}

/// Why nothing is released. Every reason is its own variant, with the evidence; none holds a
/// secret (host names, fingerprints, versions, times and policy names only), so the `Display` can
/// be logged and shown to the administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The token has expired (`now >= exp`).
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: UnixSeconds,
        /// The decision's time.
        now: UnixSeconds,
    },
    /// The host did not pass attestation (or the token is not `affirming`).
    #[error("the host's attestation status is {status:?} ({ear_status:?}), not Passed")]
    NotPassed {
        /// `hgs.status`.
        status: AttestationStatus,
        /// `ear.status`.
        ear_status: EarStatus,
        /// `hgs.sub-statuses`.
        sub_statuses: Vec<SubStatus>,
    },
    /// The token was issued before the administrator's cut-off (HGS'
    /// `DenyHealthCertificatesIssuedBefore`): the host must attest again.
    #[error("the token was issued at {issued_at}, before the cut-off {cutoff}")]
    IssuedBeforeCutoff {
        /// `iat`.
        issued_at: UnixSeconds,
        /// The cut-off.
        cutoff: UnixSeconds,
    },
    /// The token names no host: the EK was not registered when it attested.
    #[error("the token names no host (EK {ek_fingerprint} was not registered)")]
    NoHostName {
        /// `hgs.ek-fingerprint`.
        ek_fingerprint: EkFingerprint,
    },
    /// The host is no longer registered (removed since the token was issued).
    #[error("host {host:?} is no longer registered")]
    HostNotRegistered {
        /// `hgs.host`.
        host: String,
    },
    /// The registration given is another host's.
    #[error("the token is for host {host:?}, the registration given is {registered}")]
    RegistrationMismatch {
        /// `hgs.host`.
        host: String,
        /// The registration's name.
        registered: Name,
    },
    /// The host is registered now with another EK than the one that attested (re-registered,
    /// or its TPM replaced).
    #[error("host {host} attested with EK {attested}, but is registered with EK {registered}")]
    EkMismatch {
        /// The host.
        host: Name,
        /// `hgs.ek-fingerprint`.
        attested: EkFingerprint,
        /// The registration's EK fingerprint.
        registered: EkFingerprint,
    },
    /// The policy admits only named hosts, and this is not one.
    #[error("host {host} is not among the hosts the release policy names")]
    HostNotSelected {
        /// The host.
        host: Name,
    },
    /// The host passed under a lower policy version than the minimum (or the token says none).
    #[error("host {host} passed under policy version {version:?}, below the minimum {min}")]
    PolicyVersionTooLow {
        /// The host.
        host: Name,
        /// `hgs.policy-version`.
        version: Option<PolicyVersion>,
        /// The policy's minimum.
        min: PolicyVersion,
    },
    /// A required `Hgs_*` policy is not among those the token says the host satisfied.
    #[error("host {host}: the required policy {policy} is not attested as satisfied (sub-status {sub_status:?})")]
    PolicyNotSatisfied {
        /// The host.
        host: Name,
        /// The policy.
        policy: HgsPolicy,
        /// The sub-status its failure reports.
        sub_status: SubStatus,
    },
    /// The token has no `cnf`: there is no key known to be in the host's TPM to encrypt to.
    #[error("the token for host {host} names no bound key (cnf)")]
    NoBoundKey {
        /// The host.
        host: Name,
    },
}

/// Decides whether to release a secret to the host `token` is for, at `now`.
///
/// `registered` is the host's registration *now*, looked up by the token's host name (`None`
/// when there is none); `denied_before` is the administrator's cut-off, tokens issued before it
/// refused. In this order, each its own [`Refusal`]: the token is expired; its status is not
/// `Passed`/`affirming`; it was issued before the cut-off; it names no host; the host is not
/// registered, or the registration is another host's, or it has another EK; the policy does not
/// admit the host; the host passed under a lower version than the minimum; a required policy is
/// not listed as satisfied; the token names no bound key. Otherwise [`Release`], carrying the
/// token's `cnf` key.
///
/// The token's signature, issuer and lifetime were checked by `TokenVerifier::verify`; this
/// decides on what it says.
pub fn decide_release(
    token: &VerifiedToken,
    now: UnixSeconds,
    registered: Option<&TpmHost>,
    policy: &ReleasePolicy,
    denied_before: Option<UnixSeconds>,
) -> Result<Release, Refusal> {
    let claims = token.claims();
    if let TokenStatus::Expired { exp, now } = token.status(now) {
        return Err(Refusal::Expired { exp, now });
    }
    if !token.is_affirming(now) {
        return Err(Refusal::NotPassed {
            status: claims.status,
            ear_status: claims.ear_status,
            sub_statuses: claims.sub_statuses.clone(),
        });
    }
    if let Some(cutoff) = denied_before {
        if claims.issued_at < cutoff {
            return Err(Refusal::IssuedBeforeCutoff {
                issued_at: claims.issued_at,
                cutoff,
            });
        }
    }
    let host = claims.host.as_deref().ok_or(Refusal::NoHostName {
        ek_fingerprint: claims.ek_fingerprint,
    })?;
    let registered = registered.ok_or_else(|| Refusal::HostNotRegistered {
        host: host.to_owned(),
    })?;
    if registered.name.as_str() != host {
        return Err(Refusal::RegistrationMismatch {
            host: host.to_owned(),
            registered: registered.name.clone(),
        });
    }
    let host = registered.name.clone();
    if registered.ek_fingerprint != claims.ek_fingerprint {
        return Err(Refusal::EkMismatch {
            host,
            attested: claims.ek_fingerprint,
            registered: registered.ek_fingerprint,
        });
    }
    if let HostSelector::Names(names) = &policy.hosts {
        if !names.contains(&host) {
            return Err(Refusal::HostNotSelected { host });
        }
    }
    let policy_version = match claims.policy_version {
        Some(v) if v >= policy.min_policy_version => v,
        version => {
            return Err(Refusal::PolicyVersionTooLow {
                host,
                version,
                min: policy.min_policy_version,
            })
        }
    };
    if let Some(&p) = policy
        .required_sub_statuses
        .iter()
        .find(|p| !claims.policies.contains(p) || claims.sub_statuses.contains(&p.sub_status()))
    {
        return Err(Refusal::PolicyNotSatisfied {
            host,
            policy: p,
            sub_status: p.sub_status(),
        });
    }
    let key = claims
        .cnf
        .clone()
        .ok_or(Refusal::NoBoundKey { host: host.clone() })?;
    Ok(Release {
        host,
        key,
        policy_version,
        expires_at: claims.expires_at,
    })
}
