//! A software attestation key (feature `soft`): a P-256 restricted signing key that produces
//! TPMS_ATTEST quotes and TPMT_SIGNATUREs exactly as a TPM's TPM2_Quote would, over PCR values
//! the caller supplies.
//!
//! For tests and simulations only: it proves nothing about a platform (there is no TPM behind it,
//! and the PCR values are whatever the caller says). It exists so that the verifier's binding and
//! judging can be exercised on synthetic logs, and hosts simulated in numbers, without a TPM.

use ecdsa::signature::hazmat::PrehashSigner;

use crate::alg::{HashAlg, TPM_ALG_ECC, TPM_ALG_ECDSA, TPM_ALG_NULL, TPM_ALG_SHA256};
use crate::attest::{Attest, Attested, ClockInfo, TPM_ST_ATTEST_QUOTE};
use crate::pcr_selection::{PcrSelect, PcrSelection};
use crate::pcr_set::PcrSet;
use crate::public::{EccCurve, ObjectAttributes, Parameters, Public, Scheme, Unique};
use crate::signature::Signature;

/// A software P-256 AK (ECDSA with SHA-256).
#[derive(Debug, Clone)]
pub struct SoftAk {
    key: p256::ecdsa::SigningKey,
    public: Vec<u8>,
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
        Ok(SoftAk { key, public })
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
            clock_info: ClockInfo {
                clock: 1,
                reset_count: 0,
                restart_count: 0,
                safe: true,
            },
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
        let digest = HashAlg::Sha256.hash(&attest);
        let sig: p256::ecdsa::Signature = self
            .key
            .sign_prehash(&digest)
            .map_err(|_| SoftAkError::Sign)?;
        let (r, s) = sig.split_bytes();
        let signature = Signature::Ecdsa {
            hash: TPM_ALG_SHA256,
            r: &r,
            s: &s,
        }
        .encode();
        Ok((attest, signature))
    }
}
