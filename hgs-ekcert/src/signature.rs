//! Certificate signature algorithms and their verification over the exact TBS bytes, through
//! `hgs_tpm`'s [`SignatureVerifier`] (RSA PKCS#1 v1.5 and PSS with SHA-1/256/384/512, ECDSA on
//! P-256 and P-384).

use hgs_tpm::{
    DefaultVerifier, EccCurve, HashAlg, PublicKey, RustCryptoVerifier, Signature, SignatureVerifier,
};
use serde::Serialize;

use crate::cert::{Certificate, Curve, KeyInfo};
use crate::der::{self, tag, Tlv};
use crate::error::{Error, Result};

/// Which backend verifies certificate signatures ([`crate::Options::backend`]).
///
/// Both accept exactly the same signatures (the crate's tests run the corpus and the forgeries
/// through each); they differ in speed and in what they need to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignatureBackend {
    /// [`hgs_tpm::DefaultVerifier`]: ring (feature `ring`, on by default; audited,
    /// assembly-accelerated RSA) for what ring implements, the pure-Rust verifier for the rest
    /// and for everything when the feature is off (targets without a C toolchain).
    #[default]
    Default,
    /// [`hgs_tpm::RustCryptoVerifier`] only: pure Rust (RustCrypto `rsa`, `p256`, `p384`).
    PureRust,
}

impl SignatureBackend {
    fn verifier(self) -> &'static dyn SignatureVerifier {
        match self {
            SignatureBackend::Default => &DefaultVerifier,
            SignatureBackend::PureRust => &RustCryptoVerifier,
        }
    }
}

/// Hash of a signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Hash {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The `hgs_tpm` hash algorithm.
    pub(crate) fn tpm(self) -> HashAlg {
        match self {
            Self::Sha1 => HashAlg::Sha1,
            Self::Sha256 => HashAlg::Sha256,
            Self::Sha384 => HashAlg::Sha384,
            Self::Sha512 => HashAlg::Sha512,
        }
    }

    /// The hash of a digest AlgorithmIdentifier's OID.
    pub(crate) fn from_oid(oid: &str) -> Option<Self> {
        Some(match oid {
            "1.3.14.3.2.26" => Self::Sha1,
            "2.16.840.1.101.3.4.2.1" => Self::Sha256,
            "2.16.840.1.101.3.4.2.2" => Self::Sha384,
            "2.16.840.1.101.3.4.2.3" => Self::Sha512,
            _ => return None,
        })
    }
}

/// A certificate signature algorithm this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1(Hash),
    /// RSASSA-PSS (salt length taken from the signature).
    RsaPss(Hash),
    /// ECDSA.
    Ecdsa(Hash),
}

impl SignatureAlgorithm {
    /// Whether the hash is SHA-1.
    pub fn is_sha1(self) -> bool {
        matches!(
            self,
            Self::RsaPkcs1(Hash::Sha1) | Self::RsaPss(Hash::Sha1) | Self::Ecdsa(Hash::Sha1)
        )
    }

    /// Reads an AlgorithmIdentifier.
    pub(crate) fn parse(t: &Tlv<'_>) -> Result<Self> {
        let mut r = t.reader();
        let oid = der::read_oid(&mut r, "signature algorithm")?;
        let unsupported = || Error::UnsupportedAlgorithm {
            what: "signature algorithm",
            oid: oid.clone(),
        };
        Ok(match oid.as_str() {
            "1.2.840.113549.1.1.5" => Self::RsaPkcs1(Hash::Sha1),
            "1.2.840.113549.1.1.11" => Self::RsaPkcs1(Hash::Sha256),
            "1.2.840.113549.1.1.12" => Self::RsaPkcs1(Hash::Sha384),
            "1.2.840.113549.1.1.13" => Self::RsaPkcs1(Hash::Sha512),
            "1.2.840.10045.4.1" => Self::Ecdsa(Hash::Sha1),
            "1.2.840.10045.4.3.2" => Self::Ecdsa(Hash::Sha256),
            "1.2.840.10045.4.3.3" => Self::Ecdsa(Hash::Sha384),
            "1.2.840.10045.4.3.4" => Self::Ecdsa(Hash::Sha512),
            "1.2.840.113549.1.1.10" => {
                // RSASSA-PSS-params: [0] hashAlgorithm DEFAULT sha1, ... (salt auto-detected).
                let mut hash = Hash::Sha1;
                if let Some(params) = r.optional(tag::SEQUENCE, "RSASSA-PSS-params")? {
                    let mut pr = params.reader();
                    if let Some(h) = pr.optional(0xa0, "hashAlgorithm")? {
                        let mut hr = h.reader();
                        let alg = hr.expect(tag::SEQUENCE, "hashAlgorithm")?;
                        let mut ar = alg.reader();
                        let hoid = der::read_oid(&mut ar, "hashAlgorithm")?;
                        hash = Hash::from_oid(&hoid).ok_or_else(unsupported)?;
                    }
                }
                Self::RsaPss(hash)
            }
            _ => return Err(unsupported()),
        })
    }
}

/// The `hgs_tpm` form of a certificate key (RSA, or ECC on P-256 / P-384).
pub(crate) fn tpm_key(key: &KeyInfo) -> Result<PublicKey> {
    match key {
        KeyInfo::Rsa {
            modulus, exponent, ..
        } => {
            if exponent.len() > 4 || exponent.is_empty() {
                return Err(Error::UnsupportedAlgorithm {
                    what: "RSA public exponent",
                    oid: format!("{} bytes", exponent.len()),
                });
            }
            let e = exponent.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b));
            Ok(PublicKey::Rsa {
                modulus: modulus.clone(),
                exponent: e,
            })
        }
        KeyInfo::Ecc { curve, x, y } => Ok(PublicKey::Ecc {
            curve: match curve {
                Curve::P256 => EccCurve::NistP256,
                Curve::P384 => EccCurve::NistP384,
                Curve::P521 => {
                    return Err(Error::UnsupportedAlgorithm {
                        what: "issuer key",
                        oid: "ECC P-521".into(),
                    })
                }
            },
            x: x.clone(),
            y: y.clone(),
        }),
        KeyInfo::Other { oid } => Err(Error::UnsupportedAlgorithm {
            what: "issuer key",
            oid: oid.clone(),
        }),
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigError {
    /// The signature is wrong (or does not fit the key).
    Bad,
    /// The algorithm or key cannot be verified here.
    Unsupported(Error),
}

/// Verifies `cert`'s signature over its exact TBS bytes with `issuer_key` (default backend).
pub(crate) fn verify(
    cert: &Certificate,
    issuer_key: &KeyInfo,
) -> std::result::Result<(), SigError> {
    verify_with(cert, issuer_key, SignatureBackend::Default)
}

/// [`verify()`] with the given backend.
pub(crate) fn verify_with(
    cert: &Certificate,
    issuer_key: &KeyInfo,
    backend: SignatureBackend,
) -> std::result::Result<(), SigError> {
    verify_message_with(
        cert.signature_algorithm,
        cert.signature(),
        cert.tbs(),
        issuer_key,
        backend,
    )
}

/// Verifies a signature `sig` made with `alg` over `message` (hashed here) with `issuer_key`
/// (default backend).
pub(crate) fn verify_message(
    alg: SignatureAlgorithm,
    sig: &[u8],
    message: &[u8],
    issuer_key: &KeyInfo,
) -> std::result::Result<(), SigError> {
    verify_message_with(alg, sig, message, issuer_key, SignatureBackend::Default)
}

fn verify_message_with(
    alg: SignatureAlgorithm,
    sig: &[u8],
    message: &[u8],
    issuer_key: &KeyInfo,
    backend: SignatureBackend,
) -> std::result::Result<(), SigError> {
    let key = tpm_key(issuer_key).map_err(SigError::Unsupported)?;
    let (r_s, sigobj);
    let signature = match alg {
        SignatureAlgorithm::RsaPkcs1(h) => {
            if !matches!(issuer_key, KeyInfo::Rsa { .. }) {
                return Err(SigError::Bad);
            }
            Signature::RsaSsa {
                hash: h.tpm().tpm_alg_id(),
                sig,
            }
        }
        SignatureAlgorithm::RsaPss(h) => {
            if !matches!(issuer_key, KeyInfo::Rsa { .. }) {
                return Err(SigError::Bad);
            }
            Signature::RsaPss {
                hash: h.tpm().tpm_alg_id(),
                sig,
            }
        }
        SignatureAlgorithm::Ecdsa(h) => {
            if !matches!(issuer_key, KeyInfo::Ecc { .. }) {
                return Err(SigError::Bad);
            }
            // Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
            let seq = der::single(sig, "Ecdsa-Sig-Value").map_err(|_| SigError::Bad)?;
            let mut sr = seq.reader();
            let r = sr.expect(tag::INTEGER, "r").map_err(|_| SigError::Bad)?;
            let s = sr.expect(tag::INTEGER, "s").map_err(|_| SigError::Bad)?;
            sr.finish("Ecdsa-Sig-Value").map_err(|_| SigError::Bad)?;
            r_s = (der::strip_zeros(r.value), der::strip_zeros(s.value));
            Signature::Ecdsa {
                hash: h.tpm().tpm_alg_id(),
                r: r_s.0,
                s: r_s.1,
            }
        }
    };
    sigobj = signature;
    backend
        .verifier()
        .verify(&key, message, &sigobj)
        .map_err(|e| match e {
            hgs_tpm::Error::UnusableKey(why) => {
                SigError::Unsupported(Error::UnsupportedAlgorithm {
                    what: "issuer key",
                    oid: why.to_string(),
                })
            }
            _ => SigError::Bad,
        })
}
