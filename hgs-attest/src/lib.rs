//! HGS-style TPM attestation: from evidence (EK, AK, quote, event log) to a [`Verdict`].
//!
//! No I/O: bytes and registered artifacts in, a verdict out; randomness (for challenges) is a
//! parameter. The public surface is the items re-exported here; the (private) modules, one
//! concern each:
//! - `credential.rs`: the verifier side of TPM2_MakeCredential, binding an AK to an EK
//!   ([`make_credential`], implemented in hgs-tpm; the ECDH backend is chosen here,
//!   [`EcdhBackend`]).
//! - `challenge.rs`: a challenge for a registered host (fresh secret encrypted to its EK).
//! - `evidence.rs`: what the host sends back (AK, quotes, log).
//! - `evaluate.rs`: every check, in order, into a [`Verdict`] ([`evaluate()`], [`Attestor`]).
//! - `verdict.rs`: HGS statuses and sub-statuses, each failure with its evidence.
//! - `token.rs`: signed attestation results ([`TokenSigner`], [`TokenVerifier`]): an ES256 JWT
//!   in the EAR shape a relying party verifies offline, time passed in.
//!
//! The trust boundary is a type: claims, baselines and CI-policy measurements are read only from
//! a [`QuotedLog`], which only binding a log to `hgs_tpm::verify_quote`'s [`VerifiedQuote`]s
//! makes; a check whose PCRs were not quoted fails by name ([`Failure::PcrsNotQuoted`]).
//!
//! The artifacts and rules come from [`hgs_policy`], re-exported as [`policy`]: a deliberate
//! namespace, so that a service depends on this one crate for registrations, rules and verdicts.
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks, never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod challenge;
mod credential;
mod ek_check;
mod evaluate;
mod evidence;
mod verdict;

pub use challenge::{
    new_challenge, Challenge, ChallengeError, ChallengeMessage, ChallengeRequest, DEFAULT_PCRS,
    MIN_NONCE_LEN,
};
pub use credential::{
    check_ak_attributes, kdfa, kdfe, make_credential, make_credential_with, Credential,
    CredentialError, EcdhBackend,
};
pub use ek_check::{check_ek_certificate, trust_store};
pub use evaluate::{
    evaluate, Attestor, FreshnessPolicy, Host, DEFAULT_MAX_CHALLENGE_AGE, MAX_CLOCK_SKEW,
    MAX_QUOTES_PER_BANK, MAX_REPORTED_DIGEST_MISMATCHES,
};
pub use evidence::{Evidence, PcrValues, QuoteEvidence, EVIDENCE_FORMAT};
pub use verdict::{
    AttestationStatus, Check, CheckId, CheckOutcome, Failure, MeasuredPolicy, Verdict,
};

/// What an embedder needs from the lower crates to call this one.
pub use hgs_tcglog::{BankPolicy, LogAnomaly, QuotedLog};
pub use hgs_tpm::{HashAlg, PcrSet, QuoteError, VerifiedQuote};

/// The artifacts and rules (`hgs-policy`), as a namespace: `hgs_attest::policy::TpmHost`, ...
pub use hgs_policy as policy;
pub use hgs_policy::EkFingerprint;
mod token;
pub use token::{
    key_id, EarStatus, Segment, TokenClaims, TokenError, TokenKeyError, TokenSigner, TokenStatus,
    TokenVerifier, UnixSeconds, VerifiedToken, VerifierId, DEFAULT_CLOCK_SKEW, EAR_PROFILE,
    MAX_TOKEN_LEN, TOKEN_ALG, TOKEN_TYP,
};
