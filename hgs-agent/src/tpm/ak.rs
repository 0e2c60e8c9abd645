//! The attestation key: a restricted signing key created under the EK, kept between runs as its
//! public and (TPM-encrypted) private blobs in a state file.
//!
//! Why blobs and not a persistent handle or a saved context: a saved *context* of a transient
//! object is invalidated by every TPM reset (reboot), and a persistent handle needs owner
//! authorization and a free NV slot. The `TPM2_Create` output (public + private wrapped by the EK)
//! survives reboots, needs no NV, and is reloaded under the (deterministic) EK in one
//! `TPM2_Load`, the way tpm2-tools' `tpm2_createak -r ak.priv -u ak.pub` works.

use std::convert::TryFrom;

use serde::{Deserialize, Serialize};
use tss_esapi::abstraction::{ak as tss_ak, AsymmetricAlgorithmSelection};
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, SignatureSchemeAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::structures::{Private, Public};
use tss_esapi::traits::UnMarshall;

use super::ek::{tpm2b_public, with_ek, EkProfile};
use super::{tss_err, Result, Tpm, TpmError};

/// Current value of [`AkState::format`].
pub const AK_STATE_FORMAT: &str = "hgs-ak-state/1";

/// What `hgs agent ak` saves and `hgs agent attest` reloads (JSON, bytes as lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AkState {
    /// Always [`AK_STATE_FORMAT`].
    pub format: String,
    /// Name of the parent EK profile ([`EkProfile::name`]).
    pub ek_profile: String,
    /// TPM2B_PUBLIC of the AK (hex).
    pub public: String,
    /// TPM2B_PRIVATE contents of the AK, encrypted by the TPM under the EK (hex).
    pub private: String,
    /// TPM name of the AK: nameAlg || H(TPMT_PUBLIC) (hex).
    pub name: String,
}

/// The AK algorithm for a parent EK: RSA 2048 RSASSA-SHA256 under an RSA EK, ECC P-256
/// ECDSA-SHA256 under an ECC EK.
fn ak_algorithm(ek: EkProfile) -> (AsymmetricAlgorithmSelection, SignatureSchemeAlgorithm) {
    if ek.is_ecc() {
        (
            AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
            SignatureSchemeAlgorithm::EcDsa,
        )
    } else {
        (
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
            SignatureSchemeAlgorithm::RsaSsa,
        )
    }
}

fn require_low_range(ek: EkProfile) -> Result<()> {
    if ek.is_low_range() {
        Ok(())
    } else {
        Err(TpmError::Unexpected {
            op: format!("AK under EK {ek}"),
            message: "only the low-range EKs (rsa2048, ecc-p256) are supported as AK parent".into(),
        })
    }
}

/// Creates a new AK under the EK of `ek` and returns its saved state.
pub fn create_ak(tpm: &mut Tpm, ek: EkProfile) -> Result<AkState> {
    require_low_range(ek)?;
    let (alg, scheme) = ak_algorithm(ek);
    let created = with_ek(tpm, ek, |tpm, ek_handle| {
        tss_ak::create_ak_2(
            tpm.context(),
            ek_handle,
            HashingAlgorithm::Sha256,
            alg,
            scheme,
            None,
            None,
        )
        .map_err(tss_err("TPM2_Create (AK under EK)"))
    })?;
    let name = super::ak::name_of(&created.out_public)?;
    Ok(AkState {
        format: AK_STATE_FORMAT.to_string(),
        ek_profile: ek.name().to_string(),
        public: hex(&tpm2b_public(&created.out_public)?),
        private: hex(created.out_private.value()),
        name: hex(&name),
    })
}

/// TPM name of a public area: nameAlg (big-endian) || nameAlg-hash of TPMT_PUBLIC.
pub fn name_of(public: &Public) -> Result<Vec<u8>> {
    use sha2::Digest as _;
    use tss_esapi::traits::Marshall;
    let tpmt = public.marshall().map_err(tss_err("marshal TPMT_PUBLIC"))?;
    let (alg_id, digest): (u16, Vec<u8>) = match public.name_hashing_algorithm() {
        HashingAlgorithm::Sha256 => (0x000b, sha2::Sha256::digest(&tpmt).to_vec()),
        HashingAlgorithm::Sha384 => (0x000c, sha2::Sha384::digest(&tpmt).to_vec()),
        HashingAlgorithm::Sha512 => (0x000d, sha2::Sha512::digest(&tpmt).to_vec()),
        HashingAlgorithm::Sha1 => (0x0004, sha1::Sha1::digest(&tpmt).to_vec()),
        other => {
            return Err(TpmError::Unexpected {
                op: "compute TPM name".into(),
                message: format!("unsupported name algorithm {other:?}"),
            })
        }
    };
    let mut name = alg_id.to_be_bytes().to_vec();
    name.extend_from_slice(&digest);
    Ok(name)
}

/// Decoded pieces of an [`AkState`].
#[derive(Debug)]
pub struct LoadedAkParts {
    /// Parent EK profile.
    pub ek: EkProfile,
    /// The AK public area.
    pub public: Public,
    /// The AK private blob.
    pub private: Private,
}

impl AkState {
    /// Decodes the hex fields.
    pub fn decode(&self) -> Result<LoadedAkParts> {
        let bad = |m: String| TpmError::Unexpected {
            op: "read AK state".into(),
            message: m,
        };
        if self.format != AK_STATE_FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {AK_STATE_FORMAT:?}",
                self.format
            )));
        }
        let ek = EkProfile::from_name(&self.ek_profile)
            .ok_or_else(|| bad(format!("unknown EK profile {:?}", self.ek_profile)))?;
        let public = unhex(&self.public).ok_or_else(|| bad("public is not hex".into()))?;
        let private = unhex(&self.private).ok_or_else(|| bad("private is not hex".into()))?;
        if public.len() < 2 {
            return Err(bad("public too short".into()));
        }
        let public = Public::unmarshall(&public[2..]).map_err(tss_err("unmarshal AK public"))?;
        let private = Private::try_from(private).map_err(tss_err("AK private blob"))?;
        Ok(LoadedAkParts {
            ek,
            public,
            private,
        })
    }

    /// The AK's TPM2B_PUBLIC bytes.
    pub fn public_bytes(&self) -> Option<Vec<u8>> {
        unhex(&self.public)
    }
}

/// Loads the AK under a freshly created EK, runs `f(tpm, ek, ak)`, then flushes both.
pub fn with_loaded_ak<T>(
    tpm: &mut Tpm,
    state: &AkState,
    f: impl FnOnce(&mut Tpm, KeyHandle, KeyHandle) -> Result<T>,
) -> Result<T> {
    let parts = state.decode()?;
    require_low_range(parts.ek)?;
    with_ek(tpm, parts.ek, |tpm, ek| {
        let ak = tss_ak::load_ak(tpm.context(), ek, None, parts.private, parts.public)
            .map_err(tss_err("TPM2_Load (AK under EK)"))?;
        let out = f(tpm, ek, ak);
        tpm.flush_quietly(ObjectHandle::from(ak));
        out
    })
}

pub use crate::hex::{hex, unhex};
