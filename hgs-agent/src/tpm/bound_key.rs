//! A TPM-resident decryption key bound into the evidence: created under the low-range EK (the
//! AK's parent), certified by the AK with TPM2_Certify (qualifying data = the challenge nonce),
//! and used to decrypt what a verifier encrypted to it (TPM2_RSA_Decrypt, TPM2_ECDH_ZGen).
//!
//! The verifier checks the certification with `hgs_tpm::verify_certify`: the key's attributes
//! here (fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | decrypt, not sign, not
//! restricted; `hgs_tpm::BOUND_KEY_ATTRIBUTES`) and algorithms (RSA-2048 OAEP/SHA-256, or P-256
//! ECDH/SHA-256; nameAlg SHA-256) are the ones it demands.
//!
//! Kept like the AK ([`super::ak`]): the public area and the TPM-wrapped private blob of
//! TPM2_Create, which survive reboots and need no NV, reloaded under the (deterministic) EK for
//! each use and flushed after it. The agent saves it in its state directory
//! ([`super::key_state`]), certifies it in every challenge answer ([`super::agent`]: the
//! evidence's `bound_key`), and decrypts what a key service released to it through
//! [`super::unwrap::TpmUnwrap`].

use std::convert::TryFrom;

use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Data, EccParameter, EccPoint, EccScheme, HashScheme, KeyDerivationFunctionScheme, Private,
    Public, PublicBuilder, PublicEccParametersBuilder, PublicKeyRsa, PublicRsaParametersBuilder,
    RsaDecryptionScheme, RsaExponent, RsaScheme, SignatureScheme, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};

use super::ak::{with_loaded_ak, AkState};
use super::credential::with_ek_policy;
use super::ek::{with_ek, EkProfile};
use super::{tss_err, Result, Tpm, TpmError};

/// The bound key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoundKeyKind {
    /// RSA-2048, scheme OAEP with SHA-256: the verifier encrypts a secret to it.
    Rsa2048,
    /// ECC NIST P-256, scheme ECDH with SHA-256: the verifier sends an ephemeral point.
    EccP256,
}

impl BoundKeyKind {
    /// `rsa2048` or `ecc-p256`: the name in the agent's state file.
    pub fn name(self) -> &'static str {
        match self {
            BoundKeyKind::Rsa2048 => "rsa2048",
            BoundKeyKind::EccP256 => "ecc-p256",
        }
    }

    /// The kind named `name`: [`BoundKeyKind::name`]'s spelling, or the short `rsa` / `ecc`.
    pub fn from_name(name: &str) -> Option<BoundKeyKind> {
        match name {
            "rsa" | "rsa2048" => Some(BoundKeyKind::Rsa2048),
            "ecc" | "ecc-p256" => Some(BoundKeyKind::EccP256),
            _ => None,
        }
    }
}

impl std::fmt::Display for BoundKeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a bound key's public area does not make a JWK (`hgs_keys::BoundKey`), the form a token's
/// `cnf` and a JWE's recipient take.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoundKeyPublicError {
    /// The public area does not parse as a TPMT_PUBLIC.
    #[error("the bound key's public area does not parse")]
    Public(#[source] hgs_tpm::Error),
    /// The public area holds a key of another type than the state says (or none).
    #[error("the bound key's public area is not an {expected} key")]
    KeyType {
        /// The kind the state names.
        expected: BoundKeyKind,
    },
    /// `hgs_keys` refuses the key (size, curve, exponent).
    #[error("the bound key is not an acceptable JWE recipient")]
    Jwk(#[source] hgs_keys::JwkError),
}

/// A bound decryption key as TPM2_Create returned it: reloadable under its EK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundKey {
    /// The parent EK (a low-range profile, the AK's parent).
    pub ek: EkProfile,
    /// The key's algorithm.
    pub kind: BoundKeyKind,
    /// The key's public area, a bare TPMT_PUBLIC (what its Name is computed over).
    pub public: Vec<u8>,
    /// TPM2B_PRIVATE contents: the private area, encrypted by the TPM under the EK.
    pub private: Vec<u8>,
}

impl BoundKey {
    /// The key's public half as a JWK (`hgs_keys::BoundKey`): what the token's `cnf` names and
    /// what a released JWE is encrypted to (compare with its RFC 7638 thumbprint).
    pub fn jwk(&self) -> std::result::Result<hgs_keys::BoundKey, BoundKeyPublicError> {
        let public = hgs_tpm::Public::parse(&self.public).map_err(BoundKeyPublicError::Public)?;
        let key = public.key().map_err(BoundKeyPublicError::Public)?;
        let wrong = BoundKeyPublicError::KeyType {
            expected: self.kind,
        };
        match (self.kind, key) {
            (BoundKeyKind::Rsa2048, hgs_tpm::PublicKey::Rsa { modulus, exponent }) => {
                hgs_keys::BoundKey::from_rsa_parts(&modulus, &exponent.to_be_bytes())
                    .map_err(BoundKeyPublicError::Jwk)
            }
            (
                BoundKeyKind::EccP256,
                hgs_tpm::PublicKey::Ecc {
                    curve: hgs_tpm::EccCurve::NistP256,
                    x,
                    y,
                },
            ) => hgs_keys::BoundKey::from_p256_xy(&x, &y).map_err(BoundKeyPublicError::Jwk),
            _ => Err(wrong),
        }
    }
}

/// A TPM2_Certify of a bound key by the AK: what `hgs_tpm::verify_certify` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundKeyCertification {
    /// The certified key's public area, a bare TPMT_PUBLIC.
    pub public: Vec<u8>,
    /// TPMS_ATTEST (marshalled; exactly the bytes signed).
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE by the AK.
    pub signature: Vec<u8>,
}

fn unexpected(op: &str, message: impl Into<String>) -> TpmError {
    TpmError::Unexpected {
        op: op.into(),
        message: message.into(),
    }
}

fn require_low_range(ek: EkProfile) -> Result<()> {
    if ek.is_low_range() {
        Ok(())
    } else {
        Err(unexpected(
            &format!("bound key under EK {ek}"),
            "only the low-range EKs (rsa2048, ecc-p256) are supported as parent",
        ))
    }
}

/// The key's template: the attributes and algorithms `hgs_tpm::verify_certify` demands.
fn template(kind: BoundKeyKind) -> Result<Public> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_decrypt(true)
        .with_sign_encrypt(false)
        .with_restricted(false)
        .build()
        .map_err(tss_err("bound key attributes"))?;
    let builder = PublicBuilder::new()
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes);
    let builder = match kind {
        BoundKeyKind::Rsa2048 => builder
            .with_public_algorithm(PublicAlgorithm::Rsa)
            .with_rsa_parameters(
                PublicRsaParametersBuilder::new()
                    .with_symmetric(SymmetricDefinitionObject::Null)
                    .with_scheme(RsaScheme::Oaep(HashScheme::new(HashingAlgorithm::Sha256)))
                    .with_key_bits(RsaKeyBits::Rsa2048)
                    .with_exponent(RsaExponent::default())
                    .with_is_decryption_key(true)
                    .with_is_signing_key(false)
                    .with_restricted(false)
                    .build()
                    .map_err(tss_err("bound key RSA parameters"))?,
            )
            .with_rsa_unique_identifier(PublicKeyRsa::default()),
        BoundKeyKind::EccP256 => builder
            .with_public_algorithm(PublicAlgorithm::Ecc)
            .with_ecc_parameters(
                PublicEccParametersBuilder::new()
                    .with_symmetric(SymmetricDefinitionObject::Null)
                    .with_ecc_scheme(EccScheme::EcDh(HashScheme::new(HashingAlgorithm::Sha256)))
                    .with_curve(EccCurve::NistP256)
                    .with_key_derivation_function_scheme(KeyDerivationFunctionScheme::Null)
                    .with_is_decryption_key(true)
                    .with_is_signing_key(false)
                    .with_restricted(false)
                    .build()
                    .map_err(tss_err("bound key ECC parameters"))?,
            )
            .with_ecc_unique_identifier(EccPoint::default()),
    };
    builder.build().map_err(tss_err("bound key template"))
}

/// Creates a bound decryption key of `kind` under the EK of `ek` (the profile the AK was made
/// under; see [`AkState::ek_profile`]).
pub fn create_bound_key(tpm: &mut Tpm, ek: EkProfile, kind: BoundKeyKind) -> Result<BoundKey> {
    require_low_range(ek)?;
    let public = template(kind)?;
    let created = with_ek(tpm, ek, |tpm, ek_handle| {
        with_ek_policy(tpm, |tpm, session| {
            tpm.context()
                .execute_with_session(Some(session), |ctx| {
                    ctx.create(ek_handle, public, None, None, None, None)
                })
                .map_err(tss_err("TPM2_Create (bound key under EK)"))
        })
    })?;
    Ok(BoundKey {
        ek,
        kind,
        public: created
            .out_public
            .marshall()
            .map_err(tss_err("marshal TPMT_PUBLIC"))?,
        private: created.out_private.value().to_vec(),
    })
}

/// Loads `key` under the already loaded EK `ek_handle`, runs `f`, then flushes the key.
fn with_loaded_key<T>(
    tpm: &mut Tpm,
    ek_handle: KeyHandle,
    key: &BoundKey,
    f: impl FnOnce(&mut Tpm, KeyHandle) -> Result<T>,
) -> Result<T> {
    let public = Public::unmarshall(&key.public).map_err(tss_err("unmarshal bound key public"))?;
    let private =
        Private::try_from(key.private.clone()).map_err(tss_err("bound key private blob"))?;
    let handle = with_ek_policy(tpm, |tpm, session| {
        tpm.context()
            .execute_with_session(Some(session), |ctx| ctx.load(ek_handle, private, public))
            .map_err(tss_err("TPM2_Load (bound key under EK)"))
    })?;
    let out = f(tpm, handle);
    tpm.flush_quietly(ObjectHandle::from(handle));
    out
}

/// Loads `key` under a freshly created EK, runs `f`, then flushes both.
fn with_key<T>(
    tpm: &mut Tpm,
    key: &BoundKey,
    f: impl FnOnce(&mut Tpm, KeyHandle) -> Result<T>,
) -> Result<T> {
    require_low_range(key.ek)?;
    with_ek(tpm, key.ek, |tpm, ek| with_loaded_key(tpm, ek, key, f))
}

/// TPM2_Certify of `key` by the AK of `ak` with `nonce` as qualifying data: the certification the
/// verifier checks with `hgs_tpm::verify_certify` (the same nonce its quote carries).
///
/// The key must have been created under the AK's EK (one EK handle serves both loads).
pub fn certify_bound_key(
    tpm: &mut Tpm,
    ak: &AkState,
    key: &BoundKey,
    nonce: &[u8],
) -> Result<BoundKeyCertification> {
    require_same_ek(ak.decode()?.ek, key)?;
    with_loaded_ak(tpm, ak, |tpm, ek, ak_handle| {
        certify_with_loaded_ak(tpm, ek, ak_handle, key, nonce)
    })
}

/// TPM2_Certify of `key` by the already loaded AK `ak_handle`, `key` loaded under the already
/// loaded EK `ek_handle` (the AK's parent) for the command and flushed after it: the challenge
/// answer certifies inside the AK's load, so EK and AK are not recreated for it. The caller
/// checks that the key was created under the AK's EK.
pub(crate) fn certify_with_loaded_ak(
    tpm: &mut Tpm,
    ek_handle: KeyHandle,
    ak_handle: KeyHandle,
    key: &BoundKey,
    nonce: &[u8],
) -> Result<BoundKeyCertification> {
    let qualifying_data = Data::try_from(nonce.to_vec()).map_err(tss_err("qualifying data"))?;
    with_loaded_key(tpm, ek_handle, key, |tpm, key_handle| {
        let (attest, signature) = tpm
            .context()
            .execute_with_sessions(
                (
                    Some(AuthSession::Password),
                    Some(AuthSession::Password),
                    None,
                ),
                |ctx| {
                    ctx.certify(
                        ObjectHandle::from(key_handle),
                        ak_handle,
                        qualifying_data,
                        SignatureScheme::Null,
                    )
                },
            )
            .map_err(tss_err("TPM2_Certify (bound key by AK)"))?;
        Ok(BoundKeyCertification {
            public: key.public.clone(),
            attest: attest.marshall().map_err(tss_err("marshal TPMS_ATTEST"))?,
            signature: signature
                .marshall()
                .map_err(tss_err("marshal TPMT_SIGNATURE"))?,
        })
    })
}

/// Checks that `key` was created under the EK `ak_ek` the AK was (one EK handle serves both
/// loads in TPM2_Certify).
pub(crate) fn require_same_ek(ak_ek: EkProfile, key: &BoundKey) -> Result<()> {
    if ak_ek == key.ek {
        Ok(())
    } else {
        Err(unexpected(
            "TPM2_Certify (bound key)",
            format!(
                "the key was created under EK {}, the AK under EK {ak_ek}",
                key.ek
            ),
        ))
    }
}

/// TPM2_RSA_Decrypt with the RSA bound key: OAEP with SHA-256 and an empty label, as the
/// verifier encrypted (`ciphertext` is the 256-byte RSA-2048 ciphertext).
pub fn rsa_decrypt(tpm: &mut Tpm, key: &BoundKey, ciphertext: &[u8]) -> Result<Vec<u8>> {
    const OP: &str = "TPM2_RSA_Decrypt (bound key)";
    if key.kind != BoundKeyKind::Rsa2048 {
        return Err(unexpected(OP, "the bound key is not an RSA key"));
    }
    let ciphertext =
        PublicKeyRsa::try_from(ciphertext.to_vec()).map_err(tss_err("RSA ciphertext"))?;
    with_key(tpm, key, |tpm, handle| {
        let plain = tpm
            .context()
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.rsa_decrypt(
                    handle,
                    ciphertext,
                    RsaDecryptionScheme::Oaep(HashScheme::new(HashingAlgorithm::Sha256)),
                    Data::default(),
                )
            })
            .map_err(tss_err(OP))?;
        Ok(plain.value().to_vec())
    })
}

/// TPM2_ECDH_ZGen with the P-256 bound key: the x-coordinate of d·`point` (the shared secret Z
/// of ECDH with the verifier's ephemeral point, given as big-endian coordinates).
pub fn ecdh_zgen(tpm: &mut Tpm, key: &BoundKey, x: &[u8], y: &[u8]) -> Result<Vec<u8>> {
    const OP: &str = "TPM2_ECDH_ZGen (bound key)";
    if key.kind != BoundKeyKind::EccP256 {
        return Err(unexpected(OP, "the bound key is not an ECC key"));
    }
    let point = EccPoint::new(
        EccParameter::try_from(x.to_vec()).map_err(tss_err("ECC point x"))?,
        EccParameter::try_from(y.to_vec()).map_err(tss_err("ECC point y"))?,
    );
    with_key(tpm, key, |tpm, handle| {
        let z = tpm
            .context()
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.ecdh_z_gen(handle, point)
            })
            .map_err(tss_err(OP))?;
        Ok(z.x().value().to_vec())
    })
}
