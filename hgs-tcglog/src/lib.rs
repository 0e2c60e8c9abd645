//! Zero-copy TCG event log parsing, PCR replay and event decoding. No I/O.
//!
//! Bytes in, typed values out. [`EventLog::parse`] reads the header and decides the format
//! (legacy SHA-1 `TCG_PCClientPCREvent`, or crypto-agile: a "Spec ID Event03" header followed by
//! `TCG_PCR_EVENT2`); [`EventLog::events`] then yields [`Event`]s lazily, each borrowing its digests
//! and data from the input. [`replay()`] folds them into PCR values without allocating per event;
//! [`verify_digests`] checks that events whose digest is defined over their data really are
//! covered; [`uefi`] decodes UEFI event data and [`sipa`] Windows' SIPA records.
//!
//! The public surface is the items re-exported here. The public modules are deliberate
//! namespaces: [`uefi`] and [`sipa`] (decoders of event data, with the GUIDs, record ids and
//! encoders of those formats) and, with the test-only feature `builder`, `builder` (a log
//! encoder) and `synthetic` (synthetic Windows boots).
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
//! let pcrs = replay(&log)?;
//! assert_eq!(log.banks(), vec![HashAlg::Sha1]);
//! assert_eq!(hgs_tpm::hex::encode(pcrs.get(HashAlg::Sha1, 7).unwrap()),
//!            "859a5877266b5c909613468091a73380a5386786");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks (`u32::try_from`, ...), never an `as` that
// truncates (the test-only encoders of `builder` excepted).
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod alg;
#[cfg(feature = "builder")]
#[allow(clippy::cast_possible_truncation)]
pub mod builder;
mod claims;
mod digest_check;
mod error;
mod event;
mod event_type;
mod modules;
mod owned;
mod parse;
mod quoted;
mod replay;
pub mod sipa;
mod spec_id;
pub mod uefi;

pub use alg::{HashAlg, MAX_DIGEST};
pub use claims::{matching_log, BootClaims, Claim, LogAnomaly, SiPolicyClaim};
pub use digest_check::{
    check_event, check_event_in_bank, digest_covers_data, verify_digests, DigestMismatch,
};
pub use error::{Error, Result};
pub use event::{Digests, Event, RawDigestIter, PCR_NOT_EXTENDED};
pub use event_type::EventType;
pub use modules::{LoadedModule, LoadedModules, ModuleRef};
pub use owned::{OwnedDigest, OwnedEvent};
pub use parse::{EventLog, Events, LenientRead, LogFormat, MAX_EVENTS, MAX_EVENT_DATA};
pub use quoted::{BankPolicy, BindError, QuotedEvent, QuotedEvents, QuotedLog, ReferenceLog};
pub use replay::{replay, replay_banks, PcrBanks, PcrMismatch, PCR_COUNT};
pub use spec_id::{AlgorithmTable, SpecId, MAX_ALGORITHMS, SPEC_ID_SIGNATURE};
