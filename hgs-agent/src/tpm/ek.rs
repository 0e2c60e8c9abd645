//! Endorsement keys: the TCG default EK templates, their public areas, and the EK certificates the
//! manufacturer stored in NV (TCG EK Credential Profile 2.x, §2.2.1.4 low range, §2.2.1.5 high range).

use tss_esapi::abstraction::{ek as tss_ek, AsymmetricAlgorithmSelection};
use tss_esapi::constants::{CapabilityType, PropertyTag};
use tss_esapi::handles::{KeyHandle, NvIndexHandle, NvIndexTpmHandle, ObjectHandle, TpmHandle};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::NvAuth;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::CapabilityData;
use tss_esapi::traits::Marshall;

use super::{tss_err, Result, Tpm, TpmError};

/// An EK profile of the TCG EK Credential Profile: the certificate NV index and, where
/// `tss-esapi` has it, the default template to recreate the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EkProfile {
    /// Template L-1: RSA 2048, low range, certificate at 0x01c00002 (what Windows uses).
    RsaL1,
    /// Template L-2: ECC NIST P-256, low range, certificate at 0x01c0000a.
    EccP256L2,
    /// Template H-1: RSA 2048, high range, certificate at 0x01c00012.
    RsaH1,
    /// Template H-2: ECC NIST P-256, high range, certificate at 0x01c00014.
    EccP256H2,
    /// Template H-3: ECC NIST P-384, certificate at 0x01c00016 (swtpm's ECC EK).
    EccP384H3,
    /// Template H-4: ECC NIST P-521, certificate at 0x01c00018.
    EccP521H4,
    /// Template H-5: ECC SM2 P-256, certificate at 0x01c0001a.
    Sm2H5,
    /// Template H-6: RSA 3072, certificate at 0x01c0001c.
    Rsa3072H6,
    /// Template H-7: RSA 4096, certificate at 0x01c0001e.
    Rsa4096H7,
}

impl EkProfile {
    /// Every profile, low range first.
    pub const ALL: [EkProfile; 9] = [
        EkProfile::RsaL1,
        EkProfile::EccP256L2,
        EkProfile::RsaH1,
        EkProfile::EccP256H2,
        EkProfile::EccP384H3,
        EkProfile::EccP521H4,
        EkProfile::Sm2H5,
        EkProfile::Rsa3072H6,
        EkProfile::Rsa4096H7,
    ];

    /// NV index of the EK certificate for this profile.
    pub fn cert_nv_index(self) -> u32 {
        match self {
            EkProfile::RsaL1 => 0x01c0_0002,
            EkProfile::EccP256L2 => 0x01c0_000a,
            EkProfile::RsaH1 => 0x01c0_0012,
            EkProfile::EccP256H2 => 0x01c0_0014,
            EkProfile::EccP384H3 => 0x01c0_0016,
            EkProfile::EccP521H4 => 0x01c0_0018,
            EkProfile::Sm2H5 => 0x01c0_001a,
            EkProfile::Rsa3072H6 => 0x01c0_001c,
            EkProfile::Rsa4096H7 => 0x01c0_001e,
        }
    }

    /// Short stable name used in JSON (`rsa2048`, `ecc-p256`, `rsa2048-h1`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EkProfile::RsaL1 => "rsa2048",
            EkProfile::EccP256L2 => "ecc-p256",
            EkProfile::RsaH1 => "rsa2048-h1",
            EkProfile::EccP256H2 => "ecc-p256-h2",
            EkProfile::EccP384H3 => "ecc-p384",
            EkProfile::EccP521H4 => "ecc-p521",
            EkProfile::Sm2H5 => "sm2-p256",
            EkProfile::Rsa3072H6 => "rsa3072",
            EkProfile::Rsa4096H7 => "rsa4096",
        }
    }

    /// Parses [`EkProfile::name`].
    pub fn from_name(name: &str) -> Option<EkProfile> {
        EkProfile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// True for ECC profiles.
    pub fn is_ecc(self) -> bool {
        matches!(
            self,
            EkProfile::EccP256L2
                | EkProfile::EccP256H2
                | EkProfile::EccP384H3
                | EkProfile::EccP521H4
                | EkProfile::Sm2H5
        )
    }

    /// The `tss-esapi` default template for this profile, if it has one. H-1 and H-2 differ from
    /// L-1 / L-2 (userWithAuth, policy B) and `tss-esapi` 7.7 has no builder for them.
    fn template(self) -> Option<AsymmetricAlgorithmSelection> {
        match self {
            EkProfile::RsaL1 => Some(AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048)),
            EkProfile::EccP256L2 => Some(AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256)),
            EkProfile::EccP384H3 => Some(AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP384)),
            EkProfile::EccP521H4 => Some(AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP521)),
            EkProfile::Sm2H5 => Some(AsymmetricAlgorithmSelection::Ecc(EccCurve::Sm2P256)),
            EkProfile::Rsa3072H6 => Some(AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa3072)),
            EkProfile::Rsa4096H7 => Some(AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa4096)),
            EkProfile::RsaH1 | EkProfile::EccP256H2 => None,
        }
    }

    /// True when the EK's admin policy is PolicySecret(endorsement) alone (low-range templates),
    /// the only case [`crate::tpm::credential`] and [`crate::tpm::ak`] support as AK parent.
    pub fn is_low_range(self) -> bool {
        matches!(self, EkProfile::RsaL1 | EkProfile::EccP256L2)
    }
}

impl std::fmt::Display for EkProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Marshals a public area as TPM2B_PUBLIC (2-byte big-endian size, then TPMT_PUBLIC).
pub fn tpm2b_public(public: &tss_esapi::structures::Public) -> Result<Vec<u8>> {
    let tpmt = public.marshall().map_err(tss_err("marshal TPMT_PUBLIC"))?;
    let len = u16::try_from(tpmt.len()).map_err(|_| TpmError::Unexpected {
        op: "marshal TPM2B_PUBLIC".into(),
        message: format!("public area of {} bytes does not fit a TPM2B", tpmt.len()),
    })?;
    let mut out = Vec::with_capacity(tpmt.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&tpmt);
    Ok(out)
}

/// Creates the EK of `profile` (a primary key in the endorsement hierarchy) as a transient object.
/// The caller must flush it; prefer [`with_ek`].
pub fn create_ek(tpm: &mut Tpm, profile: EkProfile) -> Result<KeyHandle> {
    let alg = profile.template().ok_or_else(|| TpmError::Unexpected {
        op: format!("create EK {profile}"),
        message: "no default template available for this profile".into(),
    })?;
    tss_ek::create_ek_object_2(tpm.context(), alg, None)
        .map_err(tss_err(format!("TPM2_CreatePrimary (EK {profile})")))
}

/// Creates the EK of `profile`, runs `f` with its handle, and flushes it whatever `f` returns.
pub fn with_ek<T>(
    tpm: &mut Tpm,
    profile: EkProfile,
    f: impl FnOnce(&mut Tpm, KeyHandle) -> Result<T>,
) -> Result<T> {
    let ek = create_ek(tpm, profile)?;
    let out = f(tpm, ek);
    tpm.flush_quietly(ObjectHandle::from(ek));
    out
}

/// The EK public area of `profile` as TPM2B_PUBLIC bytes.
pub fn ek_public(tpm: &mut Tpm, profile: EkProfile) -> Result<Vec<u8>> {
    with_ek(tpm, profile, |tpm, ek| {
        let (public, _, _) = tpm
            .context()
            .read_public(ek)
            .map_err(tss_err("TPM2_ReadPublic (EK)"))?;
        tpm2b_public(&public)
    })
}

/// NV indices defined on the TPM in the TCG EK-certificate range 0x01c00000..0x01c07fff.
pub fn defined_ek_nv_indices(tpm: &mut Tpm) -> Result<Vec<u32>> {
    /// Upper bound on the indices one TPM2_GetCapability call returns per round; the loop
    /// continues while the TPM says more data is available.
    const BATCH: u32 = 64;
    let mut out = Vec::new();
    let mut next = 0x01c0_0000u32;
    loop {
        let (data, more) = tpm
            .context()
            .get_capability(CapabilityType::Handles, next, BATCH)
            .map_err(tss_err("TPM2_GetCapability(handles, NV)"))?;
        let CapabilityData::Handles(list) = data else {
            return Err(TpmError::Unexpected {
                op: "TPM2_GetCapability(handles, NV)".into(),
                message: "TPM returned another capability".into(),
            });
        };
        let handles: Vec<u32> = list.into_inner().into_iter().map(u32::from).collect();
        let Some(&last) = handles.last() else { break };
        out.extend(
            handles
                .iter()
                .copied()
                .filter(|h| (0x01c0_0000..0x01c0_8000).contains(h)),
        );
        if !more || last >= 0x01c0_7fff {
            break;
        }
        next = last.saturating_add(1);
    }
    Ok(out)
}

/// Reads a whole NV index, in chunks of at most TPM_PT_NV_BUFFER_MAX bytes. Tries the index's own
/// (empty) authorization first, then the owner's.
pub fn nv_read_all(tpm: &mut Tpm, index: u32) -> Result<Vec<u8>> {
    let op = format!("read NV index {index:#010x}");
    let tpm_handle = NvIndexTpmHandle::new(index).map_err(tss_err(op.clone()))?;
    let max = tpm
        .context()
        .get_tpm_property(PropertyTag::NvBufferMax)
        .map_err(tss_err("TPM2_GetCapability(TPM_PT_NV_BUFFER_MAX)"))?
        .unwrap_or(512);
    // 1024 is the largest buffer TPM 2.0 defines (MAX_NV_BUFFER_SIZE); never ask for more.
    let chunk = max.clamp(1, 1024) as usize;

    let mut esys = tpm
        .context()
        .execute_without_session(|ctx| ctx.tr_from_tpm_public(TpmHandle::NvIndex(tpm_handle)))
        .map_err(tss_err(format!("{op}: TR_FromTPMPublic")))?;
    let result = (|| {
        let nv_handle = NvIndexHandle::from(esys);
        let (public, _) = tpm
            .context()
            .execute_without_session(|ctx| ctx.nv_read_public(nv_handle))
            .map_err(tss_err(format!("{op}: TPM2_NV_ReadPublic")))?;
        let size = public.data_size();
        let read_with = |tpm: &mut Tpm, auth: NvAuth| -> Result<Vec<u8>> {
            let mut data = Vec::with_capacity(size);
            while data.len() < size {
                let n = (size - data.len()).min(chunk);
                let (n16, off16) = (
                    u16::try_from(n).unwrap_or(u16::MAX),
                    u16::try_from(data.len()).map_err(|_| TpmError::Unexpected {
                        op: op.clone(),
                        message: format!("NV index larger than 64 KiB ({size} bytes)"),
                    })?,
                );
                let part = tpm
                    .context()
                    .execute_with_session(Some(AuthSession::Password), |ctx| {
                        ctx.nv_read(auth, nv_handle, n16, off16)
                    })
                    .map_err(tss_err(format!("{op}: TPM2_NV_Read at offset {off16}")))?;
                if part.is_empty() {
                    return Err(TpmError::Unexpected {
                        op: op.clone(),
                        message: "TPM returned an empty chunk".into(),
                    });
                }
                data.extend_from_slice(&part);
            }
            Ok(data)
        };
        match read_with(tpm, NvAuth::NvIndex(nv_handle)) {
            Ok(d) => Ok(d),
            Err(first) => read_with(tpm, NvAuth::Owner).map_err(|_| first),
        }
    })();
    let _ = tpm.context().tr_close(&mut esys);
    result
}

/// One EK of the platform: its profile, public area and certificate, as found on the TPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkEntry {
    /// The EK profile.
    pub profile: EkProfile,
    /// NV index where its certificate lives (or would live).
    pub cert_nv_index: u32,
    /// TPM2B_PUBLIC of the EK, when the template is known and the TPM could create it.
    pub public: Option<Vec<u8>>,
    /// Why `public` is absent, if it is.
    pub public_error: Option<String>,
    /// The DER EK certificate read from NV, if the index is defined.
    pub certificate: Option<Vec<u8>>,
}

/// Everything needed for a platform identifier: the RSA-2048 EK (always), the ECC P-256 EK
/// (when the TPM supports it), and every other profile whose certificate index is defined.
pub fn platform_eks(tpm: &mut Tpm) -> Result<Vec<EkEntry>> {
    let defined = defined_ek_nv_indices(tpm)?;
    let mut out = Vec::new();
    for profile in EkProfile::ALL {
        let index = profile.cert_nv_index();
        let has_cert = defined.contains(&index);
        let always = matches!(profile, EkProfile::RsaL1 | EkProfile::EccP256L2);
        if !has_cert && !always {
            continue;
        }
        let certificate = if has_cert {
            Some(nv_read_all(tpm, index)?)
        } else {
            None
        };
        let (public, public_error) = if profile.template().is_some() {
            match ek_public(tpm, profile) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (
                None,
                Some("tss-esapi has no default template for this profile".into()),
            )
        };
        // An ECC P-256 EK the TPM cannot create and that has no certificate is simply absent.
        if profile == EkProfile::EccP256L2 && public.is_none() && certificate.is_none() {
            continue;
        }
        out.push(EkEntry {
            profile,
            cert_nv_index: index,
            public,
            public_error,
            certificate,
        });
    }
    Ok(out)
}
