//! The host side of HGS attestation, as a library: what a guarded host runs. The `hgs` program's
//! host verbs (`hgs platform-identifier`, `hgs baseline capture`, `hgs agent ak|attest|run`) are
//! argument parsing and output around it.
//!
//! | module | what | needs |
//! |---|---|---|
//! | [`identity`] | the platform identifier document (EK public areas and certificates; `Get-PlatformIdentifier`) | — |
//! | [`baseline`] | whether a captured log is fit as an HGS TPM baseline (`Get-HgsAttestationBaselinePolicy`) | — |
//! | [`hex`] | the hex of every JSON document, input trimmed | — |
//! | [`private_file`] | files only their owner reads (mode 0600 from creation, atomic): the bound key, the token, released plaintext | — |
//! | `tpm` | TPM access over `tss-esapi`: EKs and their NV certificates, the AK and its saved state, credential activation, quotes, PCR extension; the platform identifier read from the TPM; answering a challenge; the bound key (certified by the AK in each answer) and JWE decryption with it in the TPM | feature `tpm` |
//! | `client` | the HTTPS client of `hgs serve` (`hgs agent run`, `hgs agent secret get`): challenge, answer, submit, retry with backoff; secret and key-protector releases | feature `client` |
//!
//! **Why the features split there.** Only the code that opens a TPM needs `tss-esapi`, which links
//! the system's tpm2-tss (libtss2-dev and pkg-config at build time, the shared libraries at run
//! time). The documents a host exchanges with the verifier and the baseline check are pure Rust,
//! so an administrator's tools and the tests use them without a TPM stack; the HTTPS client is a
//! feature of its own because a host may answer challenges through files (`hgs agent attest`)
//! and never open a connection.
//!
//! ```
//! // The platform identifier a verifier receives, read back the way `hgs host add` reads it.
//! let json = r#"{"format":"hgs-platform-identifier/1","name":"HOST01","endorsement_keys":[]}"#;
//! let id: hgs_agent::identity::PlatformIdentifier = serde_json::from_str(json).unwrap();
//! assert_eq!(id.name, "HOST01");
//! ```

#![forbid(unsafe_code)]

pub mod baseline;
#[cfg(feature = "client")]
pub mod client;
pub mod hex;
pub mod identity;
pub mod private_file;
#[cfg(feature = "tpm")]
pub mod tpm;
