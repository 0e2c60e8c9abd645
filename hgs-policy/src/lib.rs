#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks, never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod baseline;
mod cipolicy;
mod host;
mod name;
mod resolve;
mod rules;
mod store;
mod version;

pub use baseline::{
    validate_reference, BaselineError, BaselineEvent, BaselineMatcher, BaselineMismatch,
    BaselineProfile, CaptureProblem, EventByEvent, MismatchKind, TpmBaseline,
};
pub use cipolicy::{CiPolicyError, CiPolicyRegistration, CiPolicySource, CrossCheck};
pub use host::{
    ek_fingerprint, key_fingerprint, register_host, BadEkFingerprint, EkCertificateCheck,
    EkDistrust, EkFingerprint, EkIdentity, HostError, RegistrationOptions, TpmHost,
};
pub use name::{Name, NameError, MAX_NAME_LEN};
pub use resolve::{resolve, ArtifactMatches, Resolution, VersionAttempt};
pub use rules::{
    evaluate_rule, evaluate_rules, ClaimEvidence, ClaimValue, HgsPolicy, PolicySettings,
    PolicyState, PolicyStateError, RuleFailure, RuleOutcome, RuleResult, SubStatus,
};
pub use store::{PolicyStore, StoreError, TrustRole, TrustedCertificate, STORE_FORMAT};
pub use version::{PolicyVersion, UnknownPolicyVersion};

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
