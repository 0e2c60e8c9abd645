//! Why a token or a token key is refused.

#[allow(unused_imports)]
use super::*;

/// A JWS segment, to say where decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The protected header (first segment).
    Header,
    /// The claims (second segment).
    Payload,
    /// The signature (third segment).
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Why a token is refused (or cannot be signed). Every reason is its own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The input is longer than [`MAX_TOKEN_LEN`]; nothing was decoded.
    #[error("token is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// Input length.
        len: usize,
        /// [`MAX_TOKEN_LEN`].
        max: usize,
    },
    /// Not three dot-separated segments.
    #[error("a JWS compact token has 3 segments, this one has {found}")]
    Segments {
        /// Segments found.
        found: usize,
    },
    /// A segment is not canonical unpadded base64url.
    #[error("the {segment} segment is not canonical unpadded base64url")]
    Base64 {
        /// Which segment.
        segment: Segment,
    },
    /// A segment is not the expected JSON.
    #[error("the {segment} segment is not valid JSON for a token: {source}")]
    Json {
        /// Which segment.
        segment: Segment,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A required header parameter is missing.
    #[error("the header has no {name:?}")]
    MissingHeader {
        /// The parameter.
        name: &'static str,
    },
    /// `alg` is not ES256 (`none`, HMAC, RSA, other curves: algorithm confusion is refused).
    #[error("algorithm {alg:?} is refused: only ES256 is accepted")]
    Algorithm {
        /// The `alg` found.
        alg: String,
    },
    /// The header has a `crit` parameter; we understand no extension, so any `crit` is refused.
    #[error("the header has a crit parameter; no JWS extension is understood")]
    Critical,
    /// `typ` is not `JWT`.
    #[error("typ {typ:?} is not JWT")]
    Type {
        /// The `typ` found.
        typ: String,
    },
    /// A header parameter other than `alg`, `typ`, `kid` (e.g. an embedded `jwk` or a `jku` URL:
    /// keys come only from the trust list).
    #[error("header parameter {name:?} is not accepted")]
    HeaderParameter {
        /// The parameter.
        name: String,
    },
    /// No trusted key has this `kid`.
    #[error("no trusted key has kid {kid:?}")]
    UnknownKey {
        /// The `kid` found.
        kid: String,
    },
    /// The signature is not 64 bytes (r || s); a DER signature lands here.
    #[error("an ES256 signature is 64 bytes (r || s), this one is {len}")]
    SignatureLength {
        /// Decoded length.
        len: usize,
    },
    /// r or s is zero or not below the group order.
    #[error("the signature's r or s is out of range")]
    SignatureEncoding,
    /// s is in the upper half of the group order: the signer never emits it (one token per
    /// claims), so it is a malleated signature.
    #[error("the signature's s is high (malleated signature)")]
    HighS,
    /// The signature does not verify under the `kid`'s key.
    #[error("the signature does not verify")]
    BadSignature,
    /// A required claim is missing (or null).
    #[error("claim {name:?} is missing")]
    MissingClaim {
        /// The claim (submodule claims as `submods.*.<name>`).
        name: &'static str,
    },
    /// `eat_profile` is not [`EAR_PROFILE`].
    #[error("eat_profile {found:?} is not {EAR_PROFILE:?}")]
    Profile {
        /// The profile found.
        found: String,
    },
    /// Not exactly one submodule.
    #[error("a token describes exactly one host, this one has {count} submodules")]
    Submodules {
        /// Submodules found (duplicates counted).
        count: usize,
    },
    /// A claim's value is not acceptable.
    #[error("claim {name:?} is invalid: {reason}")]
    InvalidClaim {
        /// The claim.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// `exp` is not after `iat`.
    #[error("exp {exp} is not after iat {iat}")]
    Lifetime {
        /// `iat`.
        iat: UnixSeconds,
        /// `exp`.
        exp: UnixSeconds,
    },
    /// `iat` is later than `now + skew`: not valid yet (or the server's clock is wrong).
    #[error("issued at {iat}, later than now ({now}) plus {skew} s of skew")]
    IssuedInFuture {
        /// `iat`.
        iat: UnixSeconds,
        /// The verifier's time.
        now: UnixSeconds,
        /// Tolerated skew.
        skew: u64,
    },
    /// The token is authentic but expired (`now >= exp`). The claims are kept for diagnostics;
    /// they are no ground for access.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: UnixSeconds,
        /// The verifier's time.
        now: UnixSeconds,
        /// The authenticated claims.
        claims: Box<TokenClaims>,
    },
    /// Signing failed (the ECDSA backend refused).
    #[error("signing failed")]
    Signing,
    /// `cnf` is not a confirmation this crate understands: not an object, no `jwk`, or another
    /// confirmation method beside it (`jwe`, `kid`, `jku`, ...). The token is refused.
    #[error("the cnf claim is refused: {reason}")]
    Confirmation {
        /// Why.
        reason: &'static str,
    },
    /// `cnf.jwk` is not an acceptable bound key (its reason is the source). The token is refused.
    #[error("the cnf claim's jwk is refused")]
    ConfirmationKey(#[source] hgs_keys::JwkError),
}

impl TokenError {
    /// Whether this is [`TokenError::Expired`] (authentic but no longer valid).
    pub fn is_expired(&self) -> bool {
        matches!(self, TokenError::Expired { .. })
    }
}

/// Why a key cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenKeyError {
    /// Not a PKCS#8 P-256 private key (DER or PEM).
    #[error("not a PKCS#8 P-256 private key")]
    Pkcs8(#[source] p256::pkcs8::Error),
    /// Not a valid P-256 scalar (zero, or not below the group order, or not 32 bytes).
    #[error("not a valid P-256 private scalar")]
    Scalar,
    /// Not a P-256 SubjectPublicKeyInfo.
    #[error("not a P-256 SubjectPublicKeyInfo")]
    PublicKey(#[source] p256::pkcs8::spki::Error),
    /// Not a P-256 EC JWK (`kty` EC, `crv` P-256, `x`, `y` of 32 bytes, a point on the curve).
    #[error("not a P-256 EC JWK: {0}")]
    Jwk(&'static str),
}
