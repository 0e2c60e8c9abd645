#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks (`u32::try_from`, ...), never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod ak_signature;
pub mod alg;
mod attest;
mod certify;
mod credential;
mod ek_template;
mod error;
mod guid;
pub mod hex;
mod pcr_selection;
mod pcr_set;
mod public;
mod quote;
mod reader;
#[cfg(feature = "ring")]
mod ring_signer;
mod signature;
#[cfg(feature = "soft")]
mod soft;
mod verify;
#[cfg(feature = "ring")]
mod verify_ring;

pub use alg::{HashAlg, UnknownHashAlg};
pub use attest::{
    Attest, Attested, ClockInfo, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY,
    TPM_ST_ATTEST_CREATION, TPM_ST_ATTEST_QUOTE,
};
pub use certify::{
    verify_certify, CertifiedKey, CertifyError, CertifyPart, CertifyRequirements,
    BOUND_KEY_ATTRIBUTES,
};
pub use credential::{
    check_ak_attributes, kdfa, kdfe, make_credential, make_credential_with, Credential,
    CredentialError, EcdhBackend,
};
pub use ek_template::{ek_p256_public, ek_rsa2048_public, EK_ATTRIBUTES, EK_AUTH_POLICY};
pub use error::{Error, Label, Result};
pub use guid::Guid;
pub use pcr_selection::{PcrSelect, PcrSelection, MAX_BANKS, MAX_SELECT_BYTES};
pub use pcr_set::{BadPcr, PcrSet, PCR_COUNT};
pub use public::{
    EccCurve, ObjectAttributes, Parameters, Public, PublicKey, Scheme, SymDef, Unique, MAX_BUFFER,
};
pub use quote::{verify_quote, Freshness, QuoteError, QuotePart, QuoteRequirements, VerifiedQuote};
pub use reader::MAX_TPM2B;
#[cfg(feature = "ring")]
pub use ring_signer::RingP256Signer;
pub use signature::Signature;
#[cfg(feature = "soft")]
pub use soft::{decrypt_key_public, SoftAk, SoftAkError, SoftEk, SoftEkError};
pub use verify::{DefaultVerifier, RustCryptoVerifier, SignatureVerifier, MAX_RSA_BITS};
#[cfg(feature = "ring")]
pub use verify_ring::RingVerifier;
