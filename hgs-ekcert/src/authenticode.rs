//! Authenticode signatures of cabinets (`TrustedTpm.cab`), checked to a pinned Microsoft root.
//! Bytes in, verdict out: no I/O, no clock (the caller passes "now").
//!
//! Where the signature is: a signed cabinet has a 20-byte CFHEADER reserve area whose bytes
//! 4..8 and 8..12 (file offsets 44 and 48) give the offset and length of a PKCS#7 `SignedData`
//! appended after the cabinet proper (offset = `cbCabinet`, running to the end of the file,
//! zero-padded to 8 bytes).
//!
//! What it signs: the `SpcIndirectDataContent`'s `messageDigest` is a hash of the cabinet minus
//! the fields signing changes: file bytes `0..4` (`MSCF`), `8..34` (`cbCabinet` .. `setID`) and
//! `56..cbCabinet` (the last 4 reserve bytes, the CFFOLDERs, CFFILEs and CFDATA). Skipped: the
//! `reserved1` field, `iCabinet`, the reserve sizes and the first 16 reserve bytes (which hold
//! the signature's offset and length). Checked here against the real cabinet: the digest computed
//! this way equals the one Microsoft signed.
//!
//! What is checked, in order: the digest above; the signer's `messageDigest` and `contentType`
//! signed attributes; the signer's RSA/ECDSA signature over the signed attributes; the signing
//! certificate's code-signing EKU; a chain from it, through the certificates of the signature, to
//! [`MICROSOFT_CODE_SIGNING_ROOT`], each link's signature, CA rights and validity, and no unknown
//! critical extension.
//!
//! Time: Microsoft's signing certificates live a year, so a cabinet is usually signed by a
//! certificate that has expired since. As Windows does, the chain is checked at the time of the
//! cabinet's RFC 3161 timestamp (the `1.3.6.1.4.1.311.3.3.1` unsigned attribute) once that
//! timestamp itself verifies: its `messageImprint` is the hash of the signer's signature, its
//! signer has the time-stamping EKU and chains to [`MICROSOFT_TIMESTAMP_ROOT`], valid at the
//! timestamp's time, which must not be after the caller's `now`. A cabinet without a timestamp is
//! checked at `now`, so an expired signer is refused.

use thiserror::Error;

use crate::cab::{self, CabError};
use crate::cert::Certificate;
use crate::der::{self, tag, Reader, Tlv};
use crate::error::Error;
use crate::name::Name;
use crate::signature::{self, Hash, SignatureAlgorithm};
use crate::time::UnixTime;

/// "Microsoft Root Certificate Authority 2011" (DER), the root of Microsoft's code-signing
/// chains (`Microsoft Code Signing PCA 2011` issues the `TrustedTpm.cab` signer). SHA-256
/// `847df6a78497943f27fc72eb93f9a637320a02b561d0a91b09e87a7807ed7c61`; see `pinned/README.md`.
pub const MICROSOFT_CODE_SIGNING_ROOT: &[u8] =
    include_bytes!("../pinned/microsoft-root-certificate-authority-2011.der");

/// "Microsoft Root Certificate Authority 2010" (DER), the root of Microsoft's time-stamping
/// chain (`Microsoft Time-Stamp PCA 2010`). SHA-256
/// `df545bf919a2439c36983b54cdfc903dfa4f37d3996d8d84b4c31eec6f3c163e`; see `pinned/README.md`.
pub const MICROSOFT_TIMESTAMP_ROOT: &[u8] =
    include_bytes!("../pinned/microsoft-root-certificate-authority-2010.der");

/// At most this many certificates in one signature (the real cabinet's signature has 2, its
/// timestamp 2): bounds the chain search.
pub const MAX_SIGNATURE_CERTIFICATES: usize = 32;
/// At most this many certificates from signer to anchor.
const MAX_CHAIN: usize = 6;

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_SPC_INDIRECT_DATA: &str = "1.3.6.1.4.1.311.2.1.4";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_MS_RFC3161_TIMESTAMP: &str = "1.3.6.1.4.1.311.3.3.1";
/// id-kp-codeSigning.
pub const EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
/// id-kp-timeStamping.
pub const EKU_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";

/// Why a cabinet's Authenticode signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthenticodeError {
    /// The cabinet header could not be read.
    #[error("cabinet header")]
    Cabinet(#[source] CabError),
    /// The cabinet has no signature (no reserve area, or a zero offset/length in it).
    #[error("the cabinet is not signed")]
    NotSigned,
    /// The reserve area points at a signature that is not the tail of the file.
    #[error("signature area {offset}+{len} does not end the {file_len}-byte file")]
    SignatureArea {
        /// Recorded offset.
        offset: u32,
        /// Recorded length.
        len: u32,
        /// File length.
        file_len: usize,
    },
    /// A DER element of the signature could not be read.
    #[error("signature: cannot read {what}")]
    Der {
        /// The element.
        what: &'static str,
        /// Why.
        #[source]
        source: Error,
    },
    /// The signature's structure is not the one Authenticode defines.
    #[error("signature: {what}")]
    Structure {
        /// What is wrong.
        what: &'static str,
    },
    /// A content type other than the one expected.
    #[error("signature: content type {oid}, expected {expected}")]
    ContentType {
        /// Found.
        oid: String,
        /// Expected.
        expected: &'static str,
    },
    /// A digest algorithm this crate does not compute.
    #[error("signature: unsupported digest algorithm {oid}")]
    UnsupportedDigest {
        /// Its OID.
        oid: String,
    },
    /// The cabinet's bytes do not hash to the digest Microsoft signed (the cabinet was changed).
    #[error(
        "cabinet digest {} differs from the signed {}",
        hgs_tpm::hex::encode(computed),
        hgs_tpm::hex::encode(signed)
    )]
    CabinetDigestMismatch {
        /// Computed here.
        computed: Vec<u8>,
        /// In the signature.
        signed: Vec<u8>,
    },
    /// A required signed attribute is missing.
    #[error("signature: no {attribute} signed attribute")]
    MissingAttribute {
        /// Which one.
        attribute: &'static str,
    },
    /// The signed `messageDigest` is not the hash of the signed content.
    #[error("signature: messageDigest attribute does not match the {content}")]
    ContentDigestMismatch {
        /// Which content.
        content: &'static str,
    },
    /// No certificate of the signature is the signer's.
    #[error("signature: the signer's certificate is not included")]
    SignerNotFound,
    /// The signer's signature over the signed attributes does not verify.
    #[error("signature by `{subject}` over the signed attributes does not verify")]
    BadSignerSignature {
        /// Signer subject.
        subject: Box<Name>,
    },
    /// The signer's certificate lacks the extended key usage its role needs.
    #[error("`{subject}` lacks the {eku} extended key usage")]
    MissingEku {
        /// Signer subject.
        subject: Box<Name>,
        /// The EKU OID.
        eku: &'static str,
    },
    /// The code-signing certificate is not Microsoft's own (`O=Microsoft Corporation`).
    #[error("the cabinet is signed by `{subject}`, not by Microsoft Corporation")]
    SignerNotMicrosoft {
        /// Signer subject.
        subject: Box<Name>,
    },
    /// The signer's chain to the pinned root failed (depth 0 = the signer).
    #[error("signer chain")]
    Chain(#[source] Error),
    /// The RFC 3161 timestamp did not verify.
    #[error("timestamp")]
    Timestamp(#[source] Box<AuthenticodeError>),
    /// The timestamp's `messageImprint` is not the hash of the cabinet signature.
    #[error("timestamp imprint does not match the signature it stamps")]
    TimestampImprintMismatch,
    /// The timestamp is later than the caller's "now".
    #[error("timestamp {at} is after now ({now})")]
    TimestampInFuture {
        /// Timestamp time.
        at: UnixTime,
        /// The caller's time.
        now: UnixTime,
    },
}

type Result<T> = std::result::Result<T, AuthenticodeError>;

/// A verified cabinet signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabinetSignature {
    /// Digest algorithm of the cabinet digest.
    pub digest_algorithm: Hash,
    /// The cabinet digest (equal to the signed one).
    pub digest: Vec<u8>,
    /// Subjects from the signer to the pinned root.
    pub chain: Vec<String>,
    /// The verified RFC 3161 timestamp time, if the signature has one.
    pub timestamp: Option<UnixTime>,
    /// The time the chain was checked at: the timestamp, or the caller's "now".
    pub checked_at: UnixTime,
}

fn der_err(what: &'static str) -> impl Fn(Error) -> AuthenticodeError {
    move |source| AuthenticodeError::Der { what, source }
}

/// The bytes of a signed cabinet that Authenticode hashes, as slices (file bytes `0..4`, `8..34`
/// and `56..cbCabinet`: all but `reserved1`, `iCabinet`, the reserve sizes and the first 16
/// reserve bytes, which signing changes), and the signature bytes.
pub fn signed_ranges(input: &[u8]) -> Result<(Vec<&[u8]>, &[u8])> {
    let layout = cab::cabinet_layout(input).map_err(AuthenticodeError::Cabinet)?;
    let Some((at, len)) = layout.header_reserve else {
        return Err(AuthenticodeError::NotSigned);
    };
    let reserve = input.get(at..at + len).unwrap_or(&[]);
    if at != 40 || len != 20 || reserve.get(..4) != Some(&[0, 0, 0x10, 0][..]) {
        return Err(AuthenticodeError::NotSigned);
    }
    let word =
        |i: usize| u32::from_le_bytes([reserve[i], reserve[i + 1], reserve[i + 2], reserve[i + 3]]);
    let (offset, sig_len) = (word(4), word(8));
    if offset == 0 || sig_len == 0 {
        return Err(AuthenticodeError::NotSigned);
    }
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = start.checked_add(usize::try_from(sig_len).unwrap_or(usize::MAX));
    if end != Some(input.len()) || layout.cabinet_size != offset || start < 60 {
        return Err(AuthenticodeError::SignatureArea {
            offset,
            len: sig_len,
            file_len: input.len(),
        });
    }
    Ok((
        vec![&input[0..4], &input[8..34], &input[56..start]],
        &input[start..],
    ))
}

/// Verifies the Authenticode signature of a cabinet at `now`.
///
/// The signature is the PKCS#7 `SignedData` the 20-byte CFHEADER reserve area points at (file
/// offsets 44/48: offset = `cbCabinet`, length to the end of the file). Its
/// `SpcIndirectDataContent` digest must equal the hash of file bytes `0..4`, `8..34` and
/// `56..cbCabinet` (see [`signed_ranges`]); then the signed attributes, the signer's signature
/// over them, the code-signing EKU, a signer of `O=Microsoft Corporation`, and a chain through the signature's certificates to
/// [`MICROSOFT_CODE_SIGNING_ROOT`] are checked. The chain is checked at the time of the cabinet's
/// RFC 3161 timestamp once that verifies (imprint = hash of the signature, time-stamping EKU,
/// chain to [`MICROSOFT_TIMESTAMP_ROOT`] at that time, not after `now`); without a timestamp, at
/// `now`, so an expired signer is refused.
pub fn verify_cabinet(input: &[u8], now: UnixTime) -> Result<CabinetSignature> {
    let (ranges, sig) = signed_ranges(input)?;
    let sd = SignedData::parse(sig, true)?;
    if sd.content_type != OID_SPC_INDIRECT_DATA {
        return Err(AuthenticodeError::ContentType {
            oid: sd.content_type,
            expected: OID_SPC_INDIRECT_DATA,
        });
    }
    // SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
    //                                      messageDigest DigestInfo }
    let mut r = sd.content.reader();
    r.expect(tag::SEQUENCE, "SpcAttributeTypeAndOptionalValue")
        .map_err(der_err("SpcIndirectDataContent"))?;
    let info = r
        .expect(tag::SEQUENCE, "DigestInfo")
        .map_err(der_err("SpcIndirectDataContent"))?;
    let mut ir = info.reader();
    let alg = ir
        .expect(tag::SEQUENCE, "digestAlgorithm")
        .map_err(der_err("DigestInfo"))?;
    let hash = digest_alg(&alg)?;
    let signed = ir
        .expect(tag::OCTET_STRING, "digest")
        .map_err(der_err("DigestInfo"))?
        .value;
    let computed = hash.tpm().hash_parts(&ranges);
    if computed != signed {
        return Err(AuthenticodeError::CabinetDigestMismatch {
            computed: computed.to_vec(),
            signed: signed.to_vec(),
        });
    }
    // Authenticode (PKCS #7 v1.5): the messageDigest covers the content's value octets.
    let signer = sd.check_signer(sd.content.value, EKU_CODE_SIGNING)?;
    // The 2011 root also anchors other Microsoft signing services: the package must be signed
    // by Microsoft itself, as TrustedTpm.cab is.
    if signer.subject.attribute("2.5.4.10").as_deref() != Some("Microsoft Corporation") {
        return Err(AuthenticodeError::SignerNotMicrosoft {
            subject: Box::new(signer.subject.clone()),
        });
    }

    let timestamp = match sd.signer.unsigned_attribute(OID_MS_RFC3161_TIMESTAMP)? {
        Some(token) => {
            let at = verify_timestamp(token.raw, sd.signer.signature, now)
                .map_err(|e| AuthenticodeError::Timestamp(Box::new(e)))?;
            Some(at)
        }
        None => None,
    };
    let checked_at = timestamp.unwrap_or(now);
    let root =
        Certificate::from_bytes(MICROSOFT_CODE_SIGNING_ROOT).map_err(der_err("pinned root"))?;
    let chain = chain_to(&signer, &sd.certificates, &root, checked_at)?;
    Ok(CabinetSignature {
        digest_algorithm: hash,
        digest: computed,
        chain,
        timestamp,
        checked_at,
    })
}

/// Verifies an RFC 3161 timestamp token over `stamped` (the signature value it stamps) and
/// returns its time.
fn verify_timestamp(token: &[u8], stamped: &[u8], now: UnixTime) -> Result<UnixTime> {
    let sd = SignedData::parse(token, false)?;
    if sd.content_type != OID_TST_INFO {
        return Err(AuthenticodeError::ContentType {
            oid: sd.content_type,
            expected: OID_TST_INFO,
        });
    }
    // eContent is an OCTET STRING holding the DER TSTInfo; CMS hashes its value octets.
    if sd.content.tag != tag::OCTET_STRING {
        return Err(AuthenticodeError::Structure {
            what: "TSTInfo is not in an OCTET STRING",
        });
    }
    let tst = der::single(sd.content.value, "TSTInfo").map_err(der_err("TSTInfo"))?;
    let mut r = tst.reader();
    r.expect(tag::INTEGER, "version")
        .map_err(der_err("TSTInfo"))?;
    r.expect(tag::OID, "policy").map_err(der_err("TSTInfo"))?;
    let imprint = r
        .expect(tag::SEQUENCE, "messageImprint")
        .map_err(der_err("TSTInfo"))?;
    r.expect(tag::INTEGER, "serialNumber")
        .map_err(der_err("TSTInfo"))?;
    let gen = r
        .expect(tag::GENERALIZED_TIME, "genTime")
        .map_err(der_err("TSTInfo"))?;
    let at = UnixTime::from_generalized_time(gen.value).ok_or(AuthenticodeError::Structure {
        what: "TSTInfo genTime is not a time",
    })?;
    let mut ir = imprint.reader();
    let alg = ir
        .expect(tag::SEQUENCE, "hashAlgorithm")
        .map_err(der_err("messageImprint"))?;
    let hashed = ir
        .expect(tag::OCTET_STRING, "hashedMessage")
        .map_err(der_err("messageImprint"))?;
    if digest_alg(&alg)?.tpm().hash(stamped) != hashed.value {
        return Err(AuthenticodeError::TimestampImprintMismatch);
    }
    if at > now {
        return Err(AuthenticodeError::TimestampInFuture { at, now });
    }
    let signer = sd.check_signer(sd.content.value, EKU_TIME_STAMPING)?;
    let root = Certificate::from_bytes(MICROSOFT_TIMESTAMP_ROOT).map_err(der_err("pinned root"))?;
    chain_to(&signer, &sd.certificates, &root, at)?;
    Ok(at)
}

fn digest_alg(alg: &Tlv<'_>) -> Result<Hash> {
    let mut r = alg.reader();
    let oid = der::read_oid(&mut r, "digestAlgorithm").map_err(der_err("AlgorithmIdentifier"))?;
    Hash::from_oid(&oid).ok_or(AuthenticodeError::UnsupportedDigest { oid })
}

/// How the signer names its certificate.
enum SignerId<'a> {
    IssuerSerial { issuer: Name, serial: &'a [u8] },
    KeyId(&'a [u8]),
}

struct SignerInfo<'a> {
    id: SignerId<'a>,
    digest: Hash,
    signed_attrs: Option<Tlv<'a>>,
    algorithm: Tlv<'a>,
    signature: &'a [u8],
    unsigned_attrs: Option<Tlv<'a>>,
}

fn attribute<'a>(set: &Tlv<'a>, wanted: &str) -> Result<Option<Tlv<'a>>> {
    let mut r = set.reader();
    while !r.is_empty() {
        let a = r
            .expect(tag::SEQUENCE, "Attribute")
            .map_err(der_err("attributes"))?;
        let mut ar = a.reader();
        let oid = der::read_oid(&mut ar, "attrType").map_err(der_err("attributes"))?;
        if oid == wanted {
            let values = ar
                .expect(tag::SET, "attrValues")
                .map_err(der_err("attributes"))?;
            let mut vr = values.reader();
            return vr
                .read("attrValue")
                .map(Some)
                .map_err(der_err("attributes"));
        }
    }
    Ok(None)
}

impl<'a> SignerInfo<'a> {
    fn parse(t: &Tlv<'a>) -> Result<Self> {
        let e = der_err("SignerInfo");
        let mut r = t.reader();
        r.expect(tag::INTEGER, "version").map_err(&e)?;
        let id = match r.peek_tag() {
            Some(tag::SEQUENCE) => {
                let ias = r.read("issuerAndSerialNumber").map_err(&e)?;
                let mut ir = ias.reader();
                let issuer = ir.expect(tag::SEQUENCE, "issuer").map_err(&e)?;
                let serial = ir.expect(tag::INTEGER, "serialNumber").map_err(&e)?;
                SignerId::IssuerSerial {
                    issuer: Name::from_der(issuer.raw).map_err(&e)?,
                    serial: der::strip_zeros(serial.value),
                }
            }
            _ => SignerId::KeyId(r.expect(0x80, "subjectKeyIdentifier").map_err(&e)?.value),
        };
        let digest = digest_alg(&r.expect(tag::SEQUENCE, "digestAlgorithm").map_err(&e)?)?;
        let signed_attrs = r.optional(0xa0, "signedAttrs").map_err(&e)?;
        let algorithm = r.expect(tag::SEQUENCE, "signatureAlgorithm").map_err(&e)?;
        let signature = r.expect(tag::OCTET_STRING, "signature").map_err(&e)?.value;
        let unsigned_attrs = r.optional(0xa1, "unsignedAttrs").map_err(&e)?;
        Ok(Self {
            id,
            digest,
            signed_attrs,
            algorithm,
            signature,
            unsigned_attrs,
        })
    }

    fn unsigned_attribute(&self, oid: &str) -> Result<Option<Tlv<'a>>> {
        match &self.unsigned_attrs {
            Some(set) => attribute(set, oid),
            None => Ok(None),
        }
    }

    /// The signature algorithm: `rsaEncryption` / `ecPublicKey` take the digest algorithm's hash.
    fn algorithm(&self) -> Result<SignatureAlgorithm> {
        let mut r = self.algorithm.reader();
        let oid = der::read_oid(&mut r, "signatureAlgorithm").map_err(der_err("SignerInfo"))?;
        match oid.as_str() {
            "1.2.840.113549.1.1.1" => Ok(SignatureAlgorithm::RsaPkcs1(self.digest)),
            "1.2.840.10045.2.1" => Ok(SignatureAlgorithm::Ecdsa(self.digest)),
            _ => SignatureAlgorithm::parse(&self.algorithm).map_err(der_err("signatureAlgorithm")),
        }
    }
}

struct SignedData<'a> {
    content_type: String,
    /// The element inside `[0] EXPLICIT` of the encapsulated content.
    content: Tlv<'a>,
    certificates: Vec<Certificate>,
    signer: SignerInfo<'a>,
}

impl<'a> SignedData<'a> {
    /// Reads a ContentInfo holding a SignedData with exactly one signer. `padded`: zero bytes may
    /// follow it (the cabinet's 8-byte alignment).
    fn parse(input: &'a [u8], padded: bool) -> Result<Self> {
        let e = der_err("ContentInfo");
        let mut top = Reader::new(input, 0);
        let ci = top.expect(tag::SEQUENCE, "ContentInfo").map_err(&e)?;
        let rest = input.get(ci.raw.len()..).unwrap_or(&[]);
        let padding = padded && rest.len() < 8 && rest.iter().all(|&b| b == 0);
        if !rest.is_empty() && !padding {
            return Err(AuthenticodeError::Structure {
                what: "bytes after the signature",
            });
        }
        let mut r = ci.reader();
        let oid = der::read_oid(&mut r, "contentType").map_err(&e)?;
        if oid != OID_SIGNED_DATA {
            return Err(AuthenticodeError::ContentType {
                oid,
                expected: OID_SIGNED_DATA,
            });
        }
        let explicit = r.expect(0xa0, "content").map_err(&e)?;
        let sd = der::single(explicit.value, "SignedData").map_err(der_err("SignedData"))?;
        let e = der_err("SignedData");
        let mut r = sd.reader();
        r.expect(tag::INTEGER, "version").map_err(&e)?;
        r.expect(tag::SET, "digestAlgorithms").map_err(&e)?;
        let encap = r.expect(tag::SEQUENCE, "encapContentInfo").map_err(&e)?;
        let mut er = encap.reader();
        let content_type = der::read_oid(&mut er, "eContentType").map_err(&e)?;
        let wrapped = er.expect(0xa0, "eContent").map_err(&e)?;
        let content = der::single(wrapped.value, "eContent").map_err(&e)?;
        let mut certificates = Vec::new();
        if let Some(set) = r.optional(0xa0, "certificates").map_err(&e)? {
            let mut cr = set.reader();
            while !cr.is_empty() {
                let c = cr.read("certificate").map_err(&e)?;
                if certificates.len() == MAX_SIGNATURE_CERTIFICATES {
                    return Err(AuthenticodeError::Structure {
                        what: "too many certificates",
                    });
                }
                // Only X.509 certificates (SEQUENCE); other choices are skipped.
                if c.tag == tag::SEQUENCE {
                    certificates
                        .push(Certificate::from_bytes(c.raw).map_err(der_err("certificate"))?);
                }
            }
        }
        r.optional(0xa1, "crls").map_err(&e)?;
        let signers = r.expect(tag::SET, "signerInfos").map_err(&e)?;
        r.finish("SignedData").map_err(&e)?;
        let mut sr = signers.reader();
        let one = sr.expect(tag::SEQUENCE, "SignerInfo").map_err(&e)?;
        if !sr.is_empty() {
            return Err(AuthenticodeError::Structure {
                what: "more than one signer",
            });
        }
        Ok(Self {
            content_type,
            content,
            certificates,
            signer: SignerInfo::parse(&one)?,
        })
    }

    /// Checks the signed attributes against `content` (the octets the messageDigest covers) and
    /// the signer's signature over them; returns the signer's certificate, which must carry `eku`.
    fn check_signer(&self, content: &[u8], eku: &'static str) -> Result<Certificate> {
        let s = &self.signer;
        let attrs = s
            .signed_attrs
            .as_ref()
            .ok_or(AuthenticodeError::MissingAttribute { attribute: "any" })?;
        let ct =
            attribute(attrs, OID_CONTENT_TYPE)?.ok_or(AuthenticodeError::MissingAttribute {
                attribute: "contentType",
            })?;
        if ct.tag != tag::OID || der::oid_string(ct.value).as_deref() != Some(&self.content_type) {
            return Err(AuthenticodeError::Structure {
                what: "contentType attribute differs from the content's type",
            });
        }
        let md =
            attribute(attrs, OID_MESSAGE_DIGEST)?.ok_or(AuthenticodeError::MissingAttribute {
                attribute: "messageDigest",
            })?;
        if md.tag != tag::OCTET_STRING || s.digest.tpm().hash(content) != md.value {
            return Err(AuthenticodeError::ContentDigestMismatch {
                content: if eku == EKU_CODE_SIGNING {
                    "SpcIndirectDataContent"
                } else {
                    "TSTInfo"
                },
            });
        }
        let cert = self
            .certificates
            .iter()
            .find(|c| match &s.id {
                SignerId::IssuerSerial { issuer, serial } => {
                    der::strip_zeros(&c.serial) == *serial
                        && (c.issuer.raw_eq(issuer) || c.issuer.normalized_eq(issuer))
                }
                SignerId::KeyId(id) => c.extensions.subject_key_id.as_deref() == Some(*id),
            })
            .ok_or(AuthenticodeError::SignerNotFound)?;
        // The signature covers the DER of the attributes as a SET OF (tag 0x31, not [0]).
        let mut signed = attrs.raw.to_vec();
        signed[0] = tag::SET;
        let bad = || AuthenticodeError::BadSignerSignature {
            subject: Box::new(cert.subject.clone()),
        };
        signature::verify_message(s.algorithm()?, s.signature, &signed, &cert.key)
            .map_err(|_| bad())?;
        let has_eku = cert
            .extensions
            .ext_key_usage
            .as_ref()
            .is_some_and(|p| p.iter().any(|o| o == eku));
        if !has_eku {
            return Err(AuthenticodeError::MissingEku {
                subject: Box::new(cert.subject.clone()),
                eku,
            });
        }
        Ok(cert.clone())
    }
}

fn valid_at(c: &Certificate, depth: usize, at: UnixTime) -> Result<()> {
    if c.not_before > at {
        return Err(AuthenticodeError::Chain(Error::NotYetValid {
            depth,
            subject: Box::new(c.subject.clone()),
            not_before: c.not_before,
        }));
    }
    if c.not_after < at {
        return Err(AuthenticodeError::Chain(Error::Expired {
            depth,
            subject: Box::new(c.subject.clone()),
            not_after: c.not_after,
        }));
    }
    if let Some(oid) = c.extensions.unhandled_critical.first() {
        return Err(AuthenticodeError::Chain(Error::UnknownCriticalExtension {
            depth,
            subject: Box::new(c.subject.clone()),
            oid: oid.clone(),
        }));
    }
    Ok(())
}

fn is_ca(c: &Certificate) -> bool {
    c.extensions.basic_constraints.is_some_and(|b| b.ca)
}

fn issued_by(c: &Certificate, issuer: &Certificate) -> bool {
    (c.issuer.raw_eq(&issuer.subject) || c.issuer.normalized_eq(&issuer.subject))
        && signature::verify(c, &issuer.key).is_ok()
}

/// A chain from `signer` through `bag` to `root`, every certificate valid at `at`; the subjects,
/// signer first.
fn chain_to(
    signer: &Certificate,
    bag: &[Certificate],
    root: &Certificate,
    at: UnixTime,
) -> Result<Vec<String>> {
    let mut chain = vec![signer.subject.to_string()];
    let mut cur = signer.clone();
    for depth in 0..MAX_CHAIN {
        valid_at(&cur, depth, at)?;
        if cur.der() == root.der() {
            return Ok(chain);
        }
        if issued_by(&cur, root) {
            valid_at(root, depth + 1, at)?;
            chain.push(root.subject.to_string());
            return Ok(chain);
        }
        let next = bag
            .iter()
            .find(|c| c.der() != cur.der() && is_ca(c) && issued_by(&cur, c))
            .ok_or_else(|| {
                AuthenticodeError::Chain(Error::UntrustedRoot {
                    depth,
                    subject: Box::new(cur.subject.clone()),
                    issuer: Box::new(cur.issuer.clone()),
                })
            })?;
        chain.push(next.subject.to_string());
        cur = next.clone();
    }
    Err(AuthenticodeError::Chain(Error::BudgetExceeded(
        "signer chain longer than 6 certificates",
    )))
}
