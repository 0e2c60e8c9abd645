//! Library half of the `hgs` program: the admin side's I/O that tests and other verbs reuse.
//! The host side (TPM access, platform identifier, baseline capture, answering a challenge, the
//! client of `hgs serve`) is the `hgs-agent` library.
//!
//! - [`ekcheck`]: EK certificate checks against the installed TPM roots, for host registration.
//! - [`hex`]: the hex encoding of bytes in every JSON document (`hgs_agent::hex`).
//! - [`store`]: the admin file store (atomic, locked, versioned JSON): the library's
//!   `hgs_policy::PolicyStore` plus the pending challenges and where each root came from.
//! - [`identity`]: the platform identifier document (`hgs_agent::identity`), read by `hgs host add`.
//! - [`roots`]: TPM vendor roots and intermediates loaded from directories (TrustedTpm.cab layout or
//!   plain folders).
//!
//! ```
//! let data = hgs_cli::store::StoreData::default();
//! assert_eq!(data.format, hgs_cli::store::FORMAT);
//! ```

#![forbid(unsafe_code)]

pub use hgs_agent::{hex, identity};

pub mod ekcheck;
pub mod roots;
pub mod store;
