//! The tolerant certificate reader: one pass over the exact bytes received, keeping the TBS bytes
//! that the signature covers, the signature algorithm and value, and the fields EK validation
//! needs. Nothing is re-encoded.

use std::ops::Range;

use serde::Serialize;

use crate::container;
use crate::der::{self, tag, Reader};
use crate::error::{Error, Quirk, Result};
use crate::name::{read_name, Name};
use crate::signature::SignatureAlgorithm;
use crate::tcg::{TpmInfo, TpmSpec};
use crate::time::UnixTime;

/// Elliptic curves of certificate keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1): parsed, not verified.
    P521,
}

impl Curve {
    /// Coordinate length in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

/// A certificate's subject public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyInfo {
    /// RSA (rsaEncryption, or the id-RSAES-OAEP OID of older EK certificates).
    Rsa {
        /// Modulus, big-endian, leading zeros removed.
        modulus: Vec<u8>,
        /// Public exponent, big-endian, leading zeros removed.
        exponent: Vec<u8>,
        /// Whether the SPKI used id-RSAES-OAEP.
        oaep: bool,
    },
    /// ECC (id-ecPublicKey on a named curve), uncompressed point.
    Ecc {
        /// Curve.
        curve: Curve,
        /// X coordinate (field length).
        x: Vec<u8>,
        /// Y coordinate (field length).
        y: Vec<u8>,
    },
    /// Any other key algorithm (kept so CA certificates with such keys still load).
    Other {
        /// Algorithm OID or a description.
        oid: String,
    },
}

/// Type of a key, for results and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum KeyType {
    /// RSA with this modulus size in bits.
    Rsa(usize),
    /// ECC on this curve.
    Ecc(Curve),
    /// Unsupported algorithm.
    Other,
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa(bits) => write!(f, "RSA-{bits}"),
            Self::Ecc(Curve::P256) => f.write_str("ECC P-256"),
            Self::Ecc(Curve::P384) => f.write_str("ECC P-384"),
            Self::Ecc(Curve::P521) => f.write_str("ECC P-521"),
            Self::Other => f.write_str("other"),
        }
    }
}

impl KeyInfo {
    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            Self::Rsa { modulus, .. } => {
                let lead = modulus
                    .first()
                    .map_or(0, |b| 8 - b.leading_zeros() as usize);
                KeyType::Rsa(modulus.len().saturating_sub(1) * 8 + lead)
            }
            Self::Ecc { curve, .. } => KeyType::Ecc(*curve),
            Self::Other { .. } => KeyType::Other,
        }
    }

    /// Reads a SubjectPublicKeyInfo element.
    pub(crate) fn from_spki(r: &mut Reader<'_>) -> Result<Self> {
        let spki = r.expect(tag::SEQUENCE, "SubjectPublicKeyInfo")?;
        let mut sr = spki.reader();
        let alg = sr.expect(tag::SEQUENCE, "SubjectPublicKeyInfo.algorithm")?;
        let mut ar = alg.reader();
        let oid = der::read_oid(&mut ar, "SubjectPublicKeyInfo.algorithm")?;
        let bits = sr.expect(tag::BIT_STRING, "subjectPublicKey")?;
        sr.finish("SubjectPublicKeyInfo")?;
        let key = match bits.value.split_first() {
            Some((0, k)) => k,
            _ => {
                return Err(Error::Malformed {
                    what: "subjectPublicKey BIT STRING",
                    offset: bits.offset,
                })
            }
        };
        let base = bits.offset + (bits.raw.len() - bits.value.len()) + 1;
        match oid.as_str() {
            "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.7" => {
                let mut kr = Reader::new(key, base);
                let seq = kr.expect(tag::SEQUENCE, "RSAPublicKey")?;
                let mut nr = seq.reader();
                let n = nr.expect(tag::INTEGER, "RSAPublicKey.modulus")?;
                let e = nr.expect(tag::INTEGER, "RSAPublicKey.publicExponent")?;
                Ok(Self::Rsa {
                    modulus: der::strip_zeros(n.value).to_vec(),
                    exponent: der::strip_zeros(e.value).to_vec(),
                    oaep: oid.ends_with(".7"),
                })
            }
            "1.2.840.10045.2.1" => {
                let curve_oid = der::read_oid(&mut ar, "ECParameters namedCurve")?;
                let curve = match curve_oid.as_str() {
                    "1.2.840.10045.3.1.7" => Curve::P256,
                    "1.3.132.0.34" => Curve::P384,
                    "1.3.132.0.35" => Curve::P521,
                    _ => {
                        return Ok(Self::Other {
                            oid: format!("ecPublicKey on {curve_oid}"),
                        })
                    }
                };
                let n = curve.field_len();
                if key.len() != 1 + 2 * n || key[0] != 4 {
                    return Ok(Self::Other {
                        oid: "ecPublicKey with a compressed or malformed point".into(),
                    });
                }
                Ok(Self::Ecc {
                    curve,
                    x: key[1..=n].to_vec(),
                    y: key[1 + n..].to_vec(),
                })
            }
            _ => Ok(Self::Other { oid }),
        }
    }
}

/// keyUsage bits (bit 0 = digitalSignature, as in RFC 5280's BIT STRING numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    /// digitalSignature.
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    /// keyEncipherment.
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    /// keyAgreement.
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    /// keyCertSign.
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    /// cRLSign.
    pub const CRL_SIGN: u16 = 1 << 6;

    /// Whether `bit` is set.
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// Names of the bits set.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [&str; 9] = [
            "digitalSignature",
            "nonRepudiation",
            "keyEncipherment",
            "dataEncipherment",
            "keyAgreement",
            "keyCertSign",
            "cRLSign",
            "encipherOnly",
            "decipherOnly",
        ];
        (0..9)
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| NAMES[i])
            .collect()
    }
}

/// basicConstraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BasicConstraints {
    /// cA.
    pub ca: bool,
    /// pathLenConstraint.
    pub path_len: Option<u64>,
}

/// The extensions EK validation reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extensions {
    /// basicConstraints.
    pub basic_constraints: Option<BasicConstraints>,
    /// keyUsage.
    pub key_usage: Option<KeyUsage>,
    /// extKeyUsage purposes (dotted OIDs).
    pub ext_key_usage: Option<Vec<String>>,
    /// subjectKeyIdentifier.
    pub subject_key_id: Option<Vec<u8>>,
    /// authorityKeyIdentifier keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// Whether a subjectAltName is present and critical (`None` when absent).
    pub san_critical: Option<bool>,
    /// TPM manufacturer / model / version from the SAN directoryName.
    pub tpm: Option<TpmInfo>,
    /// TPM specification from subjectDirectoryAttributes.
    pub tpm_spec: Option<TpmSpec>,
    /// Critical extensions this crate does not interpret (dotted OIDs).
    pub unhandled_critical: Vec<String>,
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Range<usize>,
    /// The outer signatureAlgorithm.
    pub signature_algorithm: SignatureAlgorithm,
    signature: Vec<u8>,
    /// X.509 version (1, 2 or 3).
    pub version: u8,
    /// Serial number content octets as encoded.
    pub serial: Vec<u8>,
    /// Issuer.
    pub issuer: Name,
    /// Subject.
    pub subject: Name,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// Subject public key.
    pub key: KeyInfo,
    /// Extensions read.
    pub extensions: Extensions,
    /// Quirks met while reading (container, encoding, algorithms).
    pub quirks: Vec<Quirk>,
}

fn read_time(r: &mut Reader<'_>, what: &'static str, quirks: &mut Vec<Quirk>) -> Result<UnixTime> {
    let t = r.read(what)?;
    let parsed = match t.tag {
        tag::UTC_TIME => UnixTime::from_utc_time(t.value),
        tag::GENERALIZED_TIME => {
            let v = UnixTime::from_generalized_time(t.value);
            if v.is_some_and(|v| v < UnixTime(2_524_608_000))
                && !quirks.contains(&Quirk::GeneralizedTimeBefore2050)
            {
                quirks.push(Quirk::GeneralizedTimeBefore2050);
            }
            v
        }
        _ => None,
    };
    parsed.ok_or(Error::Malformed {
        what,
        offset: t.offset,
    })
}

fn read_bool(value: &[u8], offset: usize, what: &'static str) -> Result<bool> {
    match value {
        [b] => Ok(*b != 0),
        _ => Err(Error::Malformed { what, offset }),
    }
}

impl Certificate {
    /// Reads a certificate from DER or PEM, with the TCG NV header and NV padding tolerated.
    pub fn from_bytes(input: &[u8]) -> Result<Self> {
        let u = container::unwrap(input)?;
        let mut c = Self::from_exact_der(u.der)?;
        let mut quirks = u.quirks;
        quirks.append(&mut c.quirks);
        c.quirks = quirks;
        Ok(c)
    }

    fn from_exact_der(der: Vec<u8>) -> Result<Self> {
        let outer = der::single(&der, "Certificate")?;
        if outer.tag != tag::SEQUENCE {
            return Err(Error::Malformed {
                what: "Certificate",
                offset: 0,
            });
        }
        let mut quirks = Vec::new();
        let mut cr = outer.reader();
        let tbs = cr.expect(tag::SEQUENCE, "TBSCertificate")?;
        let sig_alg_tlv = cr.expect(tag::SEQUENCE, "signatureAlgorithm")?;
        let sig_bits = cr.expect(tag::BIT_STRING, "signatureValue")?;
        cr.finish("Certificate")?;
        let signature_algorithm = SignatureAlgorithm::parse(&sig_alg_tlv)?;
        if signature_algorithm.is_sha1() {
            quirks.push(Quirk::Sha1Signature);
        }
        let signature = match sig_bits.value.split_first() {
            Some((0, s)) => s.to_vec(),
            _ => {
                return Err(Error::Malformed {
                    what: "signatureValue BIT STRING",
                    offset: sig_bits.offset,
                })
            }
        };

        let mut r = tbs.reader();
        let mut version = 1u8;
        if let Some(v) = r.optional(0xa0, "version")? {
            let mut vr = v.reader();
            let n = vr.expect(tag::INTEGER, "version")?;
            version = match der::small_uint(n.value) {
                Some(0) => {
                    quirks.push(Quirk::ExplicitDefault);
                    1
                }
                Some(1) => 2,
                Some(2) => 3,
                _ => {
                    return Err(Error::Malformed {
                        what: "version",
                        offset: n.offset,
                    })
                }
            };
        }
        let serial = r.expect(tag::INTEGER, "serialNumber")?;
        if serial.value.len() > 21 || (serial.value.len() == 21 && serial.value[0] != 0) {
            quirks.push(Quirk::LongSerial);
        }
        let inner_alg = r.expect(tag::SEQUENCE, "TBSCertificate.signature")?;
        // RFC 5280 4.1.1.2: must equal the outer algorithm. Compare the identified algorithm, not
        // bytes (NULL vs absent parameters differ between encoders).
        if SignatureAlgorithm::parse(&inner_alg)? != signature_algorithm {
            return Err(Error::Malformed {
                what: "TBSCertificate.signature differs from signatureAlgorithm",
                offset: inner_alg.offset,
            });
        }
        let issuer = read_name(&mut r, "issuer")?;
        let validity = r.expect(tag::SEQUENCE, "validity")?;
        let mut vr = validity.reader();
        let not_before = read_time(&mut vr, "notBefore", &mut quirks)?;
        let not_after = read_time(&mut vr, "notAfter", &mut quirks)?;
        vr.finish("validity")?;
        let subject = read_name(&mut r, "subject")?;
        if issuer.unsorted_set || subject.unsorted_set {
            quirks.push(Quirk::UnsortedRdnSet);
        }
        let key = KeyInfo::from_spki(&mut r)?;
        if matches!(key, KeyInfo::Rsa { oaep: true, .. }) {
            quirks.push(Quirk::OaepSpki);
        }
        r.optional(0x81, "issuerUniqueID")?;
        r.optional(0x82, "subjectUniqueID")?;
        let mut extensions = Extensions::default();
        if let Some(exts) = r.optional(0xa3, "extensions")? {
            let mut er = exts.reader();
            let seq = er.expect(tag::SEQUENCE, "Extensions")?;
            er.finish("extensions")?;
            read_extensions(seq.reader(), &mut extensions, &mut quirks)?;
        }
        r.finish("TBSCertificate")?;
        if extensions.authority_key_id.is_none() {
            quirks.push(Quirk::NoAuthorityKeyId);
        }
        let tbs_start = tbs.offset;
        let tbs_range = tbs_start..tbs_start + tbs.raw.len();
        Ok(Self {
            serial: serial.value.to_vec(),
            tbs: tbs_range,
            signature_algorithm,
            signature,
            version,
            issuer,
            subject,
            not_before,
            not_after,
            key,
            extensions,
            quirks,
            der,
        })
    }

    /// The exact DER bytes of the certificate (container and padding removed).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The exact TBSCertificate bytes the signature covers.
    pub fn tbs(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// The signature value.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Whether issuer and subject are the same name (raw or normalised).
    pub fn is_self_issued(&self) -> bool {
        self.issuer.normalized_eq(&self.subject)
    }

    /// Whether the certificate is self-signed: self-issued and its own key verifies its signature.
    pub fn is_self_signed(&self) -> bool {
        self.is_self_issued() && crate::signature::verify(self, &self.key).is_ok()
    }

    /// Serial number as lowercase hex.
    pub fn serial_hex(&self) -> String {
        self.serial.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn read_extensions(mut r: Reader<'_>, ext: &mut Extensions, quirks: &mut Vec<Quirk>) -> Result<()> {
    while !r.is_empty() {
        let e = r.expect(tag::SEQUENCE, "Extension")?;
        let mut er = e.reader();
        let oid = der::read_oid(&mut er, "extnID")?;
        let mut critical = false;
        if let Some(b) = er.optional(tag::BOOLEAN, "critical")? {
            critical = read_bool(b.value, b.offset, "critical")?;
            if !critical && !quirks.contains(&Quirk::ExplicitDefault) {
                quirks.push(Quirk::ExplicitDefault);
            }
        }
        let value = er.expect(tag::OCTET_STRING, "extnValue")?;
        er.finish("Extension")?;
        let base = value.offset + (value.raw.len() - value.value.len());
        let inner = || {
            der::single(value.value, "extnValue").map_err(|_| Error::Malformed {
                what: "extnValue",
                offset: base,
            })
        };
        match oid.as_str() {
            "2.5.29.19" => {
                let t = inner()?;
                let mut br = t.reader();
                let mut bc = BasicConstraints {
                    ca: false,
                    path_len: None,
                };
                if let Some(b) = br.optional(tag::BOOLEAN, "cA")? {
                    bc.ca = read_bool(b.value, b.offset, "cA")?;
                    if !bc.ca && !quirks.contains(&Quirk::ExplicitDefault) {
                        quirks.push(Quirk::ExplicitDefault);
                    }
                }
                if let Some(n) = br.optional(tag::INTEGER, "pathLenConstraint")? {
                    bc.path_len = der::small_uint(n.value);
                }
                ext.basic_constraints = Some(bc);
            }
            "2.5.29.15" => {
                let t = inner()?;
                if t.tag != tag::BIT_STRING || t.value.is_empty() {
                    return Err(Error::Malformed {
                        what: "keyUsage",
                        offset: base,
                    });
                }
                let b0 = u16::from(t.value.get(1).copied().unwrap_or(0));
                let b1 = u16::from(t.value.get(2).copied().unwrap_or(0));
                // Bit 0 is the most significant bit of the first octet.
                let mut bits = 0u16;
                for i in 0..8 {
                    if b0 & (0x80 >> i) != 0 {
                        bits |= 1 << i;
                    }
                }
                if b1 & 0x80 != 0 {
                    bits |= 1 << 8;
                }
                ext.key_usage = Some(KeyUsage(bits));
            }
            "2.5.29.37" => {
                let t = inner()?;
                let mut kr = t.reader();
                let mut purposes = Vec::new();
                while !kr.is_empty() {
                    purposes.push(der::read_oid(&mut kr, "KeyPurposeId")?);
                }
                ext.ext_key_usage = Some(purposes);
            }
            "2.5.29.14" => {
                let t = inner()?;
                ext.subject_key_id = Some(t.value.to_vec());
            }
            "2.5.29.35" => {
                let t = inner()?;
                let mut ar = t.reader();
                if let Some(k) = ar.optional(0x80, "keyIdentifier")? {
                    ext.authority_key_id = Some(k.value.to_vec());
                }
            }
            "2.5.29.17" => {
                ext.san_critical = Some(critical);
                let t = inner()?;
                let mut gr = t.reader();
                while !gr.is_empty() {
                    let g = gr.read("GeneralName")?;
                    if g.tag == 0xa4 {
                        let mut nr = g.reader();
                        let name = read_name(&mut nr, "directoryName")?;
                        if let Some(info) = TpmInfo::from_directory_name(&name) {
                            ext.tpm = Some(info);
                        }
                    }
                }
            }
            "2.5.29.9" => {
                ext.tpm_spec = TpmSpec::from_directory_attributes(value.value, base)
                    .ok()
                    .flatten();
            }
            // certificatePolicies: the TCG EK profile defines it (Infineon marks it critical);
            // HGS constrains no policy, so every policy is acceptable and the extension is
            // processed in the RFC 5280 sense of "any policy". CRL distribution points and AIA are
            // informational only here: critical ones are refused below, like any other.
            "2.5.29.32" => {}
            "2.5.29.31" | "1.3.6.1.5.5.7.1.1" if !critical => {}
            _ => {
                if critical {
                    ext.unhandled_critical.push(oid);
                }
            }
        }
    }
    Ok(())
}
