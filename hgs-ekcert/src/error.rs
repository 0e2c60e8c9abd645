//! The one error type of this crate: every refusal has its own variant, naming the certificate
//! (by depth and subject) it concerns. There is no bare "invalid".

use std::fmt;

use thiserror::Error;

use crate::cert::KeyInfo;
use crate::name::Name;
use crate::time::UnixTime;

/// Result with this crate's [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Why an EK certificate was not accepted (or could not be read).
///
/// Depth 0 is the leaf (the EK certificate), 1 its issuer, and so on up to the trust anchor.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a certificate this crate can read.
    #[error("malformed certificate: {what} at offset {offset}")]
    Malformed {
        /// The field being read.
        what: &'static str,
        /// Byte offset in the certificate's DER.
        offset: usize,
    },
    /// Bytes after the certificate that are not one of the accepted padding forms.
    #[error("{count} trailing byte(s) after the certificate are not uniform NV padding")]
    TrailingData {
        /// How many bytes follow the DER certificate.
        count: usize,
    },
    /// An algorithm (signature, key or curve) this crate does not verify.
    #[error("unsupported {what}: {oid}")]
    UnsupportedAlgorithm {
        /// Which algorithm slot.
        what: &'static str,
        /// Its OID (or description).
        oid: String,
    },
    /// A known vendor quirk that the caller's [`crate::QuirkPolicy`] refuses.
    #[error("quirk refused by policy: {0}")]
    QuirkRefused(Quirk),
    /// The certificate is not an endorsement-key certificate (e.g. a signing / AK certificate).
    #[error("not an EK certificate: {0}")]
    NotEkCertificate(NotEk),
    /// Path building ended at a certificate whose issuer is not installed (neither as root nor as
    /// intermediate).
    #[error("untrusted root: no installed root or intermediate issued `{subject}` at depth {depth} (its issuer is `{issuer}`)")]
    UntrustedRoot {
        /// Depth of the certificate whose issuer is missing.
        depth: usize,
        /// Its subject.
        subject: Box<Name>,
        /// Its issuer name (the certificate that would be needed).
        issuer: Box<Name>,
    },
    /// Installed CAs carry the certificate's issuer name, but none of their keys signed it: the
    /// signature does not verify under any of them, or the certificate's authorityKeyIdentifier
    /// names another key. A look-alike CA (same name, another key), a CA the vendor re-keyed
    /// (install its new certificate), or a certificate altered after signing; not a missing CA.
    #[error(
        "`{subject}` at depth {depth}: {candidates} installed CA(s) named `{issuer}`, its \
         issuer, did not sign it (a look-alike or re-keyed CA, or an altered certificate){}",
        key_ids(authority_key_id.as_deref(), installed_key_ids)
    )]
    IssuerSignatureMismatch {
        /// Depth of the certificate whose signature no installed CA of that name made.
        depth: usize,
        /// Its subject.
        subject: Box<Name>,
        /// Its issuer name, which the installed candidates carry.
        issuer: Box<Name>,
        /// How many installed certificates named like the issuer were tried (certificates already
        /// on the path excluded).
        candidates: usize,
        /// The key the certificate says signed it (its authorityKeyIdentifier), if it names one.
        authority_key_id: Option<Vec<u8>>,
        /// The subjectKeyIdentifiers of the installed candidates that carry one.
        installed_key_ids: Vec<Vec<u8>>,
    },
    /// A certificate on the only candidate path has expired at the verification time.
    #[error("certificate at depth {depth} (`{subject}`) expired at {not_after}")]
    Expired {
        /// Depth.
        depth: usize,
        /// Subject.
        subject: Box<Name>,
        /// Its notAfter.
        not_after: UnixTime,
    },
    /// A certificate on the only candidate path is not yet valid at the verification time.
    #[error("certificate at depth {depth} (`{subject}`) is not valid before {not_before}")]
    NotYetValid {
        /// Depth.
        depth: usize,
        /// Subject.
        subject: Box<Name>,
        /// Its notBefore.
        not_before: UnixTime,
    },
    /// A certificate that signed another one has no CA rights (basicConstraints / keyUsage).
    #[error("`{subject}` at depth {depth} signed a certificate but is not a CA: {why}")]
    NotCa {
        /// Depth of the would-be CA.
        depth: usize,
        /// Its subject.
        subject: Box<Name>,
        /// What is missing.
        why: &'static str,
    },
    /// Every issuer candidate is already on the path: a loop of cross-signed CAs.
    #[error("chain loop at depth {depth}: every issuer of `{subject}` is already on the path")]
    ChainLoop {
        /// Depth of the certificate whose issuers are all on the path.
        depth: usize,
        /// Its subject.
        subject: Box<Name>,
    },
    /// Path building ran out of its budget (signature checks or depth).
    #[error("path-building budget exceeded: {0}")]
    BudgetExceeded(&'static str),
    /// The certificate's public key is not the EK public key the host presented.
    #[error(
        "key mismatch: the certificate's key is {}, the presented EK is {}",
        describe(cert),
        describe(ek)
    )]
    KeyMismatch {
        /// The certificate's key.
        cert: Box<KeyInfo>,
        /// The presented EK's key.
        ek: Box<KeyInfo>,
    },
    /// The presented EK public key could not be read.
    #[error("the presented EK public key is unusable")]
    EkPublic(#[source] EkPublicError),
    /// A certificate on the path (leaf or CA) carries a critical extension this crate does not
    /// process (RFC 5280 §4.2: such a certificate must be rejected).
    #[error("certificate at depth {depth} (`{subject}`) has an unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// Depth of the certificate (0 = the EK certificate).
        depth: usize,
        /// Its subject.
        subject: Box<Name>,
        /// The extension's OID (dotted).
        oid: String,
    },
}

/// A key in [`Error::KeyMismatch`]'s message: its type and the first bytes of its modulus or x
/// coordinate.
fn describe(k: &KeyInfo) -> String {
    let head = match k {
        KeyInfo::Rsa { modulus, .. } => hgs_tpm::hex::encode(&modulus[..modulus.len().min(8)]),
        KeyInfo::Ecc { x, .. } => hgs_tpm::hex::encode(&x[..x.len().min(8)]),
        KeyInfo::Other { oid } => oid.clone(),
    };
    format!("{} ({head}...)", k.key_type())
}

/// The key identifiers of [`Error::IssuerSignatureMismatch`], when there are any to compare.
fn key_ids(authority: Option<&[u8]>, installed: &[Vec<u8>]) -> String {
    let hex = hgs_tpm::hex::encode;
    let mut out = String::new();
    if let Some(a) = authority {
        out.push_str(&format!("; it names signing key {}", hex(a)));
    }
    if !installed.is_empty() {
        let ids: Vec<String> = installed.iter().map(|k| hex(k)).collect();
        out.push_str(&format!("; installed key(s): {}", ids.join(", ")));
    }
    out
}

/// Why a certificate is not an endorsement-key certificate ([`Error::NotEkCertificate`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NotEk {
    /// basicConstraints says it is a CA certificate.
    #[error("basicConstraints says it is a CA certificate")]
    CaCertificate,
    /// keyUsage names a signing use (digitalSignature, keyCertSign or cRLSign).
    #[error("keyUsage {0}: a signing key, not an endorsement (decryption) key")]
    SigningKeyUsage(&'static str),
    /// keyUsage allows neither keyEncipherment nor keyAgreement.
    #[error("keyUsage allows neither keyEncipherment nor keyAgreement")]
    NoDecryptionKeyUsage,
    /// extKeyUsage lacks tcg-kp-EKCertificate (and anyExtendedKeyUsage).
    #[error("extKeyUsage {} lacks tcg-kp-EKCertificate", ekus.join(", "))]
    NoEkExtendedKeyUsage {
        /// The extended key usages it has (dotted OIDs).
        ekus: Vec<String>,
    },
}

/// Why a presented EK public key ([`crate::EkPublic`]) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EkPublicError {
    /// The TPM public area (TPM2B_PUBLIC / TPMT_PUBLIC) does not parse or holds no usable key.
    #[error("the TPM public area does not parse")]
    Tpm(#[source] hgs_tpm::Error),
    /// The SubjectPublicKeyInfo does not parse.
    #[error("the SubjectPublicKeyInfo does not parse")]
    Spki(#[source] Box<Error>),
    /// An ECC key on a curve no EK certificate uses.
    #[error("unsupported TPM curve {0:?}")]
    UnsupportedCurve(hgs_tpm::EccCurve),
    /// An ECC coordinate longer than its curve's field.
    #[error("an ECC coordinate is longer than the curve")]
    CoordinateTooLong,
    /// A SubjectPublicKeyInfo for neither RSA nor EC.
    #[error("unsupported key algorithm {oid}")]
    UnsupportedKeyAlgorithm {
        /// The algorithm's OID (dotted).
        oid: String,
    },
}

/// A vendor deviation from DER / RFC 5280 / the TCG EK Credential Profile that this crate accepts,
/// recorded on the certificate that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Quirk {
    /// TCG PC Client stored-certificate NV header (`10 01 00 LL LL 10 02`) before the DER.
    NvHeader,
    /// Trailing NV padding after the DER: `count` bytes all equal to `byte` (0xFF, 0x00, ...).
    TrailingPadding {
        /// The padding byte.
        byte: u8,
        /// How many.
        count: usize,
    },
    /// SubjectPublicKeyInfo algorithm id-RSAES-OAEP (1.2.840.113549.1.1.7): read as an RSA key.
    OaepSpki,
    /// Signed with SHA-1.
    Sha1Signature,
    /// A multi-valued RDN whose SET OF is not in DER order (Nuvoton).
    UnsortedRdnSet,
    /// A DEFAULT value encoded explicitly (`critical FALSE`, `cA FALSE`; Intel PTT).
    ExplicitDefault,
    /// GeneralizedTime for a date before 2050 (AMD, Aliyun CAs).
    GeneralizedTimeBefore2050,
    /// Serial number longer than the 20 octets RFC 5280 allows (ChromeOS vEK).
    LongSerial,
    /// No authorityKeyIdentifier.
    NoAuthorityKeyId,
    /// No keyUsage extension on the EK certificate (TPM 1.2 era).
    NoKeyUsage,
    /// No tcg-kp-EKCertificate extended key usage.
    NoEkEku,
    /// An ECC EK with keyUsage keyEncipherment instead of keyAgreement (Intel PTT).
    EccKeyEncipherment,
    /// TCG SAN attribute values as PrintableString instead of UTF8String (Nuvoton).
    PrintableStringTcgAttributes,
    /// The trust anchor the chain ends at is not self-signed (e.g. "IFX TPM EK Root CA").
    NonSelfSignedAnchor,
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NvHeader => f.write_str("TCG stored-certificate NV header before the DER"),
            Self::TrailingPadding { byte, count } => {
                write!(f, "{count} trailing NV padding byte(s) 0x{byte:02x}")
            }
            Self::OaepSpki => f.write_str("RSAES-OAEP SubjectPublicKeyInfo OID"),
            Self::Sha1Signature => f.write_str("SHA-1 signature"),
            Self::UnsortedRdnSet => f.write_str("multi-valued RDN with a SET OF not in DER order"),
            Self::ExplicitDefault => f.write_str("explicitly encoded DEFAULT value"),
            Self::GeneralizedTimeBefore2050 => f.write_str("GeneralizedTime before 2050"),
            Self::LongSerial => f.write_str("serial number longer than 20 octets"),
            Self::NoAuthorityKeyId => f.write_str("no authorityKeyIdentifier"),
            Self::NoKeyUsage => f.write_str("no keyUsage"),
            Self::NoEkEku => f.write_str("no tcg-kp-EKCertificate EKU"),
            Self::EccKeyEncipherment => f.write_str("ECC key with keyUsage keyEncipherment"),
            Self::PrintableStringTcgAttributes => {
                f.write_str("TCG SAN attributes as PrintableString")
            }
            Self::NonSelfSignedAnchor => f.write_str("trust anchor is not self-signed"),
        }
    }
}

impl serde::Serialize for Quirk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::{describe, Error};
    use crate::cert::KeyInfo;

    /// `error.rs` is what every module imports; it must import none of them back but the plain
    /// data types its variants carry (`ekpub` imports it, so it may not import `ekpub`).
    #[test]
    fn the_error_module_imports_no_module_that_imports_it() {
        let src = include_str!("error.rs");
        let (code, _) = src.split_at(src.find("#[cfg(test)]").unwrap_or(src.len()));
        for m in [
            "ekpub",
            "verify",
            "path",
            "trust_store",
            "package",
            "tcg",
            "signature",
        ] {
            assert!(
                !code.contains(&format!("crate::{m}")),
                "error.rs uses crate::{m}"
            );
        }
    }

    #[test]
    fn a_key_mismatch_names_both_keys_by_type_and_leading_bytes() {
        let rsa = KeyInfo::Rsa {
            modulus: vec![0xc5; 256],
            exponent: vec![1, 0, 1],
            oaep: false,
        };
        let ecc = KeyInfo::Ecc {
            curve: crate::cert::Curve::P256,
            x: vec![0x01, 0x02],
            y: vec![0x03; 32],
        };
        assert_eq!(describe(&ecc), format!("{} (0102...)", ecc.key_type()));
        let e = Error::KeyMismatch {
            cert: Box::new(rsa.clone()),
            ek: Box::new(ecc.clone()),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "key mismatch: the certificate's key is {} (c5c5c5c5c5c5c5c5...), the presented EK is {} (0102...)",
                rsa.key_type(),
                ecc.key_type()
            )
        );
    }
}
