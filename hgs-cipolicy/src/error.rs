//! The one error type of this crate: each variant says where (byte offset) and what.

use thiserror::Error;

/// Why a CI policy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends inside a field.
    #[error("{field} at offset {offset}: truncated ({needed} byte(s) missing)")]
    Truncated {
        /// Field being read.
        field: &'static str,
        /// Offset of the field in the policy bytes.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// A count or length cannot fit in the rest of the file.
    #[error(
        "{field} at offset {offset}: {count} exceeds what the remaining {remaining} bytes can hold"
    )]
    CountTooLarge {
        /// Field.
        field: &'static str,
        /// Offset.
        offset: usize,
        /// The declared count or length.
        count: u64,
        /// Bytes left.
        remaining: usize,
    },
    /// A UTF-16 string has an odd byte length.
    #[error("{field} at offset {offset}: odd UTF-16 byte length {len}")]
    OddStringLength {
        /// Field.
        field: &'static str,
        /// Offset.
        offset: usize,
        /// The length.
        len: u32,
    },
    /// A field holds a value the format does not allow.
    #[error("{field} at offset {offset}: invalid value {value}")]
    InvalidValue {
        /// Field.
        field: &'static str,
        /// Offset.
        offset: usize,
        /// The value.
        value: u64,
    },
    /// The format version is one this crate does not know how to read.
    #[error("unknown policy format version {0} (this crate reads 1 to 8)")]
    UnknownFormatVersion(u32),
    /// Bytes remain after the end marker.
    #[error("{count} trailing byte(s) after the end of the policy at offset {offset}")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many.
        count: usize,
    },
    /// The CMS wrapper is malformed.
    #[error("CMS at offset {offset}: {reason}")]
    BadCms {
        /// Offset in the file.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The CMS wrapper is not a SignedData carrying a code integrity policy.
    #[error("CMS content type {0} is not {1}")]
    UnexpectedContentType(String, &'static str),
}

/// Result alias of this crate.
pub type Result<T> = core::result::Result<T, Error>;
