#![doc = include_str!("../README.md")]
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
