//! The one error type of this crate: every variant says where (byte offset) and what.

use std::borrow::Cow;

use thiserror::Error;

/// The name of a TPM structure or field, as the TPM specification spells it. Static in every
/// error this crate makes; owned only when an error was read back from JSON.
pub type Label = Cow<'static, str>;

/// Why TPM bytes could not be parsed, or a signature not verified.
///
/// Serializable (as `{"kind": ..., "detail": ...}`) because quote refusals carry it inside
/// verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// The input ended inside a structure.
    #[error("{structure}: truncated at offset {offset}: need {needed} more byte(s)")]
    Truncated {
        /// Structure being read.
        structure: Label,
        /// Offset of the field that did not fit.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// Bytes were left over after a structure that must fill its buffer.
    #[error("{structure}: {count} trailing byte(s) at offset {offset}")]
    TrailingBytes {
        /// Structure that was parsed.
        structure: Label,
        /// Offset of the first unread byte.
        offset: usize,
        /// How many bytes are left.
        count: usize,
    },
    /// A size field is larger than this crate accepts for that field.
    #[error("{field}: size {size} at offset {offset} exceeds the limit {max}")]
    TooLarge {
        /// Field name.
        field: Label,
        /// Offset of the size field.
        offset: usize,
        /// Declared size.
        size: usize,
        /// Largest accepted size.
        max: usize,
    },
    /// An algorithm identifier this crate does not handle in that position.
    #[error("{field}: unsupported algorithm 0x{alg:04x} at offset {offset}")]
    UnsupportedAlgorithm {
        /// Field name.
        field: Label,
        /// Offset of the algorithm identifier.
        offset: usize,
        /// The TPM_ALG_ID found.
        alg: u16,
    },
    /// A field holds a value the specification does not allow.
    #[error("{field}: invalid value 0x{value:x} at offset {offset}")]
    InvalidValue {
        /// Field name.
        field: Label,
        /// Offset of the field.
        offset: usize,
        /// The value found.
        value: u64,
    },
    /// TPMS_ATTEST did not start with TPM_GENERATED_VALUE (0xff544347).
    #[error("attestation magic is 0x{found:08x}, not TPM_GENERATED_VALUE 0xff544347")]
    BadMagic {
        /// The value found.
        found: u32,
    },
    /// The key cannot be used for the requested operation (wrong type, curve or size).
    #[error("unusable key: {0}")]
    UnusableKey(Label),
    /// This signature backend does not implement the key size or algorithm combination (another
    /// backend may: [`crate::DefaultVerifier`] falls back to the pure-Rust one only on this).
    #[error("not implemented by this signature backend: {0}")]
    NotInBackend(Label),
    /// The signature's scheme does not fit the key (e.g. ECDSA signature, RSA key).
    #[error("signature scheme 0x{scheme:04x} does not fit a {key} key")]
    SchemeMismatch {
        /// TPM_ALG_ID of the signature scheme.
        scheme: u16,
        /// Key type name.
        key: Label,
    },
    /// The signature does not verify over the message with the key.
    #[error("signature does not verify")]
    BadSignature,
}

/// Result alias of this crate.
pub type Result<T> = core::result::Result<T, Error>;
