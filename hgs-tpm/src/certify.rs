//! Certification verification: did the AK that signs the host's quote certify, with TPM2_Certify
//! and the verifier's nonce, a TPM-resident decryption key whose public area the host presents?
//!
//! A [`CertifiedKey`] can only be made by [`verify_certify`]: it has no public constructor and no
//! `Deserialize`. The only way to a key the verifier may encrypt to is through the AK's signature
//! over a TPMS_CERTIFY_INFO naming exactly that key: the AK is restricted, so it signs only
//! structures the TPM made (they start with TPM_GENERATED_VALUE), and TPM2_Certify reports only
//! objects loaded in that TPM. A public area that merely *claims* to be TPM-bound (attributes are
//! whatever its creator wrote) proves nothing without it; with it, the key's Name — nameAlg ||
//! H(TPMT_PUBLIC), which covers the key and its attributes — was vouched for by the TPM, so
//! fixedTPM, fixedParent and sensitiveDataOrigin are facts: the private key was generated in that
//! TPM and cannot leave it.
//!
//! Order of the checks: the cheap structural ones first (magic, type, nonce, the key's policy,
//! its Name), then the AK's attributes and signature. Nothing is accepted before the signature
//! verifies; the early checks only refuse. Every reason is its own [`CertifyError`] variant,
//! carrying what was found (and what was expected, where the expectation is not fixed).
//!
//! The key policy is fixed ([`BOUND_KEY_ATTRIBUTES`] and the algorithms below): what a verifier
//! encrypting a secret to the host needs, not a choice per deployment.
//! - attributes: fixedTPM, fixedParent, sensitiveDataOrigin and decrypt set; sign and restricted
//!   clear (a restricted decryption key only unwraps TPM-formatted blobs; a signing key is not a
//!   decryption key);
//! - RSA-2048 (exponent 65537) with scheme NULL or OAEP/SHA-256, or ECC NIST P-256 (a point on
//!   the curve) with scheme NULL or ECDH (hash SHA-256 or stronger);
//! - nameAlg SHA-256, SHA-384 or SHA-512: the Name is what the TPM vouches for, so its hash must
//!   be collision resistant.

use crate::ak_signature::{parse_ak_signature, verify_ak_signature, AkSignatureError};
use crate::alg::{HashAlg, TPM_ALG_ECDH, TPM_ALG_NULL, TPM_ALG_OAEP, TPM_ALG_SHA256};
use crate::attest::{Attest, Attested, ClockInfo, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY};
use crate::credential::ak_attribute_problems;
use crate::public::{EccCurve, ObjectAttributes, Parameters, Public, PublicKey, Scheme, Unique};
use crate::quote::Freshness;
use crate::verify::SignatureVerifier;

/// The attributes a bound decryption key is created with (what the host agent uses):
/// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | decrypt.
///
/// [`verify_certify`] requires all of them but userWithAuth (how the host authorizes its own use
/// of the key is not the verifier's concern) and requires sign and restricted clear.
pub const BOUND_KEY_ATTRIBUTES: ObjectAttributes = ObjectAttributes(
    ObjectAttributes::FIXED_TPM
        | ObjectAttributes::FIXED_PARENT
        | ObjectAttributes::SENSITIVE_DATA_ORIGIN
        | ObjectAttributes::USER_WITH_AUTH
        | ObjectAttributes::DECRYPT,
);

/// RSA modulus size a bound key must have (bits).
const RSA_BITS: usize = 2048;

/// What the verifier requires of a certification.
#[derive(Debug, Clone, Copy)]
pub struct CertifyRequirements<'a> {
    /// Freshness: the nonce the verifier issued, which the host passed to TPM2_Certify as
    /// qualifying data (the same nonce its quote carries).
    pub freshness: Freshness<'a>,
}

/// Which part of the evidence a [`CertifyError::Malformed`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CertifyPart {
    /// The TPMS_ATTEST structure the TPM signed.
    Attestation,
    /// The TPMT_SIGNATURE over it.
    Signature,
    /// The AK's TPMT_PUBLIC area.
    AkPublic,
    /// The key inside the AK's public area.
    AkKey,
    /// The certified key's TPMT_PUBLIC area.
    CertifiedPublic,
}

impl core::fmt::Display for CertifyPart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CertifyPart::Attestation => "TPMS_ATTEST",
            CertifyPart::Signature => "TPMT_SIGNATURE",
            CertifyPart::AkPublic => "the AK public area",
            CertifyPart::AkKey => "the AK public key",
            CertifyPart::CertifiedPublic => "the certified key's public area",
        })
    }
}

/// Why a certification is refused.
///
/// Serializable like [`crate::QuoteError`]: the parser's and the signature backend's
/// [`Error`](crate::Error) is kept as a typed source, bytes as bytes (hex only in JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum CertifyError {
    /// The attestation, the signature, the AK or the certified public area did not parse.
    #[error("{part} does not parse")]
    Malformed {
        /// Which structure.
        part: CertifyPart,
        /// The parser's error.
        #[source]
        error: crate::Error,
    },
    /// The attestation does not start with TPM_GENERATED_VALUE: the TPM did not make it.
    #[error("attestation magic is 0x{found:08x}, not TPM_GENERATED_VALUE 0xff544347")]
    NotTpmGenerated {
        /// The first four bytes of the TPMS_ATTEST.
        found: u32,
    },
    /// The attestation is not a certification (e.g. a quote or a creation attestation).
    #[error("attestation type 0x{tag:04x} is not a certification (0x8017)")]
    NotACertification {
        /// TPM_ST value found.
        tag: u16,
    },
    /// extraData is not the verifier's nonce: a replayed or foreign certification.
    #[error(
        "certification nonce {} is not the challenge {}",
        crate::hex::encode(actual),
        crate::hex::encode(expected)
    )]
    NonceMismatch {
        /// The challenge (hex in JSON).
        #[serde(with = "crate::hex::serde")]
        expected: Vec<u8>,
        /// The attestation's extraData (hex in JSON).
        #[serde(with = "crate::hex::serde")]
        actual: Vec<u8>,
    },
    /// fixedTPM or fixedParent is clear: the key can be duplicated out of the TPM.
    #[error(
        "the certified key can leave the TPM (fixedTPM {}, fixedParent {}; attributes 0x{:08x})",
        .attributes.fixed_tpm(),
        .attributes.fixed_parent(),
        .attributes.0
    )]
    Duplicable {
        /// The key's objectAttributes.
        attributes: ObjectAttributes,
    },
    /// sensitiveDataOrigin is clear: the private key was imported or supplied, not generated in
    /// the TPM, so someone else may know it.
    #[error("the certified key was not generated in the TPM (sensitiveDataOrigin clear; attributes 0x{:08x})", .attributes.0)]
    Imported {
        /// The key's objectAttributes.
        attributes: ObjectAttributes,
    },
    /// decrypt is clear: not a decryption key.
    #[error("the certified key is not a decryption key (decrypt clear; attributes 0x{:08x})", .attributes.0)]
    NotDecrypt {
        /// The key's objectAttributes.
        attributes: ObjectAttributes,
    },
    /// sign is set: the key can sign, so it is not a pure decryption key.
    #[error("the certified key can sign (sign set; attributes 0x{:08x})", .attributes.0)]
    CanSign {
        /// The key's objectAttributes.
        attributes: ObjectAttributes,
    },
    /// restricted is set: the key decrypts only TPM-formatted blobs, not the verifier's secret.
    #[error("the certified key is restricted (attributes 0x{:08x})", .attributes.0)]
    Restricted {
        /// The key's objectAttributes.
        attributes: ObjectAttributes,
    },
    /// The nameAlg is not SHA-256, SHA-384 or SHA-512.
    #[error("the certified key's nameAlg 0x{name_alg:04x} is not SHA-256 or stronger")]
    WeakNameAlg {
        /// TPM_ALG_ID found.
        name_alg: u16,
    },
    /// Neither RSA nor ECC.
    #[error("the certified key's type 0x{object_type:04x} is neither RSA nor ECC")]
    UnsupportedKeyType {
        /// TPM_ALG_ID found.
        object_type: u16,
    },
    /// An RSA key whose declared or actual modulus size is not 2048 bits.
    #[error("the certified RSA key declares {key_bits} bits and has a {modulus_bits}-bit modulus, not 2048")]
    RsaKeySize {
        /// keyBits in the parameters.
        key_bits: u16,
        /// Significant bits of the modulus (unique.rsa).
        modulus_bits: usize,
    },
    /// An RSA exponent other than 65537 (encoded as 0 or 65537).
    #[error("the certified RSA key's exponent {exponent} is not 65537")]
    RsaExponent {
        /// The exponent as encoded.
        exponent: u32,
    },
    /// An ECC key on a curve other than NIST P-256.
    #[error("the certified ECC key is on curve 0x{:04x}, not NIST P-256", .curve.id())]
    UnsupportedCurve {
        /// The curve found.
        curve: EccCurve,
    },
    /// The ECC key's point is not on P-256 (or a coordinate is longer than 32 bytes).
    #[error("the certified ECC key's point is not on P-256")]
    InvalidPoint,
    /// The key's scheme is not NULL or the one decryption scheme allowed for its type (RSA: OAEP
    /// with SHA-256; ECC: ECDH with SHA-256 or stronger).
    #[error(
        "the certified key's scheme 0x{:04x} (hash 0x{:04x}) is not NULL or {allowed}",
        .found.scheme,
        .found.hash
    )]
    KeyScheme {
        /// The scheme found.
        found: Scheme,
        /// The allowed scheme, in words.
        allowed: crate::Label,
    },
    /// The Name in the attestation is not the Name of the presented public area: the AK
    /// certified another key.
    #[error(
        "the certified Name {} is not the Name {} of the presented public area",
        crate::hex::encode(attested),
        crate::hex::encode(computed)
    )]
    NameMismatch {
        /// The Name the TPM signed (hex in JSON).
        #[serde(with = "crate::hex::serde")]
        attested: Vec<u8>,
        /// nameAlg || H(TPMT_PUBLIC) of the presented area (hex in JSON).
        #[serde(with = "crate::hex::serde")]
        computed: Vec<u8>,
    },
    /// The AK is not a restricted, TPM-bound signing key, so its signature does not prove the
    /// TPM made the attestation.
    #[error("the AK is not a restricted, TPM-bound signing key: {missing:?}")]
    UnsuitableAk {
        /// What it lacks (as [`crate::check_ak_attributes`] names it).
        missing: Vec<crate::Label>,
    },
    /// The signing hash is one this verifier cannot compute.
    #[error("unsupported certification hash algorithm 0x{alg:04x}")]
    UnsupportedHash {
        /// TPM_ALG_ID.
        alg: u16,
    },
    /// The AK's signature over the attestation does not verify: another AK signed it, or the
    /// attestation was altered.
    #[error("the certification signature does not verify with the AK")]
    BadSignature {
        /// The verifier's error.
        #[source]
        error: crate::Error,
    },
}

impl From<AkSignatureError> for CertifyError {
    fn from(e: AkSignatureError) -> Self {
        match e {
            AkSignatureError::MalformedSignature(error) => CertifyError::Malformed {
                part: CertifyPart::Signature,
                error,
            },
            AkSignatureError::UnsupportedHash(alg) => CertifyError::UnsupportedHash { alg },
            AkSignatureError::MalformedAkKey(error) => CertifyError::Malformed {
                part: CertifyPart::AkKey,
                error,
            },
            AkSignatureError::BadSignature(error) => CertifyError::BadSignature { error },
        }
    }
}

/// A TPM-resident decryption key that passed every check of [`verify_certify`]: certified by the
/// AK with the verifier's nonce (unless freshness was explicitly not checked), non-duplicable,
/// generated in the TPM, decrypt-only, RSA-2048 or P-256.
///
/// Only [`verify_certify`] makes one: a secret encrypted to [`CertifiedKey::key`] can be
/// decrypted only inside the TPM whose AK signed the certification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedKey {
    public: Vec<u8>,
    name: Vec<u8>,
    qualified_name: Vec<u8>,
    key: PublicKey,
    attributes: ObjectAttributes,
    clock_info: ClockInfo,
    firmware_version: u64,
    nonce_checked: bool,
}

impl CertifiedKey {
    /// The certified public area as a bare TPMT_PUBLIC (what its Name is computed over).
    pub fn public_area(&self) -> &[u8] {
        &self.public
    }

    /// The key's Name: nameAlg (2 bytes, big-endian) || H_nameAlg(TPMT_PUBLIC), as the TPM signed it.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The qualified Name the TPM reported (its hierarchy: H(parent's qualified Name || Name)).
    /// Signed by the TPM but not checked here: the verifier does not know the parent.
    pub fn qualified_name(&self) -> &[u8] {
        &self.qualified_name
    }

    /// The public key: RSA-2048 (modulus, exponent 65537) or P-256 (x, y).
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The key's objectAttributes.
    pub fn attributes(&self) -> ObjectAttributes {
        self.attributes
    }

    /// TPM clock, reset and restart counts at certification time.
    pub fn clock_info(&self) -> ClockInfo {
        self.clock_info
    }

    /// TPM firmware version.
    pub fn firmware_version(&self) -> u64 {
        self.firmware_version
    }

    /// Whether the nonce was checked ([`Freshness::Nonce`]).
    pub fn nonce_checked(&self) -> bool {
        self.nonce_checked
    }
}

fn malformed(part: CertifyPart) -> impl FnOnce(crate::Error) -> CertifyError {
    move |error| CertifyError::Malformed { part, error }
}

/// The four bytes where TPM_GENERATED_VALUE must be, in a bare TPMS_ATTEST or a TPM2B_ATTEST
/// (a size equal to the rest's length, then the structure); `None` when too short (the parser
/// then says where it is truncated).
fn magic(attest: &[u8]) -> Option<u32> {
    let generated = TPM_GENERATED_VALUE.to_be_bytes();
    let body = match attest.split_first_chunk::<2>() {
        Some((size, rest))
            if attest.get(..4) != Some(&generated[..])
                && usize::from(u16::from_be_bytes(*size)) == rest.len() =>
        {
            rest
        }
        _ => attest,
    };
    body.first_chunk::<4>().map(|m| u32::from_be_bytes(*m))
}

/// Significant bits of a big-endian unsigned integer.
fn bit_len(be: &[u8]) -> usize {
    let trimmed = &be[be.iter().take_while(|b| **b == 0).count()..];
    match trimmed.first() {
        None => 0,
        Some(top) => trimmed.len() * 8 - top.leading_zeros() as usize,
    }
}

fn is_strong_hash(alg: u16) -> bool {
    matches!(
        HashAlg::from_tpm_alg_id(alg),
        Some(HashAlg::Sha256 | HashAlg::Sha384 | HashAlg::Sha512)
    )
}

/// The key policy of a bound decryption key (module docs): attributes, nameAlg, type, size,
/// scheme, point. Cheap: no hashing, one curve-membership check.
fn check_key_policy(key: &Public<'_>) -> Result<PublicKey, CertifyError> {
    let attributes = key.attributes;
    if !attributes.fixed_tpm() || !attributes.fixed_parent() {
        return Err(CertifyError::Duplicable { attributes });
    }
    if !attributes.sensitive_data_origin() {
        return Err(CertifyError::Imported { attributes });
    }
    if !attributes.decrypt() {
        return Err(CertifyError::NotDecrypt { attributes });
    }
    if attributes.sign() {
        return Err(CertifyError::CanSign { attributes });
    }
    if attributes.restricted() {
        return Err(CertifyError::Restricted { attributes });
    }
    if !is_strong_hash(key.name_alg) {
        return Err(CertifyError::WeakNameAlg {
            name_alg: key.name_alg,
        });
    }
    match (&key.parameters, &key.unique) {
        (
            Parameters::Rsa {
                scheme,
                key_bits,
                exponent,
                ..
            },
            Unique::Rsa(modulus),
        ) => {
            let modulus_bits = bit_len(modulus);
            if usize::from(*key_bits) != RSA_BITS || modulus_bits != RSA_BITS {
                return Err(CertifyError::RsaKeySize {
                    key_bits: *key_bits,
                    modulus_bits,
                });
            }
            if !matches!(*exponent, 0 | 65537) {
                return Err(CertifyError::RsaExponent {
                    exponent: *exponent,
                });
            }
            let oaep_sha256 = scheme.scheme == TPM_ALG_OAEP && scheme.hash == TPM_ALG_SHA256;
            if scheme.scheme != TPM_ALG_NULL && !oaep_sha256 {
                return Err(CertifyError::KeyScheme {
                    found: *scheme,
                    allowed: "OAEP with SHA-256".into(),
                });
            }
        }
        (Parameters::Ecc { scheme, curve, .. }, Unique::Ecc { x, y }) => {
            if *curve != EccCurve::NistP256 {
                return Err(CertifyError::UnsupportedCurve { curve: *curve });
            }
            let ecdh = scheme.scheme == TPM_ALG_ECDH && is_strong_hash(scheme.hash);
            if scheme.scheme != TPM_ALG_NULL && !ecdh {
                return Err(CertifyError::KeyScheme {
                    found: *scheme,
                    allowed: "ECDH with SHA-256 or stronger".into(),
                });
            }
            let point =
                crate::verify::sec1_point(x, y, 32).map_err(|_| CertifyError::InvalidPoint)?;
            p256::PublicKey::from_sec1_bytes(&point).map_err(|_| CertifyError::InvalidPoint)?;
        }
        _ => {
            return Err(CertifyError::UnsupportedKeyType {
                object_type: key.object_type,
            })
        }
    }
    key.key().map_err(malformed(CertifyPart::CertifiedPublic))
}

/// Verifies one certification: that `attest` is a TPMS_ATTEST of type certify, carrying the
/// verifier's nonce, naming exactly `certified_public` (TPM2B_PUBLIC or bare TPMT_PUBLIC), a key
/// that satisfies the bound-key policy (module docs), and signed by the AK (`ak_public`, a
/// restricted TPM-bound signing key). Cheap refusals first; the signature last.
///
/// Pass the AK public area the host's quote was verified with ([`crate::verify_quote`]) and the
/// same nonce: then the key lives in the TPM whose PCRs were quoted, for this challenge.
pub fn verify_certify(
    ak_public: &[u8],
    attest: &[u8],
    signature: &[u8],
    certified_public: &[u8],
    requirements: &CertifyRequirements<'_>,
    verifier: &dyn SignatureVerifier,
) -> Result<CertifiedKey, CertifyError> {
    if let Some(found) = magic(attest).filter(|m| *m != TPM_GENERATED_VALUE) {
        return Err(CertifyError::NotTpmGenerated { found });
    }
    let certification = Attest::parse(attest).map_err(malformed(CertifyPart::Attestation))?;
    let Attested::Certify {
        name,
        qualified_name,
    } = &certification.attested
    else {
        return Err(CertifyError::NotACertification {
            tag: certification.tag,
        });
    };
    if certification.tag != TPM_ST_ATTEST_CERTIFY {
        return Err(CertifyError::NotACertification {
            tag: certification.tag,
        });
    }
    if let Freshness::Nonce(nonce) = requirements.freshness {
        if certification.extra_data != nonce {
            return Err(CertifyError::NonceMismatch {
                expected: nonce.to_vec(),
                actual: certification.extra_data.to_vec(),
            });
        }
    }
    let certified =
        Public::parse(certified_public).map_err(malformed(CertifyPart::CertifiedPublic))?;
    let key = check_key_policy(&certified)?;
    let computed = certified
        .name()
        .map_err(malformed(CertifyPart::CertifiedPublic))?;
    if computed != *name {
        return Err(CertifyError::NameMismatch {
            attested: name.to_vec(),
            computed,
        });
    }
    let (sig, _) = parse_ak_signature(signature)?;
    let ak = Public::parse(ak_public).map_err(malformed(CertifyPart::AkPublic))?;
    let missing = ak_attribute_problems(&ak);
    if !missing.is_empty() {
        return Err(CertifyError::UnsuitableAk { missing });
    }
    verify_ak_signature(&ak, certification.bytes, &sig, verifier)?;
    Ok(CertifiedKey {
        public: certified.bytes.to_vec(),
        name: computed,
        qualified_name: qualified_name.to_vec(),
        key,
        attributes: certified.attributes,
        clock_info: certification.clock_info,
        firmware_version: certification.firmware_version,
        nonce_checked: matches!(requirements.freshness, Freshness::Nonce(_)),
    })
}
