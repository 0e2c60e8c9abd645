//! Software private keys (feature `soft`) that do what the host's TPM does for
//! [`decrypt`](crate::decrypt): RSA-OAEP-256 decryption and P-256 ECDH.
//!
//! For tests and simulated hosts only: the private key is in process memory, which is exactly
//! what a TPM-bound key exists to avoid, and `rsa`'s decryption is not constant-time
//! (RUSTSEC-2023-0071). Their `Debug` shows the public key's thumbprint, never the private key.

use std::fmt;

use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::CryptoRngCore;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

use crate::b64;
use crate::jwk::{BoundKey, RSA_MODULUS_LEN};
use crate::unwrap::KeyUnwrap;

/// Why a software key cannot be made or cannot unwrap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoftKeyError {
    /// RSA key generation failed.
    #[error("RSA key generation failed")]
    Generate,
    /// The RSA key is not a two-prime 2048-bit key (or its primes give no private exponent).
    #[error("not a two-prime 2048-bit RSA key")]
    RsaShape,
    /// The scalar is not a valid P-256 private key (zero, or not below the group order).
    #[error("not a valid P-256 private scalar")]
    Scalar,
    /// RSA-OAEP decryption failed (wrong key, or an altered encrypted key).
    #[error("RSA-OAEP decryption failed")]
    Oaep,
    /// The ephemeral public key is not on P-256.
    #[error("the ephemeral public key is not on P-256")]
    Point,
    /// This key cannot do the operation asked: ECDH of an RSA key, RSA of a P-256 key.
    #[error("a {key} key cannot do {operation}")]
    WrongKeyType {
        /// `RSA` or `P-256`.
        key: &'static str,
        /// `RSA-OAEP` or `ECDH`.
        operation: &'static str,
    },
}

/// A software RSA-2048 decryption key.
#[derive(Clone)]
pub struct SoftRsaKey {
    key: rsa::RsaPrivateKey,
    public: BoundKey,
    private_jwk: Zeroizing<String>,
}

impl SoftRsaKey {
    /// A fresh RSA-2048 key (exponent 65537) from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<SoftRsaKey, SoftKeyError> {
        let key = rsa::RsaPrivateKey::new(rng, RSA_MODULUS_LEN * 8)
            .map_err(|_| SoftKeyError::Generate)?;
        SoftRsaKey::from_private(key)
    }

    /// The key with these two big-endian primes and exponent 65537 (deterministic and fast: for
    /// fixed test keys, e.g. in a fuzz target, where generating a key would dominate). Their
    /// product must be a 2048-bit modulus; primality is not checked beyond what decryption needs.
    pub fn from_primes(p: &[u8], q: &[u8]) -> Result<SoftRsaKey, SoftKeyError> {
        let key = rsa::RsaPrivateKey::from_p_q(
            rsa::BigUint::from_bytes_be(p),
            rsa::BigUint::from_bytes_be(q),
            rsa::BigUint::from(65537u32),
        )
        .map_err(|_| SoftKeyError::RsaShape)?;
        SoftRsaKey::from_private(key)
    }

    fn from_private(key: rsa::RsaPrivateKey) -> Result<SoftRsaKey, SoftKeyError> {
        let n = key.n().to_bytes_be();
        let e = key.e().to_bytes_be();
        let public = BoundKey::from_rsa_parts(&n, &e).map_err(|_| SoftKeyError::RsaShape)?;
        let [p, q] = key.primes() else {
            return Err(SoftKeyError::RsaShape);
        };
        let one = rsa::BigUint::from(1u8);
        let dp = key.d() % (p - &one);
        let dq = key.d() % (q - &one);
        let qi = key.crt_coefficient().ok_or(SoftKeyError::RsaShape)?;
        let enc = |v: &rsa::BigUint| Zeroizing::new(b64::encode(&v.to_bytes_be()));
        let private_jwk = Zeroizing::new(format!(
            r#"{{"kty":"RSA","n":"{}","e":"{}","d":"{}","p":"{}","q":"{}","dp":"{}","dq":"{}","qi":"{}"}}"#,
            b64::encode(&n),
            b64::encode(&e),
            *enc(key.d()),
            *enc(p),
            *enc(q),
            *enc(&dp),
            *enc(&dq),
            *enc(&qi),
        ));
        Ok(SoftRsaKey {
            key,
            public,
            private_jwk,
        })
    }

    /// The public key, to encrypt to.
    pub fn bound_key(&self) -> &BoundKey {
        &self.public
    }

    /// The private key as a JWK (`kty` RSA with `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`), for
    /// another JOSE implementation in interoperability tests.
    pub fn private_jwk_json(&self) -> &str {
        &self.private_jwk
    }
}

impl fmt::Debug for SoftRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftRsaKey")
            .field("thumbprint", &self.public.thumbprint())
            .finish_non_exhaustive()
    }
}

impl KeyUnwrap for SoftRsaKey {
    type Error = SoftKeyError;

    fn rsa_oaep_decrypt(&mut self, encrypted_key: &[u8]) -> Result<Vec<u8>, SoftKeyError> {
        self.key
            .decrypt(rsa::Oaep::new::<sha2::Sha256>(), encrypted_key)
            .map_err(|_| SoftKeyError::Oaep)
    }

    fn ecdh_z(&mut self, _x: &[u8; 32], _y: &[u8; 32]) -> Result<[u8; 32], SoftKeyError> {
        Err(SoftKeyError::WrongKeyType {
            key: "RSA",
            operation: "ECDH",
        })
    }
}

/// A software P-256 decryption (key agreement) key.
#[derive(Clone)]
pub struct SoftP256Key {
    secret: p256::SecretKey,
    public: BoundKey,
}

impl SoftP256Key {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<SoftP256Key, SoftKeyError> {
        SoftP256Key::from_secret(p256::SecretKey::random(rng))
    }

    /// The key with this big-endian private scalar (deterministic: for fixed test keys).
    pub fn from_scalar_bytes(scalar: &[u8; 32]) -> Result<SoftP256Key, SoftKeyError> {
        let secret = p256::SecretKey::from_slice(scalar).map_err(|_| SoftKeyError::Scalar)?;
        SoftP256Key::from_secret(secret)
    }

    fn from_secret(secret: p256::SecretKey) -> Result<SoftP256Key, SoftKeyError> {
        let point = secret.public_key().to_encoded_point(false);
        let public =
            BoundKey::from_p256_sec1(point.as_bytes()).map_err(|_| SoftKeyError::Scalar)?;
        Ok(SoftP256Key { secret, public })
    }

    /// The public key, to encrypt to.
    pub fn bound_key(&self) -> &BoundKey {
        &self.public
    }

    /// The private key as a JWK (`kty` EC, `crv` P-256, `x`, `y`, `d`), for another JOSE
    /// implementation in interoperability tests.
    pub fn private_jwk_json(&self) -> Zeroizing<String> {
        let d = Zeroizing::new(b64::encode(&self.secret.to_bytes()));
        let public = self.public.to_jwk_json();
        let members = public.trim_end_matches('}');
        Zeroizing::new(format!(r#"{members},"d":"{}"}}"#, *d))
    }
}

impl fmt::Debug for SoftP256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftP256Key")
            .field("thumbprint", &self.public.thumbprint())
            .finish_non_exhaustive()
    }
}

impl KeyUnwrap for SoftP256Key {
    type Error = SoftKeyError;

    fn rsa_oaep_decrypt(&mut self, _encrypted_key: &[u8]) -> Result<Vec<u8>, SoftKeyError> {
        Err(SoftKeyError::WrongKeyType {
            key: "P-256",
            operation: "RSA-OAEP",
        })
    }

    fn ecdh_z(&mut self, x: &[u8; 32], y: &[u8; 32]) -> Result<[u8; 32], SoftKeyError> {
        let BoundKey::P256(epk) = BoundKey::from_p256_xy(x, y).map_err(|_| SoftKeyError::Point)?
        else {
            return Err(SoftKeyError::Point);
        };
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), epk.point().as_affine());
        Ok((*shared.raw_secret_bytes()).into())
    }
}
