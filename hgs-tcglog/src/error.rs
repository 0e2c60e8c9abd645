//! The one error type of this crate. Every variant says where: byte offset and event index.

use thiserror::Error;

use hgs_tpm::Label;

/// Why a log (or part of one) could not be read.
///
/// Serializable (as `{"kind": ..., "detail": ...}`) because verdicts carry it.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// The input is empty or shorter than one legacy event header.
    #[error("log is too short ({len} bytes) to hold an event")]
    TooShort {
        /// Input length.
        len: usize,
    },
    /// An event's header or data runs past the end of the input.
    #[error("event {index} at offset {offset}: {what} runs past the end of the log ({needed} byte(s) missing)")]
    Truncated {
        /// Event index (0 = first record of the log).
        index: u32,
        /// Byte offset of the event.
        offset: usize,
        /// Which field.
        what: Label,
        /// Bytes missing.
        needed: usize,
    },
    /// A size field is larger than this crate accepts.
    #[error("event {index} at offset {offset}: {what} of {size} bytes exceeds the limit {max}")]
    TooLarge {
        /// Event index.
        index: u32,
        /// Byte offset of the event.
        offset: usize,
        /// Which field.
        what: Label,
        /// Declared size.
        size: u64,
        /// Limit.
        max: u64,
    },
    /// The Spec ID Event03 header is malformed.
    #[error("Spec ID event at offset {offset}: {reason}")]
    BadSpecId {
        /// Byte offset of the header's data.
        offset: usize,
        /// What is wrong.
        reason: Label,
    },
    /// A crypto-agile event carries a digest whose algorithm the Spec ID header does not list.
    #[error("event {index} at offset {offset}: digest algorithm 0x{alg:04x} is not in the Spec ID header")]
    UnknownDigestAlgorithm {
        /// Event index.
        index: u32,
        /// Byte offset of the event.
        offset: usize,
        /// TPM_ALG_ID.
        alg: u16,
    },
    /// A crypto-agile event lists more digests than the header has algorithms, or one twice.
    #[error("event {index} at offset {offset}: digest count {count} disagrees with the {declared} algorithm(s) of the header")]
    BadDigestCount {
        /// Event index.
        index: u32,
        /// Byte offset of the event.
        offset: usize,
        /// Count in the event.
        count: u32,
        /// Algorithms in the header.
        declared: usize,
    },
    /// The log has more events than this crate accepts.
    #[error("more than {max} events")]
    TooManyEvents {
        /// Limit.
        max: u32,
    },
    /// An event's data could not be decoded as its type says.
    #[error("event {index}: {what} data is malformed at data offset {data_offset}: {reason}")]
    BadEventData {
        /// Event index.
        index: u32,
        /// What was being decoded.
        what: Label,
        /// Offset inside the event data.
        data_offset: usize,
        /// What is wrong.
        reason: Label,
    },
    /// The log declares no bank this crate can read (so nothing in it can be checked).
    #[error("the log declares no hash algorithm this verifier knows")]
    NoKnownBank,
}

/// Result alias of this crate.
pub type Result<T> = core::result::Result<T, Error>;
