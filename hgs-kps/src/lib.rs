#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks, never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod b64;
mod guardian;
mod guardian_key;
mod protector;
mod release;

pub use guardian::{
    BadGuardianFingerprint, Guardian, GuardianError, GuardianFingerprint, MAX_GUARDIAN_CERT_LEN,
};
pub use guardian_key::{
    GuardianKey, GuardianKeyError, MAX_GUARDIAN_CN_LEN, MAX_GUARDIAN_NOT_AFTER,
    MAX_GUARDIAN_PKCS8_LEN,
};
pub use protector::{
    KeyProtector, ProtectorError, Role, TransportKey, Wrapping, KEY_PROTECTOR_FORMAT,
    KEY_PROTECTOR_ID_LEN, MAX_KEY_PROTECTOR_LEN, MAX_WRAPPINGS, MAX_WRAPPING_JWE_LEN,
    TRANSPORT_KEY_LEN,
};
pub use release::{decide_release, HostSelector, Refusal, Release, ReleasePolicy};
