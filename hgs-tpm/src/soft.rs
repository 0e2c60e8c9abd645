//! A software attestation key (feature `soft`): a P-256 restricted signing key that produces
//! TPMS_ATTEST quotes and TPMT_SIGNATUREs exactly as a TPM's TPM2_Quote would, over PCR values
//! the caller supplies; and a software endorsement key ([`SoftEk`]), a P-256 restricted decryption
//! key that recovers credentials as TPM2_ActivateCredential does. The AK also certifies public
//! areas as TPM2_Certify would ([`SoftAk::certify`]), and [`decrypt_key_public`] makes the
//! public area of the decryption key a host binds into its evidence.
//!
//! For tests and simulations only: it proves nothing about a platform (there is no TPM behind it,
//! and the PCR values are whatever the caller says). It exists so that the verifier's binding and
//! judging can be exercised on synthetic logs, and hosts simulated in numbers, without a TPM.

use ecdsa::signature::hazmat::PrehashSigner;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use hmac::Mac;
use p256::elliptic_curve::sec1::ToEncodedPoint;

use crate::alg::{
    HashAlg, TPM_ALG_ECC, TPM_ALG_ECDH, TPM_ALG_ECDSA, TPM_ALG_NULL, TPM_ALG_OAEP, TPM_ALG_RSA,
    TPM_ALG_SHA256,
};
use crate::attest::{Attest, Attested, ClockInfo, TPM_ST_ATTEST_CERTIFY, TPM_ST_ATTEST_QUOTE};
use crate::pcr_selection::{PcrSelect, PcrSelection};
use crate::pcr_set::PcrSet;
use crate::public::{EccCurve, ObjectAttributes, Parameters, Public, PublicKey, Scheme, Unique};
use crate::signature::Signature;

/// A software P-256 AK (ECDSA with SHA-256).
#[derive(Debug, Clone)]
pub struct SoftAk {
    key: p256::ecdsa::SigningKey,
    public: Vec<u8>,
    /// The same key in ring, when [`SoftAk::with_ring`] asked for it.
    #[cfg(feature = "ring")]
    ring: Option<crate::RingP256Signer>,
}

/// Why the software AK cannot be made or cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoftAkError {
    /// The seed is not a valid P-256 scalar.
    #[error("the seed is not a valid P-256 private key")]
    BadSeed,
    /// No value was supplied for a selected PCR.
    #[error("no value for PCR {pcr} of the {} bank", .bank.name())]
    MissingPcrValue {
        /// Bank.
        bank: HashAlg,
        /// PCR.
        pcr: u32,
    },
    /// Signing failed.
    #[error("ECDSA signing failed")]
    Sign,
    /// The public area to certify does not parse, or its nameAlg is not one a Name can be made with.
    #[error("the public area to certify")]
    MalformedPublic(#[source] crate::Error),
}

impl SoftAk {
    /// A key from a 32-byte seed (deterministic: the same seed gives the same AK).
    pub fn from_seed(seed: &[u8; 32]) -> Result<SoftAk, SoftAkError> {
        let key = p256::ecdsa::SigningKey::from_slice(seed).map_err(|_| SoftAkError::BadSeed)?;
        let point = key.verifying_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(SoftAkError::BadSeed);
        };
        let public = Public {
            bytes: &[],
            had_size_prefix: true,
            object_type: TPM_ALG_ECC,
            name_alg: TPM_ALG_SHA256,
            attributes: ObjectAttributes(
                ObjectAttributes::FIXED_TPM
                    | ObjectAttributes::FIXED_PARENT
                    | ObjectAttributes::SENSITIVE_DATA_ORIGIN
                    | ObjectAttributes::USER_WITH_AUTH
                    | ObjectAttributes::RESTRICTED
                    | ObjectAttributes::SIGN_ENCRYPT,
            ),
            auth_policy: &[],
            parameters: Parameters::Ecc {
                symmetric: None,
                scheme: Scheme {
                    scheme: TPM_ALG_ECDSA,
                    hash: TPM_ALG_SHA256,
                    extra: 0,
                },
                curve: EccCurve::NistP256,
                kdf: Scheme {
                    scheme: TPM_ALG_NULL,
                    hash: TPM_ALG_NULL,
                    extra: 0,
                },
            },
            unique: Unique::Ecc { x, y },
        }
        .encode_tpm2b();
        Ok(SoftAk {
            key,
            public,
            #[cfg(feature = "ring")]
            ring: None,
        })
    }

    /// The same AK, signing with ring (feature `ring`): several times faster than RustCrypto's
    /// P-256, for simulated fleets under load. ring draws each signature's nonce from the
    /// operating system, so quotes are no longer deterministic.
    #[cfg(feature = "ring")]
    pub fn with_ring(mut self) -> Result<SoftAk, SoftAkError> {
        self.ring = Some(crate::RingP256Signer::new(&self.key).ok_or(SoftAkError::BadSeed)?);
        Ok(self)
    }

    /// ECDSA P-256 / SHA-256 of `message`: `(r, s)`.
    fn sign(&self, message: &[u8]) -> Result<([u8; 32], [u8; 32]), SoftAkError> {
        #[cfg(feature = "ring")]
        let sig = match &self.ring {
            Some(signer) => signer.sign(message).ok_or(SoftAkError::Sign)?,
            None => self.sign_rustcrypto(message)?,
        };
        #[cfg(not(feature = "ring"))]
        let sig = self.sign_rustcrypto(message)?;
        let (r, s) = sig.split_bytes();
        Ok((r.into(), s.into()))
    }

    fn sign_rustcrypto(&self, message: &[u8]) -> Result<p256::ecdsa::Signature, SoftAkError> {
        self.key
            .sign_prehash(&HashAlg::Sha256.hash(message))
            .map_err(|_| SoftAkError::Sign)
    }

    /// The AK's TPM2B_PUBLIC.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// A quote (TPMS_ATTEST, TPMT_SIGNATURE) over `selection`, carrying `nonce` as extraData,
    /// with `pcr_value(bank, pcr)` as the PCR values, digested with SHA-256 as TPM2_Quote does
    /// (banks in the order given, PCRs ascending).
    pub fn quote<V: AsRef<[u8]>>(
        &self,
        nonce: &[u8],
        selection: &[(HashAlg, PcrSet)],
        pcr_value: impl Fn(HashAlg, u32) -> Option<V>,
    ) -> Result<(Vec<u8>, Vec<u8>), SoftAkError> {
        let mut values = Vec::new();
        for &(bank, pcrs) in selection {
            for pcr in pcrs.iter() {
                values
                    .push(pcr_value(bank, pcr).ok_or(SoftAkError::MissingPcrValue { bank, pcr })?);
            }
        }
        let parts: Vec<&[u8]> = values.iter().map(AsRef::as_ref).collect();
        let pcr_digest = HashAlg::Sha256.hash_parts(&parts);
        let attest = Attest {
            bytes: &[],
            tag: TPM_ST_ATTEST_QUOTE,
            qualified_signer: &[],
            extra_data: nonce,
            clock_info: SOFT_CLOCK,
            firmware_version: 0,
            attested: Attested::Quote {
                selection: PcrSelection {
                    banks: selection
                        .iter()
                        .map(|(b, s)| PcrSelect::new(b.tpm_alg_id(), &s.to_vec()))
                        .collect(),
                },
                pcr_digest: &pcr_digest,
            },
        }
        .encode();
        let signature = self.sign_attestation(&attest)?;
        Ok((attest, signature))
    }

    /// TPM2_Certify of the object whose public area is `certified_public` (TPM2B_PUBLIC or bare
    /// TPMT_PUBLIC), with `nonce` as qualifying data: (TPMS_ATTEST, TPMT_SIGNATURE), as
    /// [`crate::verify_certify`] checks them.
    ///
    /// Unlike a TPM it certifies any public area, loaded nowhere (so tests can make
    /// certifications of keys a TPM would never hold); the qualified Name is synthetic, nameAlg ||
    /// H(Name), since the soft AK has no hierarchy whose parent a real one would hash in.
    pub fn certify(
        &self,
        nonce: &[u8],
        certified_public: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), SoftAkError> {
        let public = Public::parse(certified_public).map_err(SoftAkError::MalformedPublic)?;
        let name = public.name().map_err(SoftAkError::MalformedPublic)?;
        let mut qualified_name = public.name_alg.to_be_bytes().to_vec();
        if let Some(alg) = HashAlg::from_tpm_alg_id(public.name_alg) {
            qualified_name.extend_from_slice(&alg.hash(&name));
        }
        let attest = Attest {
            bytes: &[],
            tag: TPM_ST_ATTEST_CERTIFY,
            qualified_signer: &[],
            extra_data: nonce,
            clock_info: SOFT_CLOCK,
            firmware_version: 0,
            attested: Attested::Certify {
                name: &name,
                qualified_name: &qualified_name,
            },
        }
        .encode();
        let signature = self.sign_attestation(&attest)?;
        Ok((attest, signature))
    }

    /// Signs any bytes as this AK would sign an attestation: a TPMT_SIGNATURE (ECDSA P-256,
    /// SHA-256). A TPM's restricted AK signs only what the TPM made; this signs whatever it is
    /// given, so tests can make signed attestations no TPM would (another type, another Name).
    pub fn sign_attestation(&self, attest: &[u8]) -> Result<Vec<u8>, SoftAkError> {
        let (r, s) = self.sign(attest)?;
        Ok(Signature::Ecdsa {
            hash: TPM_ALG_SHA256,
            r: &r,
            s: &s,
        }
        .encode())
    }
}

/// The clock a soft attestation reports.
const SOFT_CLOCK: ClockInfo = ClockInfo {
    clock: 1,
    reset_count: 0,
    restart_count: 0,
    safe: true,
};

/// The TPMT_PUBLIC a TPM would make for a decryption key `key` (RSA: scheme OAEP/SHA-256,
/// keyBits from the modulus, exponent encoded 0 when 65537; ECC: scheme ECDH/SHA-256, KDF NULL)
/// with `attributes` (normally [`crate::BOUND_KEY_ATTRIBUTES`]) and nameAlg SHA-256: the key a
/// host agent certifies. Tests alter its fields ([`Public`]) for the keys a verifier refuses.
pub fn decrypt_key_public(key: &PublicKey, attributes: ObjectAttributes) -> Vec<u8> {
    let (object_type, parameters, unique) = match key {
        PublicKey::Rsa { modulus, exponent } => (
            TPM_ALG_RSA,
            Parameters::Rsa {
                symmetric: None,
                scheme: Scheme {
                    scheme: TPM_ALG_OAEP,
                    hash: TPM_ALG_SHA256,
                    extra: 0,
                },
                key_bits: u16::try_from(modulus.len() * 8).unwrap_or(u16::MAX),
                exponent: if *exponent == 65537 { 0 } else { *exponent },
            },
            Unique::Rsa(modulus),
        ),
        PublicKey::Ecc { curve, x, y } => (
            TPM_ALG_ECC,
            Parameters::Ecc {
                symmetric: None,
                scheme: Scheme {
                    scheme: TPM_ALG_ECDH,
                    hash: TPM_ALG_SHA256,
                    extra: 0,
                },
                curve: *curve,
                kdf: Scheme {
                    scheme: TPM_ALG_NULL,
                    hash: TPM_ALG_NULL,
                    extra: 0,
                },
            },
            Unique::Ecc { x, y },
        ),
    };
    Public {
        bytes: &[],
        had_size_prefix: false,
        object_type,
        name_alg: TPM_ALG_SHA256,
        attributes,
        auth_policy: &[],
        parameters,
        unique,
    }
    .encode_tpmt()
}

/// A software endorsement key: ECC P-256, nameAlg SHA-256, AES-128-CFB, the attributes and
/// authPolicy of the TCG EK template (L-2), so a verifier's TPM2_MakeCredential accepts it.
///
/// P-256 rather than RSA-2048 (which most real EKs are): generating one is instant, so a
/// simulated fleet of thousands of hosts starts at once; real RSA EKs are covered by swtpm tests.
#[derive(Debug, Clone)]
pub struct SoftEk {
    key: p256::SecretKey,
    x: [u8; 32],
    public: Vec<u8>,
}

/// Why the software EK cannot be made or refuses a credential (TPM2_ActivateCredential's errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoftEkError {
    /// The seed is not a valid P-256 scalar.
    #[error("the seed is not a valid P-256 private key")]
    BadSeed,
    /// The encrypted secret is not a TPMS_ECC_POINT of two 32-byte-or-shorter coordinates.
    #[error("the encrypted secret is not a P-256 TPMS_ECC_POINT")]
    MalformedSecret,
    /// The encrypted secret's point is not on P-256 (TPM_RC_ECC_POINT).
    #[error("the encrypted secret's point is not on P-256")]
    PointNotOnCurve,
    /// The credential blob is not TPM2B_DIGEST(integrity) || encIdentity (TPM_RC_SIZE).
    #[error("the credential blob is not an integrity HMAC followed by an encrypted identity")]
    MalformedBlob,
    /// The integrity HMAC does not match: the credential was made for another EK or another
    /// object name (TPM_RC_INTEGRITY).
    #[error("credential integrity check failed: made for another EK or another AK name")]
    Integrity,
    /// The decrypted identity is not a TPM2B_DIGEST of at most 32 bytes.
    #[error("the decrypted credential is not a TPM2B_DIGEST")]
    MalformedIdentity,
}

impl SoftEk {
    /// A key from a 32-byte seed (deterministic: the same seed gives the same EK).
    pub fn from_seed(seed: &[u8; 32]) -> Result<SoftEk, SoftEkError> {
        let key = p256::SecretKey::from_slice(seed).map_err(|_| SoftEkError::BadSeed)?;
        let point = key.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(SoftEkError::BadSeed);
        };
        let public = crate::ek_template::ek_p256_public(x, y);
        let mut ek_x = [0u8; 32];
        ek_x.copy_from_slice(x);
        Ok(SoftEk {
            key,
            x: ek_x,
            public,
        })
    }

    /// The EK's TPM2B_PUBLIC.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// TPM2_ActivateCredential for the object named `ak_name` (nameAlg || digest): recovers the
    /// secret from `credential_blob` (TPM2B_ID_OBJECT contents) and `encrypted_secret`
    /// (TPM2B_ENCRYPTED_SECRET contents, the ephemeral TPMS_ECC_POINT).
    ///
    /// seed = KDFe(SHA-256, ECDH(EK, ephemeral).x, "IDENTITY", ephemeral.x, EK.x); the integrity
    /// HMAC (key KDFa(seed, "INTEGRITY")) over encIdentity || `ak_name` is checked in constant time
    /// before anything is decrypted; then AES-128-CFB with KDFa(seed, "STORAGE", `ak_name`), IV 0.
    pub fn activate_credential(
        &self,
        ak_name: &[u8],
        credential_blob: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Vec<u8>, SoftEkError> {
        let (ex, rest) = split_tpm2b(encrypted_secret).ok_or(SoftEkError::MalformedSecret)?;
        let (ey, rest) = split_tpm2b(rest).ok_or(SoftEkError::MalformedSecret)?;
        if !rest.is_empty() || ex.len() > 32 || ey.len() > 32 {
            return Err(SoftEkError::MalformedSecret);
        }
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[33 - ex.len()..33].copy_from_slice(ex);
        sec1[65 - ey.len()..].copy_from_slice(ey);
        let eph =
            p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| SoftEkError::PointNotOnCurve)?;
        let z = p256::ecdh::diffie_hellman(self.key.to_nonzero_scalar(), eph.as_affine());
        let seed = kdfe_sha256(z.raw_secret_bytes(), "IDENTITY", &sec1[1..33], &self.x, 256);

        let (integrity, enc_identity) =
            split_tpm2b(credential_blob).ok_or(SoftEkError::MalformedBlob)?;
        if enc_identity.len() < 2 {
            return Err(SoftEkError::MalformedBlob);
        }
        let hmac_key = kdfa_sha256(&seed, "INTEGRITY", &[], &[], 256);
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(&hmac_key)
                .map_err(|_| SoftEkError::Integrity)?;
        mac.update(enc_identity);
        mac.update(ak_name);
        mac.verify_slice(integrity)
            .map_err(|_| SoftEkError::Integrity)?;

        let sym_key = kdfa_sha256(&seed, "STORAGE", ak_name, &[], 128);
        let mut plain = enc_identity.to_vec();
        cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(&sym_key, &[0u8; 16])
            .map_err(|_| SoftEkError::MalformedIdentity)?
            .decrypt(&mut plain);
        let (secret, rest) = split_tpm2b(&plain).ok_or(SoftEkError::MalformedIdentity)?;
        if !rest.is_empty() || secret.len() > 32 {
            return Err(SoftEkError::MalformedIdentity);
        }
        Ok(secret.to_vec())
    }
}

/// Splits a TPM2B (u16 BE size, then that many bytes) off the front of `b`.
fn split_tpm2b(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (size, rest) = b.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*size));
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback is unreachable.
    let mut m = <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| {
            <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new(&[0u8; 64].into())
        });
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// KDFa with SHA-256 (TPM 2.0 Part 1 §11.4.10.2), `label` without its NUL.
fn kdfa_sha256(key: &[u8], label: &str, u: &[u8], v: &[u8], bits: u32) -> Vec<u8> {
    let bytes = bits.div_ceil(8) as usize;
    let mut out = Vec::with_capacity(bytes + 32);
    let mut counter: u32 = 0;
    while out.len() < bytes {
        counter += 1;
        out.extend_from_slice(&hmac_sha256(
            key,
            &[
                &counter.to_be_bytes(),
                label.as_bytes(),
                &[0],
                u,
                v,
                &bits.to_be_bytes(),
            ],
        ));
    }
    out.truncate(bytes);
    out
}

/// KDFe with SHA-256 (TPM 2.0 Part 1 §11.4.10.3), `label` without its NUL.
fn kdfe_sha256(z: &[u8], label: &str, u: &[u8], v: &[u8], bits: u32) -> Vec<u8> {
    let bytes = bits.div_ceil(8) as usize;
    let mut out = Vec::with_capacity(bytes + 32);
    let mut counter: u32 = 0;
    while out.len() < bytes {
        counter += 1;
        out.extend_from_slice(&HashAlg::Sha256.hash_parts(&[
            &counter.to_be_bytes(),
            z,
            label.as_bytes(),
            &[0],
            u,
            v,
        ]));
    }
    out.truncate(bytes);
    out
}
