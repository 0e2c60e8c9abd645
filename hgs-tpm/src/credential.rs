//! The verifier side of TPM2_MakeCredential, in pure Rust (TPM 2.0 Part 1 §24, Part 3 §12.6).
//!
//! The verifier picks a secret and encrypts it so that only a TPM holding the private EK *and* a
//! loaded object with exactly the AK's name can recover it (TPM2_ActivateCredential). Our protocol
//! then uses that secret as the quote's nonce, so one round trip proves the quoting AK lives in the
//! TPM that owns the registered EK (see [`crate::verify_quote`]).
//!
//! - RSA EK: seed encrypted with RSA-OAEP, label `"IDENTITY\0"`, hash = the EK's nameAlg.
//! - ECC EK (P-256, P-384): ephemeral ECDH with the EK; seed = KDFe(nameAlg, Z, "IDENTITY",
//!   ephemeral.x, EK.x); the encrypted secret is the ephemeral point (TPMS_ECC_POINT).
//! - Then: symKey = KDFa(nameAlg, seed, "STORAGE", AK name, -, EK symmetric key bits);
//!   encIdentity = AES-CFB(symKey, IV = 0, TPM2B_DIGEST(secret));
//!   hmacKey = KDFa(nameAlg, seed, "INTEGRITY", -, -, digest bits);
//!   credential blob (TPM2B_ID_OBJECT contents) = TPM2B_DIGEST(HMAC(hmacKey, encIdentity || AK name)) || encIdentity.

use crate::alg::{HashAlg, TPM_ALG_AES, TPM_ALG_CFB, TPM_ALG_ECC, TPM_ALG_RSA};
use crate::public::{EccCurve, Parameters, Public, PublicKey};
use std::borrow::Cow;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use hmac::Mac;
use rand_core::CryptoRngCore;

/// What TPM2_ActivateCredential needs: both as TPM2B contents (without their 2-byte sizes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// TPM2B_ID_OBJECT contents: integrity HMAC (as TPM2B_DIGEST) followed by encIdentity.
    pub credential_blob: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET contents: RSA-OAEP ciphertext, or the ephemeral TPMS_ECC_POINT.
    pub encrypted_secret: Vec<u8>,
}

/// Why a credential could not be made, or an AK is not acceptable.
///
/// Serializable (as `{"kind": ..., "detail": ...}`) because a verdict carries the AK's refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialError {
    /// The EK public area does not parse (the parser's reason is the source).
    #[error("the EK public area does not parse")]
    MalformedEk(#[source] crate::Error),
    /// The AK public area does not parse (the parser's reason is the source).
    #[error("the AK public area does not parse")]
    MalformedAk(#[source] crate::Error),
    /// The EK is not a restricted decryption key with an AES-CFB symmetric parent algorithm.
    #[error("the EK cannot receive credentials: {0}")]
    UnsuitableEk(crate::Label),
    /// The secret is longer than the EK's nameAlg digest (the TPM would refuse it).
    #[error("secret of {len} bytes is longer than the EK nameAlg digest ({max} bytes)")]
    SecretTooLong {
        /// Secret length.
        len: usize,
        /// Largest allowed.
        max: usize,
    },
    /// The AK lacks attributes a quoting key must have.
    #[error("the AK is not a restricted, TPM-bound signing key: missing {missing:?}")]
    UnsuitableAk {
        /// Names of the missing attributes (`fixedTPM`, `restricted`, ...), or `decrypt` when set.
        missing: Vec<crate::Label>,
    },
    /// Encryption to the EK failed.
    #[error("encryption to the EK failed: {0}")]
    Crypto(crate::Label),
}

/// Checks the AK is a key the verifier may trust quotes from: restricted (signs only TPM-generated
/// data), fixedTPM and fixedParent (cannot leave this TPM), sensitiveDataOrigin (generated inside
/// it), sign, and not decrypt.
pub fn check_ak_attributes(ak_public: &[u8]) -> Result<(), CredentialError> {
    let ak = Public::parse(ak_public).map_err(CredentialError::MalformedAk)?;
    let missing = ak_attribute_problems(&ak);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CredentialError::UnsuitableAk { missing })
    }
}

/// What [`check_ak_attributes`] finds wrong with a parsed AK (empty when nothing): the attribute
/// names it lacks, `decrypt must be clear`, or `asymmetric key type`. Shared with
/// [`crate::verify_certify`], which trusts a certification only from such a key.
pub(crate) fn ak_attribute_problems(ak: &Public<'_>) -> Vec<crate::Label> {
    let a = ak.attributes;
    let mut missing = Vec::new();
    for (ok, name) in [
        (a.restricted(), "restricted"),
        (a.fixed_tpm(), "fixedTPM"),
        (a.fixed_parent(), "fixedParent"),
        (a.sensitive_data_origin(), "sensitiveDataOrigin"),
        (a.sign(), "sign"),
    ] {
        if !ok {
            missing.push(Cow::Borrowed(name));
        }
    }
    if a.decrypt() {
        missing.push(Cow::Borrowed("decrypt must be clear"));
    }
    if !matches!(ak.object_type, TPM_ALG_RSA | TPM_ALG_ECC) {
        missing.push(Cow::Borrowed("asymmetric key type"));
    }
    missing
}

/// HMAC with the given hash.
fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; this branch is unreachable.
            <M as hmac::digest::KeyInit>::new(&Default::default())
        });
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match alg {
        HashAlg::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, parts),
        HashAlg::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, parts),
        HashAlg::Sha384 => run::<hmac::Hmac<sha2::Sha384>>(key, parts),
        HashAlg::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, parts),
        HashAlg::Sm3_256 => run::<hmac::Hmac<sm3::Sm3>>(key, parts),
    }
}

/// The counter loop KDFa and KDFe share: `block(counter)` for counter = 1, 2, ... (big-endian)
/// until `bits` are produced, truncated to whole bytes.
fn counter_kdf(alg: HashAlg, bits: u32, mut block: impl FnMut(&[u8; 4]) -> Vec<u8>) -> Vec<u8> {
    let bytes = usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(bytes.saturating_add(alg.digest_len()));
    let mut counter: u32 = 0;
    while out.len() < bytes {
        counter += 1;
        out.extend_from_slice(&block(&counter.to_be_bytes()));
    }
    out.truncate(bytes);
    out
}

/// KDFa (SP 800-108 counter mode with HMAC), TPM 2.0 Part 1 §11.4.10.2. `label` without its NUL.
pub fn kdfa(
    alg: HashAlg,
    key: &[u8],
    label: &str,
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Vec<u8> {
    counter_kdf(alg, bits, |counter| {
        hmac(
            alg,
            key,
            &[
                counter,
                label.as_bytes(),
                &[0],
                context_u,
                context_v,
                &bits.to_be_bytes(),
            ],
        )
    })
}

/// KDFe (SP 800-56A concatenation KDF), TPM 2.0 Part 1 §11.4.10.3. `label` without its NUL.
pub fn kdfe(
    alg: HashAlg,
    z: &[u8],
    label: &str,
    party_u: &[u8],
    party_v: &[u8],
    bits: u32,
) -> Vec<u8> {
    counter_kdf(alg, bits, |counter| {
        alg.hash_parts(&[counter, z, label.as_bytes(), &[0], party_u, party_v])
    })
}

fn tpm2b(bytes: &[u8]) -> Result<Vec<u8>, CredentialError> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| CredentialError::Crypto(Cow::Borrowed("TPM2B too long")))?;
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(bytes);
    Ok(v)
}

fn aes_cfb_encrypt(key: &[u8], data: &mut [u8]) -> Result<(), CredentialError> {
    let iv = [0u8; 16];
    match key.len() {
        16 => cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
            .map_err(|_| CredentialError::Crypto(Cow::Borrowed("AES-128 key")))?
            .encrypt(data),
        32 => cfb_mode::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
            .map_err(|_| CredentialError::Crypto(Cow::Borrowed("AES-256 key")))?
            .encrypt(data),
        _ => {
            return Err(CredentialError::UnsuitableEk(Cow::Borrowed(
                "AES key size must be 128 or 256 bits",
            )))
        }
    }
    Ok(())
}

/// Who computes the ephemeral ECDH of TPM2_MakeCredential with an ECC EK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EcdhBackend {
    /// RustCrypto `p256`/`p384`, the ephemeral key drawn from the caller's RNG: the default,
    /// with no I/O.
    #[default]
    RustCrypto,
    /// ring (feature `ring`): audited, assembly-accelerated, about 4x faster on
    /// P-256 (65 µs against 276 µs per ephemeral key and agreement, measured on the project's
    /// 2-core machine). ring draws the ephemeral key from the operating system
    /// (its `SystemRandom`; its API takes no other source), so this is for services, which are
    /// the I/O edge anyway. The RNG passed in still makes the secret and RSA-OAEP's seed.
    #[cfg(feature = "ring")]
    Ring,
}

/// TPM2_MakeCredential: encrypts `secret` to the EK (`ek_public`: TPM2B_PUBLIC or TPMT_PUBLIC) for
/// the object named `ak_name` (nameAlg || digest, as [`crate::Public::name`] returns).
pub fn make_credential(
    ek_public: &[u8],
    ak_name: &[u8],
    secret: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Credential, CredentialError> {
    make_credential_with(ek_public, ak_name, secret, rng, EcdhBackend::RustCrypto)
}

/// [`make_credential`] with the ECDH of an ECC EK computed by `ecdh`.
pub fn make_credential_with(
    ek_public: &[u8],
    ak_name: &[u8],
    secret: &[u8],
    rng: &mut impl CryptoRngCore,
    ecdh: EcdhBackend,
) -> Result<Credential, CredentialError> {
    let ek = Public::parse(ek_public).map_err(CredentialError::MalformedEk)?;
    // SM3 nameAlgs (Chinese-market TPMs) are not supported for credentials.
    let name_alg = HashAlg::from_tpm_alg_id(ek.name_alg)
        .filter(|h| *h != HashAlg::Sm3_256)
        .ok_or(CredentialError::UnsuitableEk(Cow::Borrowed(
            "unsupported nameAlg",
        )))?;
    if !(ek.attributes.restricted() && ek.attributes.decrypt()) {
        return Err(CredentialError::UnsuitableEk(Cow::Borrowed(
            "not a restricted decryption key",
        )));
    }
    let sym = match &ek.parameters {
        Parameters::Rsa { symmetric, .. } | Parameters::Ecc { symmetric, .. } => *symmetric,
        _ => None,
    }
    .ok_or(CredentialError::UnsuitableEk(Cow::Borrowed(
        "no symmetric algorithm",
    )))?;
    if sym.algorithm != TPM_ALG_AES || sym.mode != TPM_ALG_CFB {
        return Err(CredentialError::UnsuitableEk(Cow::Borrowed(
            "symmetric algorithm is not AES-CFB",
        )));
    }
    let digest_len = name_alg.digest_len();
    let digest_bits = u32::try_from(digest_len.saturating_mul(8))
        .map_err(|_| CredentialError::UnsuitableEk(Cow::Borrowed("unsupported nameAlg")))?;
    if secret.len() > digest_len {
        return Err(CredentialError::SecretTooLong {
            len: secret.len(),
            max: digest_len,
        });
    }

    let key = ek.key().map_err(CredentialError::MalformedEk)?;
    let (seed, encrypted_secret) = match key {
        PublicKey::Rsa { modulus, exponent } => {
            let mut seed = vec![0u8; digest_len];
            rng.fill_bytes(&mut seed);
            let pk = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&modulus),
                rsa::BigUint::from(exponent),
            )
            .map_err(|_| CredentialError::UnsuitableEk(Cow::Borrowed("invalid RSA key")))?;
            let label = "IDENTITY\0";
            let enc = match name_alg {
                HashAlg::Sha1 => pk.encrypt(
                    rng,
                    rsa::Oaep::new_with_label::<sha1::Sha1, _>(label),
                    &seed,
                ),
                HashAlg::Sha256 => pk.encrypt(
                    rng,
                    rsa::Oaep::new_with_label::<sha2::Sha256, _>(label),
                    &seed,
                ),
                HashAlg::Sha384 => pk.encrypt(
                    rng,
                    rsa::Oaep::new_with_label::<sha2::Sha384, _>(label),
                    &seed,
                ),
                HashAlg::Sha512 => pk.encrypt(
                    rng,
                    rsa::Oaep::new_with_label::<sha2::Sha512, _>(label),
                    &seed,
                ),
                // Refused with the nameAlg above.
                HashAlg::Sm3_256 => {
                    return Err(CredentialError::UnsuitableEk(Cow::Borrowed(
                        "unsupported nameAlg",
                    )))
                }
            }
            .map_err(|_| CredentialError::Crypto(Cow::Borrowed("RSA-OAEP")))?;
            (seed, enc)
        }
        PublicKey::Ecc { curve, x, y } => {
            let bits = digest_bits;
            let (z, ex, ey, ek_x) = match (curve, ecdh) {
                #[cfg(feature = "ring")]
                (EccCurve::NistP256, EcdhBackend::Ring) => {
                    ecdh_ring(&ring::agreement::ECDH_P256, &x, &y, 32)?
                }
                #[cfg(feature = "ring")]
                (EccCurve::NistP384, EcdhBackend::Ring) => {
                    ecdh_ring(&ring::agreement::ECDH_P384, &x, &y, 48)?
                }
                (EccCurve::NistP256, _) => ecdh_p256(&x, &y, rng)?,
                (EccCurve::NistP384, _) => ecdh_p384(&x, &y, rng)?,
                _ => {
                    return Err(CredentialError::UnsuitableEk(Cow::Borrowed(
                        "ECC EK curve must be P-256 or P-384",
                    )))
                }
            };
            let seed = kdfe(name_alg, &z, "IDENTITY", &ex, &ek_x, bits);
            let mut point = tpm2b(&ex)?;
            point.extend_from_slice(&tpm2b(&ey)?);
            (seed, point)
        }
    };

    let sym_key = kdfa(
        name_alg,
        &seed,
        "STORAGE",
        ak_name,
        &[],
        u32::from(sym.key_bits),
    );
    let mut enc_identity = tpm2b(secret)?;
    aes_cfb_encrypt(&sym_key, &mut enc_identity)?;
    let hmac_key = kdfa(name_alg, &seed, "INTEGRITY", &[], &[], digest_bits);
    let integrity = hmac(name_alg, &hmac_key, &[&enc_identity, ak_name]);
    let mut credential_blob = tpm2b(&integrity)?;
    credential_blob.extend_from_slice(&enc_identity);
    Ok(Credential {
        credential_blob,
        encrypted_secret,
    })
}

type EcdhOut = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

fn sec1(x: &[u8], y: &[u8], len: usize) -> Result<Vec<u8>, CredentialError> {
    let pad = |c: &[u8]| -> Result<Vec<u8>, CredentialError> {
        let c = &c[c.iter().take_while(|b| **b == 0).count()..];
        if c.len() > len {
            return Err(CredentialError::UnsuitableEk(Cow::Borrowed(
                "ECC coordinate too long",
            )));
        }
        let mut v = vec![0u8; len - c.len()];
        v.extend_from_slice(c);
        Ok(v)
    };
    let mut p = vec![4u8];
    p.extend(pad(x)?);
    p.extend(pad(y)?);
    Ok(p)
}

macro_rules! ecdh_fn {
    ($name:ident, $curve:ident, $len:expr) => {
        fn $name(
            x: &[u8],
            y: &[u8],
            rng: &mut impl CryptoRngCore,
        ) -> Result<EcdhOut, CredentialError> {
            use $curve::elliptic_curve::sec1::ToEncodedPoint;
            let ek = $curve::PublicKey::from_sec1_bytes(&sec1(x, y, $len)?).map_err(|_| {
                CredentialError::UnsuitableEk(Cow::Borrowed("EK point is not on the curve"))
            })?;
            let eph = $curve::ecdh::EphemeralSecret::random(rng);
            let eph_pub = eph.public_key().to_encoded_point(false);
            let shared = eph.diffie_hellman(&ek);
            let ek_point = ek.to_encoded_point(false);
            let (ex, ey) = (eph_pub.x(), eph_pub.y());
            let ek_x = ek_point.x();
            match (ex, ey, ek_x) {
                (Some(ex), Some(ey), Some(ek_x)) => Ok((
                    shared.raw_secret_bytes().to_vec(),
                    ex.to_vec(),
                    ey.to_vec(),
                    ek_x.to_vec(),
                )),
                _ => Err(CredentialError::Crypto(Cow::Borrowed("point at infinity"))),
            }
        }
    };
}
ecdh_fn!(ecdh_p256, p256, 32);
ecdh_fn!(ecdh_p384, p384, 48);

/// Ephemeral ECDH with ring: the EK point is checked on the curve by ring (`agree_ephemeral`
/// refuses anything else); the ephemeral public key is split into its coordinates.
#[cfg(feature = "ring")]
fn ecdh_ring(
    alg: &'static ring::agreement::Algorithm,
    x: &[u8],
    y: &[u8],
    len: usize,
) -> Result<EcdhOut, CredentialError> {
    use ring::agreement;
    let ek = sec1(x, y, len)?;
    let rng = ring::rand::SystemRandom::new();
    let eph = agreement::EphemeralPrivateKey::generate(alg, &rng)
        .map_err(|_| CredentialError::Crypto(Cow::Borrowed("ephemeral key generation")))?;
    let eph_pub = eph
        .compute_public_key()
        .map_err(|_| CredentialError::Crypto(Cow::Borrowed("ephemeral public key")))?;
    let eph_pub = eph_pub.as_ref();
    if eph_pub.len() != 1 + 2 * len {
        return Err(CredentialError::Crypto(Cow::Borrowed(
            "ephemeral public key",
        )));
    }
    let (ex, ey) = eph_pub[1..].split_at(len);
    let (ex, ey) = (ex.to_vec(), ey.to_vec());
    let z = agreement::agree_ephemeral(eph, &agreement::UnparsedPublicKey::new(alg, &ek), |z| {
        z.to_vec()
    })
    .map_err(|_| CredentialError::UnsuitableEk(Cow::Borrowed("EK point is not on the curve")))?;
    Ok((z, ex, ey, ek[1..=len].to_vec()))
}
