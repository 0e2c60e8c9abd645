//! Verifying a TPM signature over a message with a TPM public key.
//!
//! Behind the small [`SignatureVerifier`] trait so a service can plug in a faster backend; the
//! default, [`RustCryptoVerifier`], is pure Rust (RustCrypto `rsa`, `p256`, `p384`).

use std::borrow::Cow;

use ecdsa::signature::hazmat::PrehashVerifier;

use crate::alg::HashAlg;
use crate::error::{Error, Result};
use crate::public::{EccCurve, PublicKey};
use crate::signature::Signature;

/// Verifies TPM signatures.
pub trait SignatureVerifier {
    /// Ok when `signature` is a valid signature of `message` by `key`.
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature<'_>) -> Result<()>;
}

/// The pure-Rust verifier (RustCrypto `rsa`, `p256`, `p384`): no C toolchain needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoVerifier;

/// The verifier to use: `ring` (feature `ring`; audited, assembly-accelerated RSA, ~14x faster
/// than `rsa` 0.9 on RSA-2048) for what ring implements, the pure-Rust [`RustCryptoVerifier`]
/// for the rest (RSA moduli under 2048 bits, RSA-PSS with SHA-1, P-256/P-384 with SHA-512) and
/// for everything when the feature is off. It falls back only when ring says it does not
/// implement the algorithm ([`Error::NotInBackend`]), never on a bad signature, and refuses RSA
/// moduli above [`MAX_RSA_BITS`] as the pure-Rust verifier does: both accept the same signatures.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultVerifier;

impl SignatureVerifier for DefaultVerifier {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature<'_>) -> Result<()> {
        #[cfg(feature = "ring")]
        {
            if let PublicKey::Rsa { modulus, .. } = key {
                let n = &modulus[modulus.iter().take_while(|b| **b == 0).count()..];
                if n.len() * 8 > MAX_RSA_BITS {
                    return Err(Error::UnusableKey(Cow::Borrowed(
                        "RSA modulus larger than 4096 bits",
                    )));
                }
            }
            match crate::RingVerifier.verify(key, message, signature) {
                Err(Error::NotInBackend(_)) => {}
                other => return other,
            }
        }
        RustCryptoVerifier.verify(key, message, signature)
    }
}

/// Largest RSA modulus accepted (bits): TPMs support 2048 and 3072, some 4096.
pub const MAX_RSA_BITS: usize = 4096;

fn left_pad(bytes: &[u8], len: usize) -> Result<Vec<u8>> {
    let trimmed = &bytes[bytes.iter().take_while(|b| **b == 0).count()..];
    if trimmed.len() > len {
        return Err(Error::BadSignature);
    }
    let mut out = vec![0u8; len - trimmed.len()];
    out.extend_from_slice(trimmed);
    Ok(out)
}

fn rsa_key(modulus: &[u8], exponent: u32) -> Result<rsa::RsaPublicKey> {
    let n = rsa::BigUint::from_bytes_be(modulus);
    if n.bits() > MAX_RSA_BITS {
        return Err(Error::UnusableKey(Cow::Borrowed(
            "RSA modulus larger than 4096 bits",
        )));
    }
    rsa::RsaPublicKey::new(n, rsa::BigUint::from(exponent))
        .map_err(|_| Error::UnusableKey(Cow::Borrowed("invalid RSA public key")))
}

/// RSA verification of a prehashed message with PKCS#1 v1.5 or PSS (salt length auto-detected,
/// so both the TPM's "salt = hash length" and "maximum salt" conventions verify).
fn rsa_verify(
    key: &rsa::RsaPublicKey,
    hash: HashAlg,
    pss: bool,
    digest: &[u8],
    sig: &[u8],
) -> bool {
    macro_rules! with {
        ($d:ty) => {
            if pss {
                key.verify(rsa::Pss::new::<$d>(), digest, sig).is_ok()
            } else {
                key.verify(rsa::Pkcs1v15Sign::new::<$d>(), digest, sig)
                    .is_ok()
            }
        };
    }
    match hash {
        HashAlg::Sha1 => with!(sha1::Sha1),
        HashAlg::Sha256 => with!(sha2::Sha256),
        HashAlg::Sha384 => with!(sha2::Sha384),
        HashAlg::Sha512 => with!(sha2::Sha512),
        // Refused before a digest is made (`verify`).
        HashAlg::Sm3_256 => false,
    }
}

impl SignatureVerifier for RustCryptoVerifier {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature<'_>) -> Result<()> {
        // Signatures over SM3 (a Chinese-market TPM scheme) are not verified by either backend.
        let hash = HashAlg::from_tpm_alg_id(signature.hash_alg())
            .filter(|h| *h != HashAlg::Sm3_256)
            .ok_or(Error::UnsupportedAlgorithm {
                field: Cow::Borrowed("signature.hash"),
                offset: 2,
                alg: signature.hash_alg(),
            })?;
        let digest = hash.hash(message);
        match (key, signature) {
            (
                PublicKey::Rsa { modulus, exponent },
                Signature::RsaSsa { sig, .. } | Signature::RsaPss { sig, .. },
            ) => {
                let k = rsa_key(modulus, *exponent)?;
                let pss = matches!(signature, Signature::RsaPss { .. });
                let sig = left_pad(
                    sig,
                    modulus.len() - modulus.iter().take_while(|b| **b == 0).count(),
                )?;
                if rsa_verify(&k, hash, pss, &digest, &sig) {
                    Ok(())
                } else {
                    Err(Error::BadSignature)
                }
            }
            (PublicKey::Ecc { curve, x, y }, Signature::Ecdsa { r, s, .. }) => match curve {
                EccCurve::NistP256 => {
                    let point = sec1_point(x, y, 32)?;
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| Error::UnusableKey(Cow::Borrowed("ECC point not on P-256")))?;
                    let sig = p256::ecdsa::Signature::from_scalars(
                        to_array::<32>(&left_pad(r, 32)?)?,
                        to_array::<32>(&left_pad(s, 32)?)?,
                    )
                    .map_err(|_| Error::BadSignature)?;
                    vk.verify_prehash(&digest, &sig)
                        .map_err(|_| Error::BadSignature)
                }
                EccCurve::NistP384 => {
                    let point = sec1_point(x, y, 48)?;
                    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| Error::UnusableKey(Cow::Borrowed("ECC point not on P-384")))?;
                    let sig = p384::ecdsa::Signature::from_scalars(
                        to_array::<48>(&left_pad(r, 48)?)?,
                        to_array::<48>(&left_pad(s, 48)?)?,
                    )
                    .map_err(|_| Error::BadSignature)?;
                    vk.verify_prehash(&digest, &sig)
                        .map_err(|_| Error::BadSignature)
                }
                _ => Err(Error::UnusableKey(Cow::Borrowed(
                    "ECDSA is supported on NIST P-256 and P-384 only",
                ))),
            },
            (PublicKey::Rsa { .. }, _) => Err(Error::SchemeMismatch {
                scheme: signature.scheme(),
                key: Cow::Borrowed("RSA"),
            }),
            (PublicKey::Ecc { .. }, _) => Err(Error::SchemeMismatch {
                scheme: signature.scheme(),
                key: Cow::Borrowed("ECC"),
            }),
        }
    }
}

fn to_array<const N: usize>(v: &[u8]) -> Result<[u8; N]> {
    v.try_into().map_err(|_| Error::BadSignature)
}

/// Uncompressed SEC1 point `04 || x || y` with coordinates padded to `len`.
pub(crate) fn sec1_point(x: &[u8], y: &[u8], len: usize) -> Result<Vec<u8>> {
    let mut p = vec![4u8];
    p.extend_from_slice(
        &left_pad(x, len)
            .map_err(|_| Error::UnusableKey(Cow::Borrowed("ECC coordinate too long")))?,
    );
    p.extend_from_slice(
        &left_pad(y, len)
            .map_err(|_| Error::UnusableKey(Cow::Borrowed("ECC coordinate too long")))?,
    );
    Ok(p)
}
