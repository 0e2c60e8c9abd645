//! Code integrity policy registration (`Add-HgsAttestationCIPolicy`) and matching against the
//! SI-policy events a host measured.
//!
//! Two ways to register a policy:
//! - [`CiPolicyRegistration::from_policy_file`]: the binary policy (`.p7b`/`.bin`, signed or not).
//!   Its measured digest is computed by `hgs-cipolicy` over the *unsigned* policy bytes (a signed
//!   policy's signature is not measured). That choice of bytes is inferred from Microsoft's
//!   statement "register an unsigned copy", not documented byte for byte.
//! - [`CiPolicyRegistration::from_reference_log`]: the digest Windows itself measured into the
//!   reference host's log (SIPA `SI_POLICY` event). No inference about bytes is needed.
//!
//! [`CiPolicyRegistration::cross_check`] compares a file registration with a log wherever both exist.

use std::collections::BTreeMap;

use hgs_cipolicy::CiPolicy;
use hgs_tcglog::{BootClaims, EventLog, LogAnomaly, ReferenceLog, SiPolicyClaim};
use hgs_tpm::HashAlg;

use crate::name::{Name, NameError};
use crate::version::PolicyVersion;

/// Where a registered CI policy's digests came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum CiPolicySource {
    /// A binary policy file.
    File {
        /// The file was a signed (CMS) policy; the digests cover its unsigned content.
        signed: bool,
        /// Supplemental policy (extends a base policy).
        supplemental: bool,
        /// PolicyID GUID.
        policy_id: String,
        /// Policy name from its settings, if any.
        policy_name: Option<String>,
        /// The policy's own version (`a.b.c.d`).
        file_version: String,
    },
    /// The SI_POLICY event of a reference host's log.
    ReferenceLog {
        /// Event index in the reference log.
        event_index: u32,
        /// Policy file name Windows recorded (e.g. `SiPolicy.p7b`).
        file_name: String,
        /// The policy's own version as Windows recorded it.
        file_version: u64,
    },
}

/// A registered CI policy: the digests a host's SI_POLICY event may carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CiPolicyRegistration {
    /// Name the admin gave.
    pub name: Name,
    /// Version it was registered under.
    pub policy_version: PolicyVersion,
    /// Measured digest per algorithm (serialized as `{"sha256": "<hex>", ...}`), hex.
    pub digests: BTreeMap<HashAlg, String>,
    /// Audit mode (`Some(true)`: hosts pass but are flagged); unknown for log registrations.
    pub audit_mode: Option<bool>,
    /// Where the digests came from.
    #[serde(flatten)]
    pub source: CiPolicySource,
}

/// Why a CI policy cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CiPolicyError {
    /// The policy file does not parse.
    #[error("the CI policy does not parse")]
    Policy(#[source] hgs_cipolicy::Error),
    /// The reference log does not parse, or is not one a reference may be taken from.
    #[error("the reference log is unusable")]
    Log(#[source] hgs_tcglog::Error),
    /// The reference log measured no SI policy.
    #[error("the reference log measured no code integrity policy")]
    NotInLog,
    /// The reference log's only CI policy event(s) carry data their digest does not cover
    /// (altered after measuring): the first one. Its data is not registered.
    #[error(
        "the reference log's code integrity policy event {event_index} (PCR {pcr}) is not \
         covered by its digest"
    )]
    Uncovered {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
    },
    /// The reference log measured several policies and none (or several) has the requested name.
    #[error(
        "the reference log measured several policies ({candidates:?}): name the one to register"
    )]
    Ambiguous {
        /// Their file names.
        candidates: Vec<String>,
    },
    /// The SI_POLICY event names a digest algorithm we do not know.
    #[error("SI_POLICY event {event_index} uses unknown digest algorithm 0x{alg:04x}")]
    UnknownAlgorithm {
        /// Event index.
        event_index: u32,
        /// TPM_ALG_ID.
        alg: u16,
    },
    /// The name breaks the naming rule ([`Name`]).
    #[error("invalid CI policy name: {0}")]
    InvalidName(#[from] NameError),
}

/// Outcome of [`CiPolicyRegistration::cross_check`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CrossCheck {
    /// An SI_POLICY event of the log carries this registration's digest.
    Matches {
        /// The event.
        event_index: u32,
    },
    /// The log measured policies, none with this digest.
    Differs {
        /// What the log measured: (event index, file name, algorithm, digest hex).
        measured: Vec<(u32, String, String, String)>,
    },
    /// The log measured no policy.
    NotInLog,
}

impl CiPolicyRegistration {
    /// Registers a binary policy file (signed or unsigned).
    pub fn from_policy_file(
        name: &str,
        version: PolicyVersion,
        file: &[u8],
    ) -> Result<Self, CiPolicyError> {
        let name = Name::new(name)?;
        let policy = CiPolicy::parse(file).map_err(CiPolicyError::Policy)?;
        // Every algorithm an SI_POLICY event may use.
        let digests = HashAlg::ALL
            .iter()
            .map(|a| (*a, hgs_tpm::hex::encode(&policy.measured_digest(*a))))
            .collect();
        Ok(CiPolicyRegistration {
            name,
            policy_version: version,
            digests,
            audit_mode: Some(policy.audit_mode()),
            source: CiPolicySource::File {
                signed: policy.is_signed(),
                supplemental: policy.is_supplemental(),
                policy_id: format!("{:#}", policy.policy_id()),
                policy_name: policy.name().map(str::to_string),
                file_version: policy.version().to_string(),
            },
        })
    }

    /// Registers the policy a reference host measured. `file_name` picks one when the log measured
    /// several (matched against the recorded file name, case-insensitively).
    pub fn from_reference_log(
        name: &str,
        version: PolicyVersion,
        log: &[u8],
        file_name: Option<&str>,
    ) -> Result<Self, CiPolicyError> {
        let name = Name::new(name)?;
        let parsed = EventLog::parse(log).map_err(CiPolicyError::Log)?;
        let reference = ReferenceLog::new(parsed).map_err(CiPolicyError::Log)?;
        let claims = BootClaims::from_reference(&reference);
        let candidates: Vec<&SiPolicyClaim> = claims
            .si_policies
            .iter()
            .filter(|p| file_name.is_none_or(|n| p.name.eq_ignore_ascii_case(n)))
            .collect();
        let chosen = match candidates.as_slice() {
            [] if claims.si_policies.is_empty() => {
                return Err(claims
                    .anomalies
                    .iter()
                    .find_map(|a| match a {
                        LogAnomaly::UncoveredCiPolicy { event_index, pcr } => {
                            Some(CiPolicyError::Uncovered {
                                event_index: *event_index,
                                pcr: *pcr,
                            })
                        }
                        _ => None,
                    })
                    .unwrap_or(CiPolicyError::NotInLog))
            }
            [one] => *one,
            _ => {
                return Err(CiPolicyError::Ambiguous {
                    candidates: claims.si_policies.iter().map(|p| p.name.clone()).collect(),
                })
            }
        };
        let alg =
            HashAlg::from_tpm_alg_id(chosen.hash_alg).ok_or(CiPolicyError::UnknownAlgorithm {
                event_index: chosen.event_index,
                alg: chosen.hash_alg,
            })?;
        Ok(CiPolicyRegistration {
            name,
            policy_version: version,
            digests: BTreeMap::from([(alg, hgs_tpm::hex::encode(&chosen.digest))]),
            audit_mode: None,
            source: CiPolicySource::ReferenceLog {
                event_index: chosen.event_index,
                file_name: chosen.name.clone(),
                file_version: chosen.version,
            },
        })
    }

    /// Whether a measured SI policy is this one.
    pub fn matches(&self, measured: &SiPolicyClaim) -> bool {
        HashAlg::from_tpm_alg_id(measured.hash_alg).is_some_and(|alg| {
            self.digests
                .get(&alg)
                .is_some_and(|d| *d == hgs_tpm::hex::encode(&measured.digest))
        })
    }

    /// Compares this registration with the policies a log measured.
    pub fn cross_check(&self, claims: &BootClaims) -> CrossCheck {
        if claims.si_policies.is_empty() {
            return CrossCheck::NotInLog;
        }
        match claims.si_policies.iter().find(|p| self.matches(p)) {
            Some(p) => CrossCheck::Matches {
                event_index: p.event_index,
            },
            None => CrossCheck::Differs {
                measured: claims
                    .si_policies
                    .iter()
                    .map(|p| {
                        (
                            p.event_index,
                            p.name.clone(),
                            HashAlg::from_tpm_alg_id(p.hash_alg)
                                .map_or("unknown", HashAlg::name)
                                .to_string(),
                            hgs_tpm::hex::encode(&p.digest),
                        )
                    })
                    .collect(),
            },
        }
    }
}
