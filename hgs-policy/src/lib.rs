//! HGS attestation policy, TPM mode: the registered artifacts and the rules that judge a host.
//!
//! No I/O: artifacts are built from bytes and serialized with serde; a service decides where they
//! live. Modules, one concern each:
//! - [`version`]: v1 / v2 and their spelling.
//! - [`host`]: TPM host registration, the v1/v2/force rules for EK certificates.
//! - [`baseline`]: TPM baselines from reference logs, capture validation, the event-by-event
//!   matcher (inferred model, replaceable through [`baseline::BaselineMatcher`]).
//! - [`cipolicy`]: CI policy registration (from the policy file or from a reference log) and matching.
//! - [`rules`]: the `Hgs_*` policies, their states and defaults, evaluated from boot claims.
//! - [`resolve`](mod@resolve): version resolution (v2 first, then v1; all artifacts of one version).
//! - [`store`]: every registration as one versioned serde document.
//!
//! ```
//! use hgs_policy::rules::{HgsPolicy, PolicySettings, PolicyState};
//! let mut settings = PolicySettings::default();
//! assert_eq!(settings.state(HgsPolicy::BitLockerEnabled), PolicyState::Disabled);
//! assert!(settings.disable(HgsPolicy::CiPolicy).is_err()); // locked
//! settings.disable(HgsPolicy::NoDumps).unwrap();
//! assert!(!settings.is_active(HgsPolicy::NoDumps));
//! ```
#![forbid(unsafe_code)]

pub mod baseline;
pub mod cipolicy;
pub mod host;
pub mod resolve;
pub mod rules;
pub mod store;
pub mod version;

pub use baseline::{BaselineMatcher, BaselineMismatch, BaselineProfile, EventByEvent, TpmBaseline};
pub use cipolicy::CiPolicyRegistration;
pub use host::{
    BadEkFingerprint, EkCertificateCheck, EkDistrust, EkFingerprint, EkIdentity,
    RegistrationOptions, TpmHost,
};
pub use resolve::{resolve, ArtifactMatches, Resolution, VersionAttempt};
pub use rules::{
    ClaimEvidence, ClaimValue, HgsPolicy, PolicySettings, PolicyState, RuleOutcome, SubStatus,
};
pub use store::PolicyStore;
pub use version::PolicyVersion;

/// The PCRs a quote must cover for every active check to be attestable: each active `Hgs_*`
/// policy's [`HgsPolicy::pcrs`], and every PCR a registered baseline's profile compares.
/// A challenge over fewer PCRs leaves some check without evidence.
pub fn required_pcrs(settings: &PolicySettings, baselines: &[TpmBaseline]) -> hgs_tpm::PcrSet {
    let policies = HgsPolicy::ALL
        .into_iter()
        .filter(|p| settings.is_active(*p))
        .fold(hgs_tpm::PcrSet::EMPTY, |s, p| s.union(p.pcrs()));
    baselines.iter().fold(policies, |s, b| {
        s.union(b.profile.pcrs().iter().copied().collect())
    })
}
