//! The key a JWE is encrypted to, as a JWK (RFC 7517, RFC 7518 §6) and as a token's `cnf`
//! (RFC 7800).

use std::fmt;

use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;
use crate::error::JwkError;

/// Longest JWK text [`BoundKey::from_jwk_json`] looks at, in bytes.
///
/// A public RSA-2048 JWK is about 400 bytes and a P-256 one about 150; 16 KiB leaves room for
/// members we ignore (an `x5c` certificate or two) and bounds what a caller's input can make the
/// parser allocate.
pub const MAX_JWK_LEN: usize = 16 * 1024;

/// Octets of an accepted RSA modulus: 2048 bits, the TPM's RSA decryption keys.
pub const RSA_MODULUS_LEN: usize = 256;

/// Octets of a P-256 coordinate (and of the ECDH shared secret Z).
pub const P256_COORDINATE_LEN: usize = 32;

/// Longest accepted RSA public exponent, in octets (a TPM's exponent field is 32 bits).
const MAX_EXPONENT_LEN: usize = 4;

/// A public key a JWE can be encrypted to: a TPM-resident decryption key the AK certified, as
/// the attestation token names it in `cnf`.
///
/// The variants hold validated keys (their fields are private): every `BoundKey` is an RSA key of
/// exactly 2048 bits with an odd exponent `3 <= e < 2^32`, or a point on P-256. Construct one with
/// [`BoundKey::from_jwk_json`], [`BoundKey::from_rsa_parts`], [`BoundKey::from_p256_sec1`] or
/// [`BoundKey::from_p256_xy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BoundKey {
    /// RSA-2048; JWEs to it use RSA-OAEP-256.
    Rsa(RsaPublic),
    /// NIST P-256; JWEs to it use ECDH-ES+A256KW.
    P256(P256Public),
}

/// A validated RSA-2048 public key (JWK `kty` `RSA`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RsaPublic {
    /// Big-endian modulus, exactly [`RSA_MODULUS_LEN`] octets, top bit set.
    n: Vec<u8>,
    /// Big-endian exponent, no leading zero octet.
    e: Vec<u8>,
}

impl RsaPublic {
    /// The modulus, big-endian, 256 octets.
    pub fn n(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian, without leading zero octets.
    pub fn e(&self) -> &[u8] {
        &self.e
    }

    /// The key for `rsa`'s OAEP: the checks above are stricter than `rsa`'s own.
    pub(crate) fn to_rsa(&self) -> rsa::RsaPublicKey {
        rsa::RsaPublicKey::new_unchecked(
            rsa::BigUint::from_bytes_be(&self.n),
            rsa::BigUint::from_bytes_be(&self.e),
        )
    }
}

impl fmt::Debug for RsaPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublic")
            .field("n", &b64::encode(&self.n))
            .field("e", &b64::encode(&self.e))
            .finish()
    }
}

/// A validated P-256 public key (JWK `kty` `EC`, `crv` `P-256`): a point on the curve, not the
/// identity.
#[derive(Clone, Copy)]
pub struct P256Public {
    x: [u8; P256_COORDINATE_LEN],
    y: [u8; P256_COORDINATE_LEN],
    point: p256::PublicKey,
}

impl P256Public {
    /// Validates affine coordinates (32 octets each).
    pub(crate) fn from_coordinates(
        x: [u8; P256_COORDINATE_LEN],
        y: [u8; P256_COORDINATE_LEN],
    ) -> Result<P256Public, JwkError> {
        let encoded = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
        let point = Option::<p256::PublicKey>::from(p256::PublicKey::from_encoded_point(&encoded))
            .ok_or(JwkError::NotOnCurve)?;
        Ok(P256Public { x, y, point })
    }

    pub(crate) fn from_point(point: p256::PublicKey) -> Result<P256Public, JwkError> {
        let encoded = point.to_encoded_point(false);
        let (Some(x), Some(y)) = (encoded.x(), encoded.y()) else {
            return Err(JwkError::NotOnCurve);
        };
        Ok(P256Public {
            x: (*x).into(),
            y: (*y).into(),
            point,
        })
    }

    /// The affine x coordinate, big-endian.
    pub fn x(&self) -> &[u8; P256_COORDINATE_LEN] {
        &self.x
    }

    /// The affine y coordinate, big-endian.
    pub fn y(&self) -> &[u8; P256_COORDINATE_LEN] {
        &self.y
    }

    /// The uncompressed SEC1 encoding, `04 || x || y`.
    pub fn to_sec1_uncompressed(&self) -> [u8; 1 + 2 * P256_COORDINATE_LEN] {
        let mut out = [0u8; 1 + 2 * P256_COORDINATE_LEN];
        out[0] = 0x04;
        out[1..33].copy_from_slice(&self.x);
        out[33..].copy_from_slice(&self.y);
        out
    }

    pub(crate) fn point(&self) -> &p256::PublicKey {
        &self.point
    }

    /// The members of its JWK, in RFC 7638 order, without braces.
    pub(crate) fn jwk_members(&self) -> String {
        format!(
            r#""crv":"P-256","kty":"EC","x":"{}","y":"{}""#,
            b64::encode(&self.x),
            b64::encode(&self.y)
        )
    }
}

impl PartialEq for P256Public {
    fn eq(&self, other: &Self) -> bool {
        self.x == other.x && self.y == other.y
    }
}

impl Eq for P256Public {}

impl std::hash::Hash for P256Public {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.x.hash(state);
        self.y.hash(state);
    }
}

impl fmt::Debug for P256Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P256Public")
            .field("x", &b64::encode(&self.x))
            .field("y", &b64::encode(&self.y))
            .finish()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let lead = bytes.iter().take_while(|b| **b == 0).count();
    bytes.get(lead..).unwrap_or_default()
}

/// Bit length of a big-endian integer without leading zero octets.
fn bit_len(minimal: &[u8]) -> usize {
    match minimal.first() {
        None => 0,
        Some(top) => {
            let top_bits = 8 - usize::try_from(top.leading_zeros()).unwrap_or(8);
            (minimal.len() - 1) * 8 + top_bits
        }
    }
}

/// Left-pads a coordinate of at most 32 octets.
fn coordinate(member: &'static str, bytes: &[u8]) -> Result<[u8; 32], JwkError> {
    let len = bytes.len();
    let short = strip_leading_zeros(bytes);
    let mut out = [0u8; P256_COORDINATE_LEN];
    let start = P256_COORDINATE_LEN
        .checked_sub(short.len())
        .ok_or(JwkError::CoordinateLength { member, len })?;
    out[start..].copy_from_slice(short);
    Ok(out)
}

impl BoundKey {
    /// An RSA key from its big-endian modulus and public exponent, e.g. the `unique` and
    /// `exponent` of the TPM's TPMT_PUBLIC (leading zero octets are dropped, so a 32-bit
    /// exponent in 4 octets is fine).
    ///
    /// The modulus must be exactly 2048 bits and odd; the exponent odd, at least 3 and at most
    /// 32 bits.
    pub fn from_rsa_parts(n: &[u8], e: &[u8]) -> Result<BoundKey, JwkError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_len(n);
        if bits != RSA_MODULUS_LEN * 8 {
            return Err(JwkError::RsaModulusSize { bits });
        }
        if n.last().is_some_and(|b| b & 1 == 0) {
            return Err(JwkError::RsaModulusEven);
        }
        if e.len() > MAX_EXPONENT_LEN {
            return Err(JwkError::RsaExponentTooLong { len: e.len() });
        }
        if bit_len(e) < 2 {
            return Err(JwkError::RsaExponentTooSmall);
        }
        if e.last().is_some_and(|b| b & 1 == 0) {
            return Err(JwkError::RsaExponentEven);
        }
        Ok(BoundKey::Rsa(RsaPublic {
            n: n.to_vec(),
            e: e.to_vec(),
        }))
    }

    /// A P-256 key from its SEC1 encoding: uncompressed (`04 || x || y`, 65 octets) or
    /// compressed (`02`/`03 || x`, 33 octets). The point must be on the curve.
    pub fn from_p256_sec1(sec1: &[u8]) -> Result<BoundKey, JwkError> {
        let tag = sec1.first().copied().unwrap_or(0);
        let len = sec1.len();
        let shape_ok = matches!((tag, len), (0x04, 65) | (0x02 | 0x03, 33));
        if !shape_ok {
            return Err(JwkError::Sec1 { len, tag });
        }
        let point = p256::PublicKey::from_sec1_bytes(sec1).map_err(|_| JwkError::NotOnCurve)?;
        Ok(BoundKey::P256(P256Public::from_point(point)?))
    }

    /// A P-256 key from its big-endian affine coordinates, e.g. the TPMS_ECC_POINT of the TPM's
    /// TPMT_PUBLIC. A coordinate shorter than 32 octets is left-padded (some TPMs drop leading
    /// zero octets); a longer one is refused unless the excess octets are zero. The point must
    /// be on the curve.
    pub fn from_p256_xy(x: &[u8], y: &[u8]) -> Result<BoundKey, JwkError> {
        let x = coordinate("x", x)?;
        let y = coordinate("y", y)?;
        Ok(BoundKey::P256(P256Public::from_coordinates(x, y)?))
    }

    /// Reads a public JWK (RFC 7517): `kty` `RSA` with `n`, `e`, or `kty` `EC` with `crv`
    /// `P-256`, `x`, `y`, each canonical unpadded base64url (`n`, `e` without leading zero
    /// octets, `x`, `y` exactly 32 octets).
    ///
    /// Other members (`kid`, `use`, `alg`, `x5c`, ...) are ignored; private members (`d`, `p`,
    /// `q`, `dp`, `dq`, `qi`, `oth`, `k`) are refused, as are duplicate members and input longer
    /// than [`MAX_JWK_LEN`].
    pub fn from_jwk_json(json: &str) -> Result<BoundKey, JwkError> {
        if json.len() > MAX_JWK_LEN {
            return Err(JwkError::TooLong {
                len: json.len(),
                max: MAX_JWK_LEN,
            });
        }
        if !json.trim_start().starts_with('{') {
            return Err(JwkError::NotObject);
        }
        let wire: JwkIn = serde_json::from_str(json).map_err(JwkError::Json)?;
        wire.into_key()
    }

    /// The public JWK in RFC 7638 canonical form (required members only, sorted, no
    /// whitespace), e.g. `{"crv":"P-256","kty":"EC","x":"...","y":"..."}`: the thumbprint input.
    pub fn to_jwk_json(&self) -> String {
        match self {
            BoundKey::Rsa(k) => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64::encode(&k.e),
                b64::encode(&k.n)
            ),
            BoundKey::P256(k) => format!("{{{}}}", k.jwk_members()),
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, unpadded base64url): the `kid` of JWEs to this key.
    pub fn thumbprint(&self) -> String {
        b64::encode(&Sha256::digest(self.to_jwk_json().as_bytes()))
    }

    /// `RSA` or `P-256`.
    pub fn key_type(&self) -> &'static str {
        match self {
            BoundKey::Rsa(_) => "RSA",
            BoundKey::P256(_) => "P-256",
        }
    }

    /// The JWE `alg` used for this key: `RSA-OAEP-256` or `ECDH-ES+A256KW`.
    pub fn jwe_alg(&self) -> &'static str {
        match self {
            BoundKey::Rsa(_) => crate::jwe::ALG_RSA_OAEP_256,
            BoundKey::P256(_) => crate::jwe::ALG_ECDH_ES_A256KW,
        }
    }
}

impl Serialize for BoundKey {
    /// The canonical public JWK (as [`BoundKey::to_jwk_json`]).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (crv, e, kty, n, x, y) = match self {
            BoundKey::Rsa(k) => (
                None,
                Some(b64::encode(&k.e)),
                "RSA",
                Some(b64::encode(&k.n)),
                None,
                None,
            ),
            BoundKey::P256(k) => (
                Some("P-256"),
                None,
                "EC",
                None,
                Some(b64::encode(&k.x)),
                Some(b64::encode(&k.y)),
            ),
        };
        JwkOut {
            crv,
            e,
            kty,
            n,
            x,
            y,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for BoundKey {
    /// A public JWK, with the checks of [`BoundKey::from_jwk_json`] (but no length budget: the
    /// enclosing document has its own).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JwkIn::deserialize(d)?
            .into_key()
            .map_err(serde::de::Error::custom)
    }
}

/// A token's confirmation claim (RFC 7800 §3.2): `{"jwk": {...}}`, the key the holder proves
/// possession of, here the TPM-bound key secrets are encrypted to.
///
/// ```
/// use hgs_keys::{BoundKey, Confirmation};
///
/// let key = BoundKey::from_jwk_json(
///     r#"{"kty":"EC","crv":"P-256",
///         "x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
///         "y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"}"#,
/// )
/// .unwrap();
/// let cnf = Confirmation::new(key.clone());
/// let json = serde_json::to_string(&cnf).unwrap();
/// assert!(json.starts_with(r#"{"jwk":{"crv":"P-256","kty":"EC","x":"#));
/// let back: Confirmation = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.jwk, key);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Confirmation {
    /// The confirmation key.
    pub jwk: BoundKey,
}

impl Confirmation {
    /// `{"jwk": key}`.
    pub fn new(jwk: BoundKey) -> Confirmation {
        Confirmation { jwk }
    }
}

impl From<BoundKey> for Confirmation {
    fn from(jwk: BoundKey) -> Confirmation {
        Confirmation { jwk }
    }
}

// ---- Wire forms.

/// Output members in RFC 7638 (lexicographic) order, so serde's output is the canonical JWK.
#[derive(Serialize)]
struct JwkOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
}

/// A JWK as read: unknown members ignored, duplicates of these refused (serde's derive), private
/// members noted when present with any value (even `null`).
#[derive(Deserialize)]
pub(crate) struct JwkIn {
    kty: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    #[serde(default, deserialize_with = "present")]
    d: bool,
    #[serde(default, deserialize_with = "present")]
    p: bool,
    #[serde(default, deserialize_with = "present")]
    q: bool,
    #[serde(default, deserialize_with = "present")]
    dp: bool,
    #[serde(default, deserialize_with = "present")]
    dq: bool,
    #[serde(default, deserialize_with = "present")]
    qi: bool,
    #[serde(default, deserialize_with = "present")]
    oth: bool,
    #[serde(default, deserialize_with = "present")]
    k: bool,
}

/// `true` for a member that is there, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

fn member<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, JwkError> {
    value.as_deref().ok_or(JwkError::Missing { member: name })
}

fn member_bytes(value: &Option<String>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    b64::decode(member(value, name)?).ok_or(JwkError::Base64 { member: name })
}

fn exact_coordinate(value: &Option<String>, name: &'static str) -> Result<[u8; 32], JwkError> {
    let bytes = member_bytes(value, name)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| JwkError::CoordinateLength {
        member: name,
        len: bytes.len(),
    })
}

impl JwkIn {
    pub(crate) fn into_key(self) -> Result<BoundKey, JwkError> {
        let private = [
            (self.d, "d"),
            (self.p, "p"),
            (self.q, "q"),
            (self.dp, "dp"),
            (self.dq, "dq"),
            (self.qi, "qi"),
            (self.oth, "oth"),
            (self.k, "k"),
        ];
        if let Some((_, name)) = private.iter().find(|(there, _)| *there) {
            return Err(JwkError::PrivateMember { member: name });
        }
        match member(&self.kty, "kty")? {
            "RSA" => {
                let n = member_bytes(&self.n, "n")?;
                let e = member_bytes(&self.e, "e")?;
                for (value, name) in [(&n, "n"), (&e, "e")] {
                    if value.first() == Some(&0) {
                        return Err(JwkError::NotMinimal { member: name });
                    }
                }
                BoundKey::from_rsa_parts(&n, &e)
            }
            "EC" => {
                let crv = member(&self.crv, "crv")?;
                if crv != "P-256" {
                    return Err(JwkError::Curve { crv: crv.into() });
                }
                let x = exact_coordinate(&self.x, "x")?;
                let y = exact_coordinate(&self.y, "y")?;
                Ok(BoundKey::P256(P256Public::from_coordinates(x, y)?))
            }
            other => Err(JwkError::KeyType { kty: other.into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_thumbprint_example() {
        let jwk = format!(
            r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
        );
        let key = BoundKey::from_jwk_json(&jwk).unwrap();
        assert_eq!(
            key.to_jwk_json(),
            format!(r#"{{"e":"AQAB","kty":"RSA","n":"{RFC7638_N}"}}"#)
        );
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // serde gives the same canonical text.
        assert_eq!(serde_json::to_string(&key).unwrap(), key.to_jwk_json());
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0x7f, 0]), 15);
    }

    #[test]
    fn coordinates_are_left_padded() {
        assert_eq!(coordinate("x", &[1, 2]).unwrap()[30..], [1, 2]);
        assert!(coordinate("x", &[0; 33]).is_ok());
        assert!(matches!(
            coordinate("y", &[1; 33]),
            Err(JwkError::CoordinateLength {
                member: "y",
                len: 33
            })
        ));
    }
}
