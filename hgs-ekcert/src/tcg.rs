//! TCG EK Credential Profile fields: the TPM manufacturer / model / firmware version carried in the
//! subjectAltName directoryName, vendor IDs, the EK-certificate EKU, the TPM specification
//! attribute, and the rule deciding whether a certificate is an EK certificate at all.

use serde::Serialize;

use crate::cert::{Certificate, KeyInfo, KeyUsage};
use crate::der::{self, tag};
use crate::error::{Error, NotEk, Quirk, Result};
use crate::name::Name;

/// `tcg-at-tpmManufacturer`.
pub const OID_TPM_MANUFACTURER: &str = "2.23.133.2.1";
/// `tcg-at-tpmModel`.
pub const OID_TPM_MODEL: &str = "2.23.133.2.2";
/// `tcg-at-tpmVersion` (firmware version).
pub const OID_TPM_VERSION: &str = "2.23.133.2.3";
/// `tcg-at-tpmSpecification` (in subjectDirectoryAttributes).
pub const OID_TPM_SPECIFICATION: &str = "2.23.133.2.16";
/// `tcg-kp-EKCertificate` extended key usage.
pub const OID_EK_CERTIFICATE_EKU: &str = "2.23.133.8.1";
/// `tcg-kp-AIKCertificate` extended key usage (attestation keys: not an EK).
pub const OID_AIK_CERTIFICATE_EKU: &str = "2.23.133.8.3";

/// TPM vendor codes (TPM_PT_MANUFACTURER, 4 ASCII bytes) as the TCG vendor ID registry and
/// tpm2-tools list them, plus ChromeOS' `CROS`.
const VENDORS: &[(&[u8; 4], &str, &str)] = &[
    (b"AMD\0", "AMD", "AMD"),
    (b"ATML", "ATML", "Atmel"),
    (b"BRCM", "BRCM", "Broadcom"),
    (b"CSCO", "CSCO", "Cisco"),
    (b"FLYS", "FLYS", "Flyslice"),
    (b"ROCC", "ROCC", "Fuzhou Rockchip"),
    (b"GOOG", "GOOG", "Google"),
    (b"HPE\0", "HPE", "HPE"),
    (b"HISI", "HISI", "Huawei"),
    (b"IBM\0", "IBM", "IBM"),
    (b"IBM ", "IBM", "IBM (simulator)"),
    (b"IFX\0", "IFX", "Infineon"),
    (b"INTC", "INTC", "Intel"),
    (b"LEN\0", "LEN", "Lenovo"),
    (b"MSFT", "MSFT", "Microsoft"),
    (b"NSM ", "NSM", "National Semiconductor"),
    (b"NTZ\0", "NTZ", "Nationz"),
    (b"NTC\0", "NTC", "Nuvoton"),
    (b"QCOM", "QCOM", "Qualcomm"),
    (b"SMSN", "SMSN", "Samsung"),
    (b"SNS\0", "SNS", "Sinosun"),
    (b"SMSC", "SMSC", "SMSC"),
    (b"STM ", "STM", "STMicroelectronics"),
    (b"TXN\0", "TXN", "Texas Instruments"),
    (b"WEC\0", "WEC", "Winbond"),
    (b"CROS", "CROS", "Google ChromeOS vTPM"),
];

/// The TCG vendor ID (e.g. `"IFX"`) and vendor name for a TPM_PT_MANUFACTURER value.
pub fn vendor_from_id(id: u32) -> Option<(&'static str, &'static str)> {
    let b = id.to_be_bytes();
    VENDORS
        .iter()
        .find(|(code, _, _)| **code == b)
        .map(|(_, short, long)| (*short, *long))
}

/// Decodes `id:XXXXXXXX` (8 hex digits, case-insensitive; `id:` prefix optional) to the 32-bit
/// value it names.
pub fn parse_hex_id(s: &str) -> Option<u32> {
    let t = s.trim();
    let t = t
        .strip_prefix("id:")
        .or_else(|| t.strip_prefix("ID:"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 8 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(t, 16).ok()
}

/// TPM identity from the certificate's subjectAltName directoryName.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TpmInfo {
    /// `tcg-at-tpmManufacturer` as written (e.g. `id:49465800`).
    pub manufacturer_raw: Option<String>,
    /// The TCG vendor ID it decodes to (e.g. `IFX`); `None` for unknown codes.
    pub manufacturer: Option<String>,
    /// Vendor name (e.g. `Infineon`).
    pub vendor_name: Option<String>,
    /// `tcg-at-tpmModel` (e.g. `SLB 9665`).
    pub model: Option<String>,
    /// `tcg-at-tpmVersion` as written (e.g. `id:00050028`).
    pub version_raw: Option<String>,
    /// Firmware version decoded as `major.minor` (upper and lower 16 bits) when the raw value is
    /// `id:` + hex, otherwise the raw text.
    pub firmware: Option<String>,
    /// Whether the attribute values were PrintableString (Nuvoton) rather than UTF8String.
    pub printable_strings: bool,
}

impl TpmInfo {
    /// Reads the TCG attributes out of a SAN directoryName.
    pub(crate) fn from_directory_name(name: &Name) -> Option<Self> {
        let mut info = Self::default();
        let mut found = false;
        for a in name.rdns.iter().flatten() {
            let text = String::from_utf8_lossy(&a.value).trim().to_string();
            let slot = match a.oid.as_str() {
                OID_TPM_MANUFACTURER => &mut info.manufacturer_raw,
                OID_TPM_MODEL => &mut info.model,
                OID_TPM_VERSION => &mut info.version_raw,
                _ => continue,
            };
            found = true;
            if a.tag == 0x13 {
                info.printable_strings = true;
            }
            *slot = Some(text);
        }
        if !found {
            return None;
        }
        if let Some(id) = info.manufacturer_raw.as_deref().and_then(parse_hex_id) {
            if let Some((short, long)) = vendor_from_id(id) {
                info.manufacturer = Some(short.to_string());
                info.vendor_name = Some(long.to_string());
            }
        }
        info.firmware = info.version_raw.as_deref().map(|v| match parse_hex_id(v) {
            Some(n) if v.trim().len() >= 11 => format!("{}.{}", n >> 16, n & 0xffff),
            _ => v.to_string(),
        });
        Some(info)
    }
}

/// `tcg-at-tpmSpecification`: the TPM specification the TPM implements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TpmSpec {
    /// Family, e.g. `2.0`.
    pub family: String,
    /// Level.
    pub level: u64,
    /// Revision (e.g. 138 for 1.38).
    pub revision: u64,
}

impl TpmSpec {
    /// Reads it from the subjectDirectoryAttributes extension value.
    pub(crate) fn from_directory_attributes(value: &[u8], base: usize) -> Result<Option<Self>> {
        let mut r = der::Reader::new(value, base);
        let seq = r.expect(tag::SEQUENCE, "subjectDirectoryAttributes")?;
        let mut attrs = seq.reader();
        while !attrs.is_empty() {
            let attr = attrs.expect(tag::SEQUENCE, "Attribute")?;
            let mut ar = attr.reader();
            let oid = der::read_oid(&mut ar, "Attribute type")?;
            let set = ar.expect(tag::SET, "Attribute values")?;
            if oid != OID_TPM_SPECIFICATION {
                continue;
            }
            let mut sr = set.reader();
            let spec = sr.expect(tag::SEQUENCE, "TPMSpecification")?;
            let mut f = spec.reader();
            let family = f.read("TPMSpecification.family")?;
            let level = f.expect(tag::INTEGER, "TPMSpecification.level")?;
            let revision = f.expect(tag::INTEGER, "TPMSpecification.revision")?;
            return Ok(Some(Self {
                family: String::from_utf8_lossy(family.value).into_owned(),
                level: der::small_uint(level.value).unwrap_or(0),
                revision: der::small_uint(revision.value).unwrap_or(0),
            }));
        }
        Ok(None)
    }
}

/// Decides whether `cert` is an EK certificate, as the corpus' real certificates require:
/// - a CA certificate is not;
/// - a keyUsage, when present, must allow keyEncipherment or keyAgreement (an EK is a restricted
///   decryption key) and must not allow digitalSignature, keyCertSign or cRLSign (a signing key:
///   GCE "AK" certs and Azure AK certs carry the EK EKU or none, with digitalSignature);
/// - an extKeyUsage, when present, must contain tcg-kp-EKCertificate (or anyExtendedKeyUsage).
///
/// A missing keyUsage or EKU is tolerated (TPM 1.2-era IFX/STM/NTC certificates, new GCE EKs).
pub fn check_ek_profile(cert: &Certificate) -> Result<()> {
    let ext = &cert.extensions;
    if ext.basic_constraints.is_some_and(|b| b.ca) {
        return Err(Error::NotEkCertificate(NotEk::CaCertificate));
    }
    if let Some(ku) = ext.key_usage {
        for (bit, what) in [
            (KeyUsage::DIGITAL_SIGNATURE, "digitalSignature"),
            (KeyUsage::KEY_CERT_SIGN, "keyCertSign"),
            (KeyUsage::CRL_SIGN, "cRLSign"),
        ] {
            if ku.has(bit) {
                return Err(Error::NotEkCertificate(NotEk::SigningKeyUsage(what)));
            }
        }
        if !ku.has(KeyUsage::KEY_ENCIPHERMENT) && !ku.has(KeyUsage::KEY_AGREEMENT) {
            return Err(Error::NotEkCertificate(NotEk::NoDecryptionKeyUsage));
        }
    }
    if let Some(eku) = &ext.ext_key_usage {
        if !eku
            .iter()
            .any(|o| o == OID_EK_CERTIFICATE_EKU || o == "2.5.29.37.0")
        {
            return Err(Error::NotEkCertificate(NotEk::NoEkExtendedKeyUsage {
                ekus: eku.clone(),
            }));
        }
    }
    Ok(())
}

/// Profile deviations of an EK certificate that are tolerated (recorded as quirks).
pub(crate) fn profile_quirks(cert: &Certificate) -> Vec<Quirk> {
    let mut q = Vec::new();
    let ext = &cert.extensions;
    if ext.key_usage.is_none() {
        q.push(Quirk::NoKeyUsage);
    }
    if !ext
        .ext_key_usage
        .as_ref()
        .is_some_and(|e| e.iter().any(|o| o == OID_EK_CERTIFICATE_EKU))
    {
        q.push(Quirk::NoEkEku);
    }
    if matches!(cert.key, KeyInfo::Ecc { .. })
        && ext
            .key_usage
            .is_some_and(|k| k.has(KeyUsage::KEY_ENCIPHERMENT))
    {
        q.push(Quirk::EccKeyEncipherment);
    }
    if ext.tpm.as_ref().is_some_and(|t| t.printable_strings) {
        q.push(Quirk::PrintableStringTcgAttributes);
    }
    q
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn vendor_ids() {
        assert_eq!(parse_hex_id("id:49465800"), Some(0x4946_5800));
        assert_eq!(vendor_from_id(0x4946_5800).unwrap().0, "IFX");
        assert_eq!(
            vendor_from_id(parse_hex_id("id:53544D20").unwrap())
                .unwrap()
                .0,
            "STM"
        );
        assert_eq!(
            vendor_from_id(parse_hex_id("id:4E544300").unwrap())
                .unwrap()
                .0,
            "NTC"
        );
        assert_eq!(
            vendor_from_id(parse_hex_id("id:494E5443").unwrap())
                .unwrap()
                .0,
            "INTC"
        );
        assert_eq!(
            vendor_from_id(parse_hex_id("id:474F4F47").unwrap())
                .unwrap()
                .0,
            "GOOG"
        );
        assert_eq!(
            vendor_from_id(parse_hex_id("id:414D4400").unwrap())
                .unwrap()
                .0,
            "AMD"
        );
        assert_eq!(
            vendor_from_id(parse_hex_id("id:4D534654").unwrap())
                .unwrap()
                .0,
            "MSFT"
        );
        assert_eq!(vendor_from_id(0x0000_1014), None);
        assert_eq!(parse_hex_id("id:xyz"), None);
        assert_eq!(parse_hex_id("id:123456789"), None);
    }
}
