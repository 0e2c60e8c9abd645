//! Why a key or a JWE is refused. Every reason is its own variant.

use std::fmt;

/// A part of a JWE in compact serialization, to say where decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The protected header (first segment).
    Header,
    /// The JWE encrypted key (second segment).
    EncryptedKey,
    /// The initialization vector (third segment).
    Iv,
    /// The ciphertext (fourth segment).
    Ciphertext,
    /// The authentication tag (fifth segment).
    Tag,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "protected header",
            Segment::EncryptedKey => "encrypted key",
            Segment::Iv => "initialization vector",
            Segment::Ciphertext => "ciphertext",
            Segment::Tag => "authentication tag",
        })
    }
}

/// Why a public key (a JWK, RSA parts or a P-256 point) is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The JWK text is longer than [`MAX_JWK_LEN`](crate::MAX_JWK_LEN); nothing was parsed.
    #[error("the JWK is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The JWK text is not a JSON object.
    #[error("a JWK is a JSON object")]
    NotObject,
    /// The JWK is not valid JSON for a JWK (syntax, a member of the wrong type, a duplicate
    /// member).
    #[error("the JWK is not valid JSON for a JWK: {0}")]
    Json(#[source] serde_json::Error),
    /// A required member is missing.
    #[error("the JWK has no {member:?}")]
    Missing {
        /// The member.
        member: &'static str,
    },
    /// `kty` is neither `RSA` nor `EC` (e.g. `oct`, `OKP`).
    #[error("key type {kty:?} is not supported: only RSA and EC (P-256)")]
    KeyType {
        /// The `kty` found.
        kty: String,
    },
    /// `crv` of an EC key is not `P-256`.
    #[error("curve {crv:?} is not supported: only P-256")]
    Curve {
        /// The `crv` found.
        crv: String,
    },
    /// The JWK carries private key material (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`): a key
    /// to encrypt to is public, and a private key given where a public one is expected is a leak.
    #[error("the JWK has the private member {member:?}; only public keys are accepted")]
    PrivateMember {
        /// The member.
        member: &'static str,
    },
    /// A member is not canonical unpadded base64url.
    #[error("JWK member {member:?} is not canonical unpadded base64url")]
    Base64 {
        /// The member.
        member: &'static str,
    },
    /// `n` or `e` has a leading zero octet (RFC 7518 §6.3.1: the minimum number of octets), which
    /// would give the key a second spelling and a second thumbprint.
    #[error("JWK member {member:?} has leading zero octets")]
    NotMinimal {
        /// The member.
        member: &'static str,
    },
    /// The RSA modulus is not 2048 bits (the size of the TPM decryption keys we encrypt to).
    #[error("the RSA modulus has {bits} bits; only 2048-bit keys are accepted")]
    RsaModulusSize {
        /// The modulus' bit length.
        bits: usize,
    },
    /// The RSA modulus is even (no RSA modulus is).
    #[error("the RSA modulus is even")]
    RsaModulusEven,
    /// The RSA public exponent is 0 or 1.
    #[error("the RSA public exponent is smaller than 3")]
    RsaExponentTooSmall,
    /// The RSA public exponent is even.
    #[error("the RSA public exponent is even")]
    RsaExponentEven,
    /// The RSA public exponent is longer than 32 bits (a TPM's exponent field is 32 bits).
    #[error("the RSA public exponent is {len} octets, more than the 4 accepted")]
    RsaExponentTooLong {
        /// Its length in octets (without leading zeros).
        len: usize,
    },
    /// A P-256 coordinate has the wrong length (32 octets in a JWK, at most 32 as parts).
    #[error("P-256 coordinate {member:?} is {len} octets, not 32")]
    CoordinateLength {
        /// `x` or `y`.
        member: &'static str,
        /// Its length.
        len: usize,
    },
    /// A SEC1 encoding is neither uncompressed (`04 || x || y`, 65 octets) nor compressed
    /// (`02`/`03 || x`, 33 octets).
    #[error("not a SEC1 P-256 point encoding ({len} octets, tag {tag:#04x})")]
    Sec1 {
        /// Its length.
        len: usize,
        /// Its first octet (0 for empty input).
        tag: u8,
    },
    /// The coordinates are not a point on P-256 (or are the identity): encrypting to such a
    /// point would leak the key to an invalid-curve attack.
    #[error("the coordinates are not a point on P-256")]
    NotOnCurve,
}

/// Why a JWE cannot be made or is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    /// The plaintext to encrypt is longer than [`MAX_PLAINTEXT`](crate::MAX_PLAINTEXT).
    #[error("the plaintext is {len} bytes, more than the {max} accepted")]
    PlaintextTooLong {
        /// Plaintext length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The compact JWE is longer than [`MAX_JWE_LEN`](crate::MAX_JWE_LEN); nothing was decoded.
    #[error("the JWE is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not five dot-separated segments (a JWS, or the JSON serialization, lands here).
    #[error("a compact JWE has 5 segments, this one has {found}")]
    Segments {
        /// Segments found (counting stops at 6).
        found: usize,
    },
    /// A segment is not canonical unpadded base64url.
    #[error("the {segment} is not canonical unpadded base64url")]
    Base64 {
        /// Which segment.
        segment: Segment,
    },
    /// The protected header is longer than [`MAX_HEADER_LEN`](crate::MAX_HEADER_LEN).
    #[error("the protected header is {len} bytes, more than the {max} accepted")]
    HeaderTooLong {
        /// Decoded length (or a bound on it).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The protected header is not a JSON object.
    #[error("the protected header is not a JSON object")]
    HeaderNotObject,
    /// The protected header is not valid JSON for a JWE header (syntax, a parameter of the
    /// wrong type, a duplicate parameter).
    #[error("the protected header is not valid JSON for a JWE header: {0}")]
    Header(#[source] serde_json::Error),
    /// A required header parameter is missing.
    #[error("the protected header has no {name:?}")]
    MissingHeader {
        /// The parameter.
        name: &'static str,
    },
    /// `alg` is neither `RSA-OAEP-256` nor `ECDH-ES+A256KW` (`RSA1_5`, `RSA-OAEP` with SHA-1,
    /// `dir`, `ECDH-ES`, other key wraps are refused).
    #[error("key management algorithm {alg:?} is refused: only RSA-OAEP-256 and ECDH-ES+A256KW")]
    Algorithm {
        /// The `alg` found.
        alg: String,
    },
    /// `enc` is not `A256GCM`.
    #[error("content encryption {enc:?} is refused: only A256GCM")]
    Encryption {
        /// The `enc` found.
        enc: String,
    },
    /// The header has a `zip` parameter: compression is refused (it leaks plaintext length
    /// structure and is a decompression-bomb vector).
    #[error("the header asks for compression (zip); compressed JWEs are refused")]
    Compressed,
    /// The header has a `crit` parameter; no JWE extension is understood, so any is refused.
    #[error("the header has a crit parameter; no JWE extension is understood")]
    Critical,
    /// The header's `kid` is not the RFC 7638 thumbprint of the key decrypting: this JWE was
    /// encrypted to another key.
    #[error("the JWE is for key {kid:?}, not for this key ({expected:?})")]
    WrongRecipient {
        /// The `kid` found.
        kid: String,
        /// This key's thumbprint.
        expected: String,
    },
    /// `alg` is for the other key type (`RSA-OAEP-256` to a P-256 key or the reverse).
    #[error("algorithm {alg} does not apply to a {key} key")]
    KeyMismatch {
        /// The `alg` found.
        alg: &'static str,
        /// The key type decrypting (`RSA` or `P-256`).
        key: &'static str,
    },
    /// `epk` is not a P-256 public key on the curve (its reason is the source).
    #[error("the ephemeral public key (epk) is refused")]
    EphemeralKey(#[source] JwkError),
    /// `apu` or `apv` is not canonical unpadded base64url.
    #[error("header parameter {name:?} is not canonical unpadded base64url")]
    PartyInfo {
        /// `apu` or `apv`.
        name: &'static str,
    },
    /// The encrypted key has the wrong length for `alg` (256 octets for RSA-OAEP-256 to a
    /// 2048-bit key, 40 for A256KW).
    #[error("the encrypted key is {len} octets, not {expected}")]
    EncryptedKeyLength {
        /// Its length.
        len: usize,
        /// The length `alg` gives.
        expected: usize,
    },
    /// The initialization vector is not 96 bits.
    #[error("the initialization vector is {len} octets, not 12")]
    IvLength {
        /// Its length.
        len: usize,
    },
    /// The authentication tag is not 128 bits (truncated tags are refused).
    #[error("the authentication tag is {len} octets, not 16")]
    TagLength {
        /// Its length.
        len: usize,
    },
    /// The ciphertext is longer than [`MAX_PLAINTEXT`](crate::MAX_PLAINTEXT).
    #[error("the ciphertext is {len} bytes, more than the {max} accepted")]
    CiphertextTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The caller's private operation ([`KeyUnwrap`](crate::KeyUnwrap), e.g. the TPM) failed; its
    /// error is the source (downcast it to the implementation's `Error` type).
    #[error("the private key operation failed")]
    Unwrap(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// RSA-OAEP decryption gave a content encryption key that is not 32 octets.
    #[error("the decrypted content encryption key is {len} octets, not 32")]
    CekLength {
        /// Its length.
        len: usize,
    },
    /// AES key unwrap failed its integrity check: the encrypted key, `epk`, `apu`/`apv` were
    /// altered, or the JWE is for another key.
    #[error("the encrypted key does not unwrap (AES key wrap integrity check failed)")]
    KeyUnwrapIntegrity,
    /// The AES-GCM authentication tag does not verify: the header, IV, ciphertext or tag were
    /// altered (or the content key is wrong). No plaintext is returned.
    #[error("the JWE does not authenticate (AES-GCM tag mismatch)")]
    Authentication,
    /// Encryption failed in a primitive (RSA-OAEP or AES): not expected with a valid key; the
    /// step says which.
    #[error("encryption failed at {step}")]
    EncryptFailed {
        /// `RSA-OAEP` or `AES-KW` or `AES-GCM`.
        step: &'static str,
    },
}
