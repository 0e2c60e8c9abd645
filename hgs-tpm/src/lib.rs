//! TPM 2.0 wire structures, parsed from their exact bytes, and signature verification with TPM keys.
//!
//! No I/O: every parser takes `&[u8]` and returns a value that borrows from it, keeping the exact
//! bytes a signature or a name is computed over (`Public::bytes`, `Attest::bytes`). Hostile sizes
//! are bounded ([`MAX_TPM2B`], [`MAX_BANKS`]); every failure is a typed
//! [`Error`] naming the structure and the byte offset.
//!
//! | file | structure |
//! |---|---|
//! | `public.rs` | TPMT_PUBLIC / TPM2B_PUBLIC (and the bare TPMT_PUBLIC Windows' PCP exports), names |
//! | `attest.rs` | TPMS_ATTEST / TPM2B_ATTEST (quote, certify, creation) |
//! | `signature.rs` | TPMT_SIGNATURE (RSASSA, RSAPSS, ECDSA) |
//! | `pcr_selection.rs` | TPML_PCR_SELECTION |
//! | `pcr_set.rs` | [`PcrSet`]: a set of PCR indices (what is asked, quoted, required) |
//! | `quote.rs` | [`verify_quote`] → [`VerifiedQuote`], the only way to one |
//! | `verify.rs` | signature verification behind the [`SignatureVerifier`] trait |
//!
//! ```
//! use hgs_tpm::{Attest, Attested, Public, Signature, SignatureVerifier, RustCryptoVerifier};
//! # fn main() -> Result<(), hgs_tpm::Error> {
//! // A 2048-bit RSA AK exported by Windows (bare TPMT_PUBLIC), a quote and its signature.
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/ga_windows_gcp_shielded_vm/");
//! # let read = |f: &str| std::fs::read(format!("{dir}{f}")).unwrap();
//! let (ak, attest, sig) = (read("ak_public.bin"), read("quote_attest.bin"), read("quote_sig.bin"));
//! let ak = Public::parse(&ak)?;
//! let quote = Attest::parse(&attest)?;
//! let signature = Signature::parse(&sig)?;
//! RustCryptoVerifier.verify(&ak.key()?, quote.bytes, &signature)?;
//! assert!(matches!(quote.attested, Attested::Quote { .. }));
//! # Ok(()) }
//! ```
//!
//! The public surface is the items re-exported here; the two public modules are deliberate
//! namespaces: [`alg`] (the TPM_ALG_ID constants, as the specification names them) and [`hex`]
//! (the hex codec and its serde adapters, `#[serde(with = "hgs_tpm::hex::serde")]`).
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks (`u32::try_from`, ...), never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

pub mod alg;
mod attest;
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
pub use soft::{SoftAk, SoftAkError, SoftEk, SoftEkError};
pub use verify::{DefaultVerifier, RustCryptoVerifier, SignatureVerifier, MAX_RSA_BITS};
#[cfg(feature = "ring")]
pub use verify_ring::RingVerifier;
