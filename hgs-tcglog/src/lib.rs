//! Zero-copy TCG event log parsing, PCR replay and event decoding. No I/O.
//!
//! Bytes in, typed values out. [`EventLog::parse`] reads the header and decides the format
//! (legacy SHA-1 `TCG_PCClientPCREvent`, or crypto-agile: a "Spec ID Event03" header followed by
//! `TCG_PCR_EVENT2`); [`EventLog::events`] then yields [`Event`]s lazily, each borrowing its digests
//! and data from the input. [`replay`] folds them into PCR values without allocating per event;
//! [`digest_check`] verifies that events whose digest is defined over their data really are
//! covered; [`uefi`] decodes UEFI event data.
//!
//! | file | concern |
//! |---|---|
//! | `parse.rs` | framing, format detection, limits |
//! | `spec_id.rs` | the crypto-agile header and its digest table |
//! | `event.rs`, `event_type.rs` | one event; EV_* types |
//! | `replay.rs` | PCR replay and comparison |
//! | `quoted.rs` | the trust boundary: [`QuotedLog`] (a log bound to verified quotes), its events |
//! | `digest_check.rs` | digest-covers-data checks |
//! | `uefi.rs` | UEFI variables, signature lists, image loads, GPT |
//! | `sipa.rs` | Windows SIPA records in EV_EVENT_TAG events |
//! | `claims.rs` | boot claims derived from a log (Secure Boot, debugging, VBS, CI policy, ...) |
//! | `owned.rs` | serde-friendly owned events |
//! | `builder.rs` | a log encoder for tests (feature `builder`) |
//!
//! ```
//! use hgs_tcglog::{replay, EventLog, HashAlg};
//! # fn main() -> Result<(), hgs_tcglog::Error> {
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"),
//!     "/../examples/data/ga_windows_gcp_shielded_vm/event_log.bin")).unwrap();
//! let log = EventLog::parse(&bytes)?;
//! let pcrs = replay::replay(&log)?;
//! assert_eq!(log.banks(), vec![HashAlg::Sha1]);
//! assert_eq!(hgs_tpm::hex::encode(pcrs.get(HashAlg::Sha1, 7).unwrap()),
//!            "859a5877266b5c909613468091a73380a5386786");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod alg;
#[cfg(feature = "builder")]
pub mod builder;
pub mod claims;
pub mod digest_check;
mod error;
pub mod event;
pub mod event_type;
pub mod modules;
pub mod owned;
pub mod parse;
mod quoted;
pub mod replay;
pub mod sipa;
pub mod spec_id;
pub mod uefi;

pub use alg::HashAlg;
pub use claims::{BootClaims, Claim, LogAnomaly, SiPolicyClaim};
pub use error::{Error, Result};
pub use event::Event;
pub use event_type::EventType;
pub use modules::{LoadedModule, LoadedModules, ModuleRef};
pub use parse::{EventLog, LogFormat};
pub use quoted::{BankPolicy, BindError, QuotedEvent, QuotedEvents, QuotedLog, ReferenceLog};
pub use replay::{PcrBanks, PcrMismatch, Replayer};
