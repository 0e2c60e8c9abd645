//! A faster signature backend over `ring` (feature `ring`): same checks as
//! [`RustCryptoVerifier`](crate::RustCryptoVerifier), RSA and ECDSA done by ring's audited,
//! assembly-accelerated code. Measured side by side in `benches/benches/evaluate.rs`.
//!
//! ring verifies a message, not a digest, so the message is passed whole; it accepts RSA moduli of
//! 2048–8192 bits and ECDSA on P-256 (SHA-256, SHA-384) and P-384 (SHA-256, SHA-384).

use std::borrow::Cow;

use crate::alg::{TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512};
use crate::error::{Error, Result};
use crate::public::{EccCurve, PublicKey};
use crate::signature::Signature;
use crate::verify::SignatureVerifier;
use ring::signature as rs;

/// Signature verification with `ring`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingVerifier;

fn strip(b: &[u8]) -> &[u8] {
    let lead = b.iter().take_while(|x| **x == 0).count();
    &b[lead..]
}

fn pad(b: &[u8], len: usize) -> Result<Vec<u8>> {
    let b = strip(b);
    if b.len() > len {
        return Err(Error::BadSignature);
    }
    let mut v = vec![0u8; len - b.len()];
    v.extend_from_slice(b);
    Ok(v)
}

impl SignatureVerifier for RingVerifier {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature<'_>) -> Result<()> {
        let hash = signature.hash_alg();
        let unsupported = Error::UnsupportedAlgorithm {
            field: Cow::Borrowed("signature.hash"),
            offset: 2,
            alg: hash,
        };
        match (key, signature) {
            (
                PublicKey::Rsa { modulus, exponent },
                Signature::RsaSsa { sig, .. } | Signature::RsaPss { sig, .. },
            ) => {
                let pss = matches!(signature, Signature::RsaPss { .. });
                let params: &rs::RsaParameters = match (pss, hash) {
                    (false, TPM_ALG_SHA1) => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    (false, TPM_ALG_SHA256) => &rs::RSA_PKCS1_2048_8192_SHA256,
                    (false, TPM_ALG_SHA384) => &rs::RSA_PKCS1_2048_8192_SHA384,
                    (false, TPM_ALG_SHA512) => &rs::RSA_PKCS1_2048_8192_SHA512,
                    (true, TPM_ALG_SHA256) => &rs::RSA_PSS_2048_8192_SHA256,
                    (true, TPM_ALG_SHA384) => &rs::RSA_PSS_2048_8192_SHA384,
                    (true, TPM_ALG_SHA512) => &rs::RSA_PSS_2048_8192_SHA512,
                    (true, TPM_ALG_SHA1) => {
                        return Err(Error::NotInBackend(Cow::Borrowed(
                            "ring has no RSA-PSS with SHA-1",
                        )))
                    }
                    _ => return Err(unsupported),
                };
                let n = strip(modulus);
                let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                if !(2048..=8192).contains(&bits) {
                    return Err(Error::NotInBackend(Cow::Borrowed(
                        "ring verifies RSA moduli of 2048-8192 bits",
                    )));
                }
                let e = exponent.to_be_bytes();
                let sig = pad(sig, n.len())?;
                rs::RsaPublicKeyComponents { n, e: strip(&e) }
                    .verify(params, message, &sig)
                    .map_err(|_| Error::BadSignature)
            }
            (PublicKey::Ecc { curve, x, y }, Signature::Ecdsa { r, s, .. }) => {
                // ring has fixed-width (r || s) forms for the matching hash only; the cross
                // combinations take the DER form.
                let (len, alg, der): (usize, &rs::EcdsaVerificationAlgorithm, bool) =
                    match (curve, hash) {
                        (EccCurve::NistP256, TPM_ALG_SHA256) => {
                            (32, &rs::ECDSA_P256_SHA256_FIXED, false)
                        }
                        (EccCurve::NistP256, TPM_ALG_SHA384) => {
                            (32, &rs::ECDSA_P256_SHA384_ASN1, true)
                        }
                        (EccCurve::NistP384, TPM_ALG_SHA256) => {
                            (48, &rs::ECDSA_P384_SHA256_ASN1, true)
                        }
                        (EccCurve::NistP384, TPM_ALG_SHA384) => {
                            (48, &rs::ECDSA_P384_SHA384_FIXED, false)
                        }
                        (EccCurve::NistP256 | EccCurve::NistP384, _) => {
                            return Err(Error::NotInBackend(Cow::Borrowed(
                                "ring pairs P-256 and P-384 with SHA-256 and SHA-384 only",
                            )))
                        }
                        _ => {
                            return Err(Error::UnusableKey(Cow::Borrowed(
                                "ECDSA is supported on NIST P-256 and P-384 only",
                            )))
                        }
                    };
                let mut point = vec![4u8];
                point.extend_from_slice(
                    &pad(x, len).map_err(|_| {
                        Error::UnusableKey(Cow::Borrowed("ECC coordinate too long"))
                    })?,
                );
                point.extend_from_slice(
                    &pad(y, len).map_err(|_| {
                        Error::UnusableKey(Cow::Borrowed("ECC coordinate too long"))
                    })?,
                );
                let (r, s) = (pad(r, len)?, pad(s, len)?);
                let sig = if der {
                    der_signature(&r, &s)?
                } else {
                    [r, s].concat()
                };
                rs::UnparsedPublicKey::new(alg, &point)
                    .verify(message, &sig)
                    .map_err(|_| Error::BadSignature)
            }
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

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } for scalars of at most 48 bytes.
/// DER Ecdsa-Sig-Value of `r` and `s` (each at most a P-384 coordinate, so every length fits
/// DER's short form; anything longer is refused as a bad signature).
fn der_signature(r: &[u8], s: &[u8]) -> Result<Vec<u8>> {
    fn short_len(n: usize) -> Result<u8> {
        u8::try_from(n)
            .ok()
            .filter(|n| *n < 0x80)
            .ok_or(Error::BadSignature)
    }
    fn int(v: &[u8]) -> Result<Vec<u8>> {
        let v = strip(v);
        let mut out = vec![0x02];
        let pad = v.first().is_none_or(|b| b & 0x80 != 0);
        out.push(short_len(v.len() + usize::from(pad))?);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        Ok(out)
    }
    let body = [int(r)?, int(s)?].concat();
    let mut out = vec![0x30, short_len(body.len())?];
    out.extend_from_slice(&body);
    Ok(out)
}
