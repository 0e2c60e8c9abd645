//! HGS-style TPM attestation: from evidence (EK, AK, quote, event log) to a verdict.
//!
//! No I/O. Modules, one concern each:
//! - [`credential`]: the verifier side of TPM2_MakeCredential, binding an AK to an EK.
//! - [`quote`]: quote verification (signature, nonce, PCR selection, PCR digest).
#![forbid(unsafe_code)]

pub mod credential;
pub mod quote;
