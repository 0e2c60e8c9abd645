//! Library half of the `hgs` program: the pieces that do I/O and that tests and other verbs reuse.
//!
//! - [`ekcheck`]: EK certificate checks against the installed TPM roots, for host registration.
//! - [`hex`]: the hex encoding of bytes in every JSON document.
//! - [`store`]: the admin file store (atomic, locked, versioned JSON).
//! - [`identity`]: the platform identifier document (EKpub + EK certificates).
//! - [`registry`]: the HGS registrations (`hgs_policy::PolicyStore`) inside that store.
//! - [`roots`]: TPM vendor roots and intermediates loaded from directories (TrustedTpm.cab layout or
//!   plain folders).
//! - `tpm` (feature `tpm`): host-side TPM operations over `tss-esapi` (EK, EK certificates, AK,
//!   credential activation, quotes, PCR extension).
//!
//! ```
//! let data = hgs_cli::store::StoreData::default();
//! assert_eq!(data.format, hgs_cli::store::FORMAT);
//! ```

#![forbid(unsafe_code)]

pub mod ekcheck;
pub mod hex;
pub mod identity;
pub mod registry;
pub mod roots;
pub mod store;
#[cfg(feature = "tpm")]
pub mod tpm;
