//! Windows Boot Configuration Log (WBCL) SIPA records inside EV_EVENT_TAG events.
//!
//! A SIPA record is `{u32 id, u32 size, u8 data[size]}` (little-endian). An id with the
//! aggregation flag `0x40000000` carries nested records; the category is `(id >> 16) & 0xF`
//! (1 container, 2 information, 4 pre-OS parameter, 5 OS parameter, 6 authority, 7 loaded module,
//! 8 trust point, 9 ELAM, 0xA VBS, 0xB KSR, 0xC DRTM). IDs and payloads: Microsoft's `wbcl.h`;
//! see `shared/research/tcglog.md` §5. EV_EVENT_TAG on PCR 9 from the Linux EFI stub is *not*
//! SIPA; [`is_sipa_event`] says which events are.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::event_type::EventType;

/// `SIPAEVENTTYPE_AGGREGATION`: the record's data is a sequence of nested records.
pub const AGGREGATION: u32 = 0x4000_0000;
/// `SIPAEVENTTYPE_NONMEASURED`.
pub const NONMEASURED: u32 = 0x8000_0000;
/// Deepest nesting accepted: real logs nest 3 deep (trust boundary > loaded module / ELAM);
/// go-attestation caps at 8. Bounds recursion an attacker could otherwise control.
pub const MAX_DEPTH: usize = 8;
/// Most records visited in one event (real containers hold at most a few thousand).
pub const MAX_RECORDS: usize = 1 << 20;

macro_rules! sipa_ids {
    ($( $name:ident = $value:expr, $text:expr; )*) => {
        /// Well-known SIPA event ids.
        pub mod id {
            $( #[doc = $text] pub const $name: u32 = $value; )*
        }
        /// The wbcl.h name of a SIPA id (without the `SIPAEVENT_` prefix), if known.
        pub fn name_of(id: u32) -> Option<&'static str> {
            match id {
                $( $value => Some($text), )*
                _ => None,
            }
        }
    };
}

sipa_ids! {
    TRUSTBOUNDARY = 0x4001_0001, "TRUSTBOUNDARY";
    ELAM_AGGREGATION = 0x4001_0002, "ELAM_AGGREGATION";
    LOADEDMODULE_AGGREGATION = 0x4001_0003, "LOADEDMODULE_AGGREGATION";
    TRUSTPOINT_AGGREGATION = 0xC001_0004, "TRUSTPOINT_AGGREGATION";
    KSR_AGGREGATION = 0x4001_0005, "KSR_AGGREGATION";
    KSR_SIGNED_MEASUREMENT_AGGREGATION = 0x4001_0006, "KSR_SIGNED_MEASUREMENT_AGGREGATION";
    INFORMATION = 0x0002_0001, "INFORMATION";
    BOOTCOUNTER = 0x0002_0002, "BOOTCOUNTER";
    TRANSFER_CONTROL = 0x0002_0003, "TRANSFER_CONTROL";
    APPLICATION_RETURN = 0x0002_0004, "APPLICATION_RETURN";
    BITLOCKER_UNLOCK = 0x0002_0005, "BITLOCKER_UNLOCK";
    EVENTCOUNTER = 0x0002_0006, "EVENTCOUNTER";
    COUNTERID = 0x0002_0007, "COUNTERID";
    MORBIT_NOT_CANCELABLE = 0x0002_0008, "MORBIT_NOT_CANCELABLE";
    APPLICATION_SVN = 0x0002_0009, "APPLICATION_SVN";
    SVN_CHAIN_STATUS = 0x0002_000A, "SVN_CHAIN_STATUS";
    MORBIT_API_STATUS = 0x0002_000B, "MORBIT_API_STATUS";
    BOOTDEBUGGING = 0x0004_0001, "BOOTDEBUGGING";
    BOOT_REVOCATION_LIST = 0x0004_0002, "BOOT_REVOCATION_LIST";
    OSKERNELDEBUG = 0x0005_0001, "OSKERNELDEBUG";
    CODEINTEGRITY = 0x0005_0002, "CODEINTEGRITY";
    TESTSIGNING = 0x0005_0003, "TESTSIGNING";
    DATAEXECUTIONPREVENTION = 0x0005_0004, "DATAEXECUTIONPREVENTION";
    SAFEMODE = 0x0005_0005, "SAFEMODE";
    WINPE = 0x0005_0006, "WINPE";
    PHYSICALADDRESSEXTENSION = 0x0005_0007, "PHYSICALADDRESSEXTENSION";
    OSDEVICE = 0x0005_0008, "OSDEVICE";
    SYSTEMROOT = 0x0005_0009, "SYSTEMROOT";
    HYPERVISOR_LAUNCH_TYPE = 0x0005_000A, "HYPERVISOR_LAUNCH_TYPE";
    HYPERVISOR_PATH = 0x0005_000B, "HYPERVISOR_PATH";
    HYPERVISOR_IOMMU_POLICY = 0x0005_000C, "HYPERVISOR_IOMMU_POLICY";
    HYPERVISOR_DEBUG = 0x0005_000D, "HYPERVISOR_DEBUG";
    DRIVER_LOAD_POLICY = 0x0005_000E, "DRIVER_LOAD_POLICY";
    SI_POLICY = 0x0005_000F, "SI_POLICY";
    HYPERVISOR_MMIO_NX_POLICY = 0x0005_0010, "HYPERVISOR_MMIO_NX_POLICY";
    HYPERVISOR_MSR_FILTER_POLICY = 0x0005_0011, "HYPERVISOR_MSR_FILTER_POLICY";
    VSM_LAUNCH_TYPE = 0x0005_0012, "VSM_LAUNCH_TYPE";
    OS_REVOCATION_LIST = 0x0005_0013, "OS_REVOCATION_LIST";
    SMT_STATUS = 0x0005_0014, "SMT_STATUS";
    VSM_IDK_INFO = 0x0005_0020, "VSM_IDK_INFO";
    FLIGHTSIGNING = 0x0005_0021, "FLIGHTSIGNING";
    PAGEFILE_ENCRYPTION_ENABLED = 0x0005_0022, "PAGEFILE_ENCRYPTION_ENABLED";
    VSM_IDKS_INFO = 0x0005_0023, "VSM_IDKS_INFO";
    HIBERNATION_DISABLED = 0x0005_0024, "HIBERNATION_DISABLED";
    DUMPS_DISABLED = 0x0005_0025, "DUMPS_DISABLED";
    DUMP_ENCRYPTION_ENABLED = 0x0005_0026, "DUMP_ENCRYPTION_ENABLED";
    DUMP_ENCRYPTION_KEY_DIGEST = 0x0005_0027, "DUMP_ENCRYPTION_KEY_DIGEST";
    LSAISO_CONFIG = 0x0005_0028, "LSAISO_CONFIG";
    SBCP_INFO = 0x0005_0029, "SBCP_INFO";
    HYPERVISOR_BOOT_DMA_PROTECTION = 0x0005_0030, "HYPERVISOR_BOOT_DMA_PROTECTION";
    NOAUTHORITY = 0x0006_0001, "NOAUTHORITY";
    AUTHORITYPUBKEY = 0x0006_0002, "AUTHORITYPUBKEY";
    FILEPATH = 0x0007_0001, "FILEPATH";
    IMAGESIZE = 0x0007_0002, "IMAGESIZE";
    HASHALGORITHMID = 0x0007_0003, "HASHALGORITHMID";
    AUTHENTICODEHASH = 0x0007_0004, "AUTHENTICODEHASH";
    AUTHORITYISSUER = 0x0007_0005, "AUTHORITYISSUER";
    AUTHORITYSERIAL = 0x0007_0006, "AUTHORITYSERIAL";
    IMAGEBASE = 0x0007_0007, "IMAGEBASE";
    AUTHORITYPUBLISHER = 0x0007_0008, "AUTHORITYPUBLISHER";
    AUTHORITYSHA1THUMBPRINT = 0x0007_0009, "AUTHORITYSHA1THUMBPRINT";
    IMAGEVALIDATED = 0x0007_000A, "IMAGEVALIDATED";
    MODULE_SVN = 0x0007_000B, "MODULE_SVN";
    QUOTE = 0x8008_0001, "QUOTE";
    QUOTESIGNATURE = 0x8008_0002, "QUOTESIGNATURE";
    AIKID = 0x8008_0003, "AIKID";
    AIKPUBDIGEST = 0x8008_0004, "AIKPUBDIGEST";
    ELAM_KEYNAME = 0x0009_0001, "ELAM_KEYNAME";
    ELAM_CONFIGURATION = 0x0009_0002, "ELAM_CONFIGURATION";
    ELAM_POLICY = 0x0009_0003, "ELAM_POLICY";
    ELAM_MEASURED = 0x0009_0004, "ELAM_MEASURED";
    VBS_VSM_REQUIRED = 0x000A_0001, "VBS_VSM_REQUIRED";
    VBS_SECUREBOOT_REQUIRED = 0x000A_0002, "VBS_SECUREBOOT_REQUIRED";
    VBS_IOMMU_REQUIRED = 0x000A_0003, "VBS_IOMMU_REQUIRED";
    VBS_MMIO_NX_REQUIRED = 0x000A_0004, "VBS_MMIO_NX_REQUIRED";
    VBS_MSR_FILTERING_REQUIRED = 0x000A_0005, "VBS_MSR_FILTERING_REQUIRED";
    VBS_MANDATORY_ENFORCEMENT = 0x000A_0006, "VBS_MANDATORY_ENFORCEMENT";
    VBS_HVCI_POLICY = 0x000A_0007, "VBS_HVCI_POLICY";
    VBS_MICROSOFT_BOOT_CHAIN_REQUIRED = 0x000A_0008, "VBS_MICROSOFT_BOOT_CHAIN_REQUIRED";
    VBS_DUMP_USES_AMEROOT = 0x000A_0009, "VBS_DUMP_USES_AMEROOT";
    VBS_VSM_NOSECRETS_ENFORCED = 0x000A_000A, "VBS_VSM_NOSECRETS_ENFORCED";
    KSR_SIGNATURE = 0x000B_0001, "KSR_SIGNATURE";
}

/// One SIPA record, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The SIPA id.
    pub id: u32,
    /// Its data (nested records for aggregations).
    pub data: &'a [u8],
    /// Offset of the record inside the event data.
    pub offset: usize,
    /// Nesting depth (0 = top level of the event data).
    pub depth: usize,
}

impl<'a> Record<'a> {
    /// Whether the data holds nested records.
    pub fn is_aggregation(&self) -> bool {
        self.id & AGGREGATION != 0
    }

    /// The category nibble (`(id >> 16) & 0xF`).
    pub fn category(&self) -> u32 {
        (self.id >> 16) & 0xF
    }

    /// The data as a little-endian unsigned integer of 1 to 8 bytes.
    pub fn as_uint(&self) -> Option<u64> {
        if self.data.is_empty() || self.data.len() > 8 {
            return None;
        }
        let mut b = [0u8; 8];
        b[..self.data.len()].copy_from_slice(self.data);
        Some(u64::from_le_bytes(b))
    }

    /// The data as a boolean (any non-zero integer is true).
    pub fn as_bool(&self) -> Option<bool> {
        self.as_uint().map(|v| v != 0)
    }

    /// The data as UTF-16LE text (trailing NULs removed).
    pub fn as_utf16(&self) -> String {
        crate::uefi::utf16_trimmed(self.data)
    }
}

/// Whether an event carries SIPA records: EV_EVENT_TAG on PCRs 12–14 (Windows' boot configuration
/// PCRs), or EV_NO_ACTION / EV_EVENT_TAG on PCR 0xFFFFFFFF (trust points). EV_EVENT_TAG on PCR 9
/// (Linux EFI stub) or elsewhere is not.
pub fn is_sipa_event(event: &Event<'_>) -> bool {
    match event.event_type {
        EventType::EventTag => (12..=14).contains(&event.pcr) || event.pcr == u32::MAX,
        EventType::NoAction => event.pcr == u32::MAX,
        _ => false,
    }
}

/// Visits every record of `data` depth-first (containers before their children). Sizes are
/// checked against the enclosing record; nesting beyond [`MAX_DEPTH`] is an error.
pub fn walk<'a>(
    data: &'a [u8],
    event_index: u32,
    mut visit: impl FnMut(&Record<'a>),
) -> Result<()> {
    let mut count = 0usize;
    walk_level(data, 0, 0, event_index, &mut count, &mut visit)
}

fn walk_level<'a>(
    data: &'a [u8],
    base: usize,
    depth: usize,
    index: u32,
    count: &mut usize,
    visit: &mut impl FnMut(&Record<'a>),
) -> Result<()> {
    let bad = |data_offset: usize, reason: &'static str| Error::BadEventData {
        index,
        what: Cow::Borrowed("SIPA record"),
        data_offset,
        reason: reason.into(),
    };
    if depth > MAX_DEPTH {
        return Err(bad(base, "nesting deeper than MAX_DEPTH"));
    }
    let mut off = 0usize;
    while off < data.len() {
        let head = data
            .get(off..off + 8)
            .ok_or_else(|| bad(base + off, "record header runs past its container"))?;
        let id = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let body = data
            .get(off + 8..)
            .and_then(|r| r.get(..size))
            .ok_or_else(|| bad(base + off, "record size overflows its container"))?;
        *count += 1;
        if *count > MAX_RECORDS {
            return Err(bad(base + off, "too many records"));
        }
        let rec = Record {
            id,
            data: body,
            offset: base + off,
            depth,
        };
        visit(&rec);
        if rec.is_aggregation() {
            walk_level(body, base + off + 8, depth + 1, index, count, visit)?;
        }
        off += 8 + size;
    }
    Ok(())
}

/// SIPAEVENT_SI_POLICY_PAYLOAD: the code integrity policy Windows applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiPolicy {
    /// Policy version as four u16 (a.b.c.d).
    pub version: u64,
    /// Policy name (e.g. "SiPolicy.p7b").
    pub name: String,
    /// Digest algorithm (TPM_ALG_ID).
    pub hash_alg: u16,
    /// Digest of the policy.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub digest: Vec<u8>,
}

impl SiPolicy {
    /// Parses `u64 version, u16 nameLen (bytes), u16 hashAlg, u32 digestLen, name, digest`.
    pub fn parse(data: &[u8], index: u32) -> Result<SiPolicy> {
        let bad = |data_offset: usize, reason: &'static str| Error::BadEventData {
            index,
            what: Cow::Borrowed("SI_POLICY"),
            data_offset,
            reason: reason.into(),
        };
        let version = crate::uefi::u64_at(data, 0).ok_or(bad(0, "truncated"))?;
        let name_len = usize::from(u16::from_le_bytes(
            data.get(8..10)
                .ok_or(bad(8, "truncated"))?
                .try_into()
                .map_err(|_| bad(8, "truncated"))?,
        ));
        let hash_alg = u16::from_le_bytes(
            data.get(10..12)
                .ok_or(bad(10, "truncated"))?
                .try_into()
                .map_err(|_| bad(10, "truncated"))?,
        );
        let digest_len = crate::uefi::u32_at(data, 12).ok_or(bad(12, "truncated"))? as usize;
        if name_len % 2 != 0 {
            return Err(bad(8, "odd UTF-16 name length"));
        }
        let name = data
            .get(16..16 + name_len)
            .ok_or(bad(16, "name runs past the payload"))?;
        let digest = data
            .get(16 + name_len..)
            .and_then(|r| r.get(..digest_len))
            .ok_or(bad(16 + name_len, "digest runs past the payload"))?;
        Ok(SiPolicy {
            version,
            name: crate::uefi::utf16_trimmed(name),
            hash_alg,
            digest: digest.to_vec(),
        })
    }

    /// The version as "a.b.c.d" (most significant u16 first).
    pub fn version_string(&self) -> String {
        let v = self.version;
        format!(
            "{}.{}.{}.{}",
            v >> 48,
            (v >> 32) & 0xffff,
            (v >> 16) & 0xffff,
            v & 0xffff
        )
    }
}

/// SIPAEVENT_VSM_IDK_INFO: the VSM identity key's public part (RSA).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VsmIdk {
    /// Key algorithm id (1 = RSA).
    pub key_alg: u32,
    /// Key size in bits.
    pub bits: u32,
    /// Public exponent, big-endian.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub exponent: Vec<u8>,
    /// Modulus, big-endian.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub modulus: Vec<u8>,
}

impl VsmIdk {
    /// Parses `u32 KeyAlgID, u32 KeyBitLength, u32 PublicExpLengthBytes, u32 ModulusSizeBytes, exp, mod`.
    pub fn parse(data: &[u8], index: u32) -> Result<VsmIdk> {
        let bad = |data_offset: usize, reason: &'static str| Error::BadEventData {
            index,
            what: Cow::Borrowed("VSM_IDK_INFO"),
            data_offset,
            reason: reason.into(),
        };
        let key_alg = crate::uefi::u32_at(data, 0).ok_or(bad(0, "truncated"))?;
        let bits = crate::uefi::u32_at(data, 4).ok_or(bad(4, "truncated"))?;
        let e_len = crate::uefi::u32_at(data, 8).ok_or(bad(8, "truncated"))? as usize;
        let m_len = crate::uefi::u32_at(data, 12).ok_or(bad(12, "truncated"))? as usize;
        let exponent = data
            .get(16..)
            .and_then(|r| r.get(..e_len))
            .ok_or(bad(16, "exponent runs past the payload"))?;
        let modulus = data
            .get(16 + e_len..)
            .and_then(|r| r.get(..m_len))
            .ok_or(bad(16 + e_len, "modulus runs past the payload"))?;
        Ok(VsmIdk {
            key_alg,
            bits,
            exponent: exponent.to_vec(),
            modulus: modulus.to_vec(),
        })
    }
}

/// Encodes SIPA records (feature `builder`): `(id, data)` pairs; use [`encode_container`] to nest.
#[cfg(feature = "builder")]
pub fn encode_records(records: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, data) in records {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// One aggregation record `id` around already-encoded `children` (feature `builder`).
#[cfg(feature = "builder")]
pub fn encode_container(id: u32, children: &[u8]) -> Vec<u8> {
    encode_records(&[(id, children.to_vec())])
}

/// An SI_POLICY payload (feature `builder`).
#[cfg(feature = "builder")]
pub fn encode_si_policy(p: &SiPolicy) -> Vec<u8> {
    let name: Vec<u8> = p
        .name
        .encode_utf16()
        .chain(core::iter::once(0))
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let mut out = p.version.to_le_bytes().to_vec();
    out.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(&p.hash_alg.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(p.digest.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&name);
    out.extend_from_slice(&p.digest);
    out
}
