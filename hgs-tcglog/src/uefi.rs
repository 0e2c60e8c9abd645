//! Decoding UEFI event data: variables (and EFI_SIGNATURE_LISTs), image loads, GPT, actions.
//!
//! Decoders only read; callers must check an event's digest covers its data
//! ([`crate::verify_digests`]) before trusting what is decoded here.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::event_type::EventType;

pub use hgs_tpm::Guid;

/// EFI_GLOBAL_VARIABLE (SecureBoot, PK, KEK, Boot####, ...).
pub const EFI_GLOBAL_VARIABLE: Guid = Guid::from_fields(
    0x8be4df61,
    0x93ca,
    0x11d2,
    [0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c],
);

/// EFI_IMAGE_SECURITY_DATABASE (db, dbx, dbt, dbr).
pub const EFI_IMAGE_SECURITY_DATABASE: Guid = Guid::from_fields(
    0xd719b2cb,
    0x3d3a,
    0x4596,
    [0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f],
);

/// EFI_CERT_X509_GUID.
pub const EFI_CERT_X509: Guid = Guid::from_fields(
    0xa5c059a1,
    0x94e4,
    0x4aa7,
    [0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72],
);

/// EFI_CERT_SHA256_GUID.
pub const EFI_CERT_SHA256: Guid = Guid::from_fields(
    0xc1c41626,
    0x504c,
    0x4092,
    [0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28],
);

/// Largest number of UTF-16 code units in a variable name accepted (real names are < 64).
pub const MAX_VARIABLE_NAME: u64 = 1024;
/// Largest number of signatures decoded from one variable.
pub const MAX_SIGNATURES: usize = 65_536;

/// UEFI_VARIABLE_DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UefiVariable<'a> {
    /// Vendor GUID.
    pub guid: Guid,
    /// Variable name.
    pub name: String,
    /// VariableData.
    pub data: &'a [u8],
}

impl<'a> UefiVariable<'a> {
    /// Parses UEFI_VARIABLE_DATA.
    pub fn parse(raw: &'a [u8], index: u32) -> Result<Self> {
        let bad = |data_offset: usize, reason: &'static str| Error::BadEventData {
            index,
            what: Cow::Borrowed("UEFI_VARIABLE_DATA"),
            data_offset,
            reason: reason.into(),
        };
        let guid = Guid::from_prefix(raw).ok_or(bad(0, "truncated GUID"))?;
        let name_len = u64_at(raw, 16).ok_or(bad(16, "truncated UnicodeNameLength"))?;
        let data_len = u64_at(raw, 24).ok_or(bad(24, "truncated VariableDataLength"))?;
        if name_len > MAX_VARIABLE_NAME {
            return Err(bad(16, "variable name too long"));
        }
        let name_len = usize::try_from(name_len).map_err(|_| bad(16, "variable name too long"))?;
        let name_bytes = raw
            .get(32..32 + 2 * name_len)
            .ok_or(bad(32, "name runs past the data"))?;
        let name = utf16(name_bytes);
        let start = 32 + 2 * name_len;
        let end = (start as u64)
            .checked_add(data_len)
            .ok_or(bad(24, "VariableDataLength overflows"))?;
        let data = raw
            .get(start..usize::try_from(end).map_err(|_| bad(24, "too large"))?)
            .ok_or(bad(start, "VariableData runs past the event"))?;
        Ok(UefiVariable { guid, name, data })
    }

    /// Decodes VariableData as a sequence of EFI_SIGNATURE_LISTs (db, dbx, KEK, PK).
    pub fn signature_lists(&self, index: u32) -> Result<Vec<SignatureList<'a>>> {
        parse_signature_lists(self.data, index)
    }
}

/// One EFI_SIGNATURE_LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureList<'a> {
    /// SignatureType (e.g. [`EFI_CERT_X509`]).
    pub signature_type: Guid,
    /// The optional SignatureHeader.
    pub header: &'a [u8],
    /// The signatures.
    pub signatures: Vec<SignatureData<'a>>,
}

/// One EFI_SIGNATURE_DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureData<'a> {
    /// SignatureOwner.
    pub owner: Guid,
    /// The certificate or hash.
    pub data: &'a [u8],
}

/// Parses consecutive EFI_SIGNATURE_LISTs, honouring SignatureHeaderSize and bounding SignatureSize.
pub fn parse_signature_lists(mut raw: &[u8], index: u32) -> Result<Vec<SignatureList<'_>>> {
    let mut out = Vec::new();
    let mut off = 0usize;
    let mut total = 0usize;
    while !raw.is_empty() {
        let bad = |reason: &'static str| Error::BadEventData {
            index,
            what: Cow::Borrowed("EFI_SIGNATURE_LIST"),
            data_offset: off,
            reason: reason.into(),
        };
        let signature_type = Guid::from_prefix(raw).ok_or(bad("truncated header"))?;
        let list_size = u32_at(raw, 16).ok_or(bad("truncated header"))? as usize;
        let header_size = u32_at(raw, 20).ok_or(bad("truncated header"))? as usize;
        let sig_size = u32_at(raw, 24).ok_or(bad("truncated header"))? as usize;
        if list_size < 28 || list_size > raw.len() {
            return Err(bad("SignatureListSize outside the data"));
        }
        let body = &raw[28..list_size];
        let header = body
            .get(..header_size)
            .ok_or(bad("SignatureHeaderSize outside the list"))?;
        let sigs = &body[header_size..];
        if sig_size < 16 || sigs.len() % sig_size != 0 {
            return Err(bad("SignatureSize does not divide the list"));
        }
        let n = sigs.len() / sig_size;
        total += n;
        if total > MAX_SIGNATURES {
            return Err(bad("too many signatures"));
        }
        let signatures = sigs
            .chunks_exact(sig_size)
            .filter_map(|c| {
                Some(SignatureData {
                    owner: Guid::from_prefix(c)?,
                    data: &c[16..],
                })
            })
            .collect();
        out.push(SignatureList {
            signature_type,
            header,
            signatures,
        });
        raw = &raw[list_size..];
        off += list_size;
    }
    Ok(out)
}

/// UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_APPLICATION / _DRIVER, RUNTIME_SERVICES_DRIVER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLoad<'a> {
    /// ImageLocationInMemory.
    pub location: u64,
    /// ImageLengthInMemory.
    pub length: u64,
    /// ImageLinkTimeAddress.
    pub link_time_address: u64,
    /// The device path, raw.
    pub device_path: &'a [u8],
}

impl<'a> ImageLoad<'a> {
    /// Parses UEFI_IMAGE_LOAD_EVENT.
    pub fn parse(raw: &'a [u8], index: u32) -> Result<Self> {
        let bad = |data_offset: usize, reason: &'static str| Error::BadEventData {
            index,
            what: Cow::Borrowed("UEFI_IMAGE_LOAD_EVENT"),
            data_offset,
            reason: reason.into(),
        };
        let location = u64_at(raw, 0).ok_or(bad(0, "truncated"))?;
        let length = u64_at(raw, 8).ok_or(bad(8, "truncated"))?;
        let link_time_address = u64_at(raw, 16).ok_or(bad(16, "truncated"))?;
        let dp_len = u64_at(raw, 24).ok_or(bad(24, "truncated"))?;
        let device_path = usize::try_from(dp_len)
            .ok()
            .and_then(|n| raw.get(32..32usize.checked_add(n)?))
            .ok_or(bad(24, "device path runs past the event"))?;
        Ok(ImageLoad {
            location,
            length,
            link_time_address,
            device_path,
        })
    }
}

/// One GPT partition entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptPartition {
    /// PartitionTypeGUID.
    pub type_guid: Guid,
    /// UniquePartitionGUID.
    pub unique_guid: Guid,
    /// StartingLBA.
    pub first_lba: u64,
    /// EndingLBA.
    pub last_lba: u64,
    /// Attributes.
    pub attributes: u64,
    /// PartitionName.
    pub name: String,
}

/// UEFI_GPT_DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpt {
    /// DiskGUID from the header.
    pub disk_guid: Guid,
    /// The partitions.
    pub partitions: Vec<GptPartition>,
}

impl Gpt {
    /// Parses UEFI_GPT_DATA: the partition table header, NumberOfPartitions, then the entries.
    pub fn parse(raw: &[u8], index: u32) -> Result<Self> {
        let bad = |data_offset: usize, reason: &'static str| Error::BadEventData {
            index,
            what: Cow::Borrowed("UEFI_GPT_DATA"),
            data_offset,
            reason: reason.into(),
        };
        if raw.get(..8) != Some(b"EFI PART") {
            return Err(bad(0, "no EFI PART signature"));
        }
        let header_size = u32_at(raw, 12).ok_or(bad(12, "truncated"))? as usize;
        if !(92..=raw.len()).contains(&header_size) {
            return Err(bad(12, "HeaderSize outside the data"));
        }
        let disk_guid =
            Guid::from_prefix(raw.get(56..).unwrap_or(&[])).ok_or(bad(56, "truncated"))?;
        let entry_size = u32_at(raw, 84).ok_or(bad(84, "truncated"))? as usize;
        let count =
            u64_at(raw, header_size).ok_or(bad(header_size, "truncated NumberOfPartitions"))?;
        let entries = raw.get(header_size + 8..).unwrap_or(&[]);
        if entry_size < 128 || (count as u128) * (entry_size as u128) > entries.len() as u128 {
            return Err(bad(header_size, "partition entries run past the event"));
        }
        let partitions = entries
            .chunks_exact(entry_size)
            .take(usize::try_from(count).unwrap_or(usize::MAX))
            .map(|e| GptPartition {
                type_guid: Guid::from_prefix(e).unwrap_or(Guid([0; 16])),
                unique_guid: Guid::from_prefix(&e[16..]).unwrap_or(Guid([0; 16])),
                first_lba: u64_at(e, 32).unwrap_or(0),
                last_lba: u64_at(e, 40).unwrap_or(0),
                attributes: u64_at(e, 48).unwrap_or(0),
                name: utf16_trimmed(&e[56..128]),
            })
            .collect();
        Ok(Gpt {
            disk_guid,
            partitions,
        })
    }
}

/// What an event's data says, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// EV_NO_ACTION "Spec ID Event03" header.
    SpecId,
    /// EV_NO_ACTION "StartupLocality".
    StartupLocality(u8),
    /// Any other EV_NO_ACTION.
    NoAction(&'a [u8]),
    /// EV_SEPARATOR: its value (0 normal, 0xFFFFFFFF error) or bytes such as Windows' "WBCL".
    Separator(&'a [u8]),
    /// EV_EFI_ACTION / EV_ACTION string.
    Action(String),
    /// EV_EFI_VARIABLE_*.
    Variable(UefiVariable<'a>),
    /// EV_EFI_BOOT_SERVICES_APPLICATION / _DRIVER / RUNTIME_SERVICES_DRIVER.
    ImageLoad(ImageLoad<'a>),
    /// EV_EFI_GPT_EVENT.
    Gpt(Gpt),
    /// EV_S_CRTM_VERSION: UTF-16 when it decodes as such, else raw.
    SCrtmVersion(String),
    /// EV_POST_CODE, EV_IPL, EV_EVENT_TAG and others: text when printable ASCII.
    Text(String),
    /// Undecoded data.
    Raw(&'a [u8]),
}

/// Decodes an event's data by its type.
pub fn decode<'a>(event: &Event<'a>) -> Result<Decoded<'a>> {
    let d = event.data;
    Ok(match event.event_type {
        EventType::NoAction if d.starts_with(crate::spec_id::SPEC_ID_SIGNATURE) => Decoded::SpecId,
        EventType::NoAction if d.len() == 17 && d.starts_with(b"StartupLocality\0") => {
            Decoded::StartupLocality(d[16])
        }
        EventType::NoAction => Decoded::NoAction(d),
        EventType::Separator => Decoded::Separator(d),
        EventType::EfiAction | EventType::Action => {
            Decoded::Action(String::from_utf8_lossy(d).into_owned())
        }
        EventType::EfiVariableDriverConfig
        | EventType::EfiVariableBoot
        | EventType::EfiVariableBoot2
        | EventType::EfiVariableAuthority => {
            Decoded::Variable(UefiVariable::parse(d, event.index)?)
        }
        EventType::EfiBootServicesApplication
        | EventType::EfiBootServicesDriver
        | EventType::EfiRuntimeServicesDriver => {
            Decoded::ImageLoad(ImageLoad::parse(d, event.index)?)
        }
        EventType::EfiGptEvent => Decoded::Gpt(Gpt::parse(d, event.index)?),
        EventType::SCrtmVersion => Decoded::SCrtmVersion(
            if d.len() % 2 == 0 && d.len() >= 2 && d.chunks(2).all(|c| c[1] == 0) {
                utf16_trimmed(d)
            } else {
                String::from_utf8_lossy(d)
                    .trim_end_matches('\0')
                    .to_string()
            },
        ),
        _ if !d.is_empty()
            && d.iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == 0) =>
        {
            Decoded::Text(
                String::from_utf8_lossy(d)
                    .trim_end_matches('\0')
                    .to_string(),
            )
        }
        _ => Decoded::Raw(d),
    })
}

/// The little-endian u16 at `at`, if `b` holds it.
pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// The little-endian u32 at `at`, if `b` holds it.
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The little-endian u64 at `at`, if `b` holds it.
pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// UTF-16LE to String (lossy; a trailing odd byte is ignored).
pub(crate) fn utf16(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len() / 2);
    push_utf16(&mut out, b);
    // `push_utf16` writes only whole UTF-8 sequences: the lossy path is never taken.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends the UTF-16LE text `b` to `out` as UTF-8 (a trailing odd byte is ignored; unpaired
/// surrogates become U+FFFD). Writes only whole UTF-8 sequences.
pub(crate) fn push_utf16(out: &mut Vec<u8>, b: &[u8]) {
    let units = b.chunks_exact(2);
    // Fast path: names and paths in logs are ASCII; each unit is then one UTF-8 byte. The check
    // folds four units per 64-bit word without an early exit and the copy has an exact length:
    // straight loops.
    let mut words = b.chunks_exact(8);
    let mut non_ascii = words.by_ref().fold(0u64, |acc, w| {
        let mut x = [0u8; 8];
        x.copy_from_slice(w);
        acc | (u64::from_le_bytes(x) & 0xFF80_FF80_FF80_FF80)
    }) != 0;
    for c in words.remainder().chunks_exact(2) {
        non_ascii |= c[1] != 0 || c[0] >= 0x80;
    }
    if !non_ascii {
        out.extend(units.map(|c| c[0]));
        return;
    }
    let mut buf = [0u8; 4];
    for c in char::decode_utf16(units.map(|c| u16::from_le_bytes([c[0], c[1]]))) {
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
}

/// [`push_utf16`] without trailing NULs.
pub(crate) fn push_utf16_trimmed(out: &mut Vec<u8>, b: &[u8]) {
    push_utf16(out, trim_nul_units(b));
}

/// `b` without its trailing NUL units (and without an odd trailing byte).
fn trim_nul_units(b: &[u8]) -> &[u8] {
    let mut end = b.len() & !1;
    while end >= 2 && b[end - 2] == 0 && b[end - 1] == 0 {
        end -= 2;
    }
    &b[..end]
}

/// [`utf16`] without trailing NULs (only NUL units decode to `'\0'`, so trimming them before
/// decoding gives the same text as trimming after).
pub(crate) fn utf16_trimmed(b: &[u8]) -> String {
    utf16(trim_nul_units(b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The ASCII fast path (checked four units per word) and the general path decode exactly
        /// as the standard library's lossy UTF-16 decoder, for any bytes and any odd tail.
        #[test]
        fn utf16_decodes_as_the_standard_library_does(
            b in proptest::collection::vec(
                prop_oneof![4 => 0x20u8..0x7f, 2 => Just(0u8), 1 => any::<u8>()],
                0..64,
            )
        ) {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            prop_assert_eq!(utf16(&b), String::from_utf16_lossy(&units));
            let trimmed = String::from_utf16_lossy(&units);
            prop_assert_eq!(utf16_trimmed(&b), trimmed.trim_end_matches('\0'));
        }
    }

    #[test]
    fn non_ascii_in_any_unit_of_a_word_takes_the_general_path() {
        for at in 0..8 {
            let mut b: Vec<u8> = "abcdefgh"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect();
            b[at * 2..at * 2 + 2].copy_from_slice(&0x00e9u16.to_le_bytes());
            let mut want: Vec<char> = "abcdefgh".chars().collect();
            want[at] = 'é';
            assert_eq!(utf16(&b), want.into_iter().collect::<String>());
        }
    }
}
