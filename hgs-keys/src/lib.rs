#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks, never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod b64;
mod error;
mod jwe;
mod jwk;
mod kdf;
#[cfg(feature = "soft")]
mod soft;
mod unwrap;

pub use error::{JweError, JwkError, Segment};
pub use jwe::{
    decrypt, encrypt, ALG_ECDH_ES_A256KW, ALG_RSA_OAEP_256, ENC_A256GCM, MAX_HEADER_LEN,
    MAX_JWE_LEN, MAX_PLAINTEXT,
};
pub use jwk::{
    BoundKey, Confirmation, P256Public, RsaPublic, MAX_JWK_LEN, P256_COORDINATE_LEN,
    RSA_MODULUS_LEN,
};
#[cfg(feature = "soft")]
pub use soft::{SoftKeyError, SoftP256Key, SoftRsaKey};
pub use unwrap::KeyUnwrap;
