#![doc = include_str!("../README.md")]
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
pub use ek_check::{check_ek_certificate, trust_store, trusted_certificate};
pub use evaluate::{
    evaluate, Attestor, FreshnessPolicy, Host, DEFAULT_MAX_CHALLENGE_AGE, MAX_CLOCK_SKEW,
    MAX_QUOTES_PER_BANK, MAX_REPORTED_DIGEST_MISMATCHES,
};
pub use evidence::{
    BoundKeyEvidence, Evidence, EvidenceError, PcrValues, QuoteEvidence, EVIDENCE_FORMAT,
};
pub use verdict::{
    AttestationStatus, BoundKeySource, Check, CheckId, CheckOutcome, Failure, MeasuredPolicy,
    Verdict,
};

/// The time [`check_ek_certificate`] checks validity at, and the certificate reader's error
/// [`trusted_certificate`] returns.
pub use hgs_ekcert::{Error as EkCertificateError, UnixTime};
/// What an embedder needs from the lower crates to call this one.
pub use hgs_tcglog::{BankPolicy, LogAnomaly, QuotedLog};
/// The TPM structures evidence is made of, for an embedder who reads it (a quote's selection, an
/// AK's name for a [`Challenge`] made by hand).
pub use hgs_tpm::{Attest, Attested, Public};
pub use hgs_tpm::{HashAlg, PcrSet, QuoteError, VerifiedQuote};

/// The key type of a token's `cnf` (`hgs-keys`).
pub use hgs_keys::BoundKey;
/// The artifacts and rules (`hgs-policy`), as a namespace: `hgs_attest::policy::TpmHost`, ...
pub use hgs_policy as policy;
pub use hgs_policy::EkFingerprint;
mod token;
mod tpm2_tools;
pub use token::{
    key_id, EarStatus, Segment, TokenClaims, TokenError, TokenKeyError, TokenSigner, TokenStatus,
    TokenVerifier, UnixSeconds, VerifiedToken, VerifierId, DEFAULT_CLOCK_SKEW, EAR_PROFILE,
    MAX_TOKEN_LEN, TOKEN_ALG, TOKEN_TYP,
};
pub use tpm2_tools::{PcrFileError, Tpm2ToolsError, MAX_PCR_FILE_LISTS};
