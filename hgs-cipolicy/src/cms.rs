//! The signed form: a DER CMS `ContentInfo` holding `SignedData` whose encapsulated content (type
//! 1.3.6.1.4.1.311.79.1, szOID_CI_POLICY... "code integrity policy") is the unsigned policy.
//! Only the path to `eContent` is read; the signature is not verified here (Windows does that,
//! and the signature is not part of what Windows measures).

use crate::error::{Error, Result};

/// 1.2.840.113549.1.7.2 (signedData), DER content bytes.
const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
/// 1.3.6.1.4.1.311.79.1, DER content bytes.
const OID_CI_POLICY: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x4F, 0x01];

/// One DER TLV: tag, the content, and the offset of the content.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    content_offset: usize,
}

/// Reads one definite-length DER TLV at `at` in `buf` (whose start is at `base` in the file).
fn tlv(buf: &[u8], at: usize, base: usize) -> Result<(Tlv<'_>, usize)> {
    let bad = |reason| Error::BadCms {
        offset: base + at,
        reason,
    };
    let tag = *buf.get(at).ok_or(bad("truncated tag"))?;
    let first = *buf.get(at + 1).ok_or(bad("truncated length"))?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 {
            return Err(bad("indefinite length (BER) is not DER"));
        }
        if n > 4 {
            return Err(bad("length of length too large"));
        }
        let bytes = buf.get(at + 2..at + 2 + n).ok_or(bad("truncated length"))?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let start = at + hdr;
    let content = buf
        .get(start..)
        .and_then(|r| r.get(..len))
        .ok_or(bad("content runs past its container"))?;
    Ok((
        Tlv {
            tag,
            content,
            content_offset: base + start,
        },
        start + len,
    ))
}

fn oid_text(der: &[u8]) -> String {
    let mut parts = Vec::new();
    if let Some(first) = der.first() {
        parts.push(u64::from(first / 40));
        parts.push(u64::from(first % 40));
    }
    let mut acc = 0u64;
    for b in der.iter().skip(1) {
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            parts.push(acc);
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The unsigned policy bytes inside a signed policy, and their offset in the file.
pub fn encapsulated_policy(file: &[u8]) -> Result<(&[u8], usize)> {
    let (ci, end) = tlv(file, 0, 0)?;
    if ci.tag != 0x30 {
        return Err(Error::BadCms {
            offset: 0,
            reason: "ContentInfo is not a SEQUENCE",
        });
    }
    // DER files may carry padding after the ContentInfo only if it is zero (never seen); refuse other bytes.
    if file[end..].iter().any(|b| *b != 0) {
        return Err(Error::BadCms {
            offset: end,
            reason: "bytes after the ContentInfo",
        });
    }
    let (ct, next) = tlv(ci.content, 0, ci.content_offset)?;
    if ct.tag != 0x06 {
        return Err(Error::BadCms {
            offset: ci.content_offset,
            reason: "contentType is not an OID",
        });
    }
    if ct.content != OID_SIGNED_DATA {
        return Err(Error::UnexpectedContentType(
            oid_text(ct.content),
            "1.2.840.113549.1.7.2 (signedData)",
        ));
    }
    let (explicit, _) = tlv(ci.content, next, ci.content_offset)?;
    if explicit.tag != 0xA0 {
        return Err(Error::BadCms {
            offset: ci.content_offset + next,
            reason: "content is not [0] EXPLICIT",
        });
    }
    let (sd, _) = tlv(explicit.content, 0, explicit.content_offset)?;
    if sd.tag != 0x30 {
        return Err(Error::BadCms {
            offset: explicit.content_offset,
            reason: "SignedData is not a SEQUENCE",
        });
    }
    let (version, n1) = tlv(sd.content, 0, sd.content_offset)?;
    if version.tag != 0x02 {
        return Err(Error::BadCms {
            offset: sd.content_offset,
            reason: "SignedData.version is not an INTEGER",
        });
    }
    let (algs, n2) = tlv(sd.content, n1, sd.content_offset)?;
    if algs.tag != 0x31 {
        return Err(Error::BadCms {
            offset: sd.content_offset + n1,
            reason: "digestAlgorithms is not a SET",
        });
    }
    let (eci, _) = tlv(sd.content, n2, sd.content_offset)?;
    if eci.tag != 0x30 {
        return Err(Error::BadCms {
            offset: sd.content_offset + n2,
            reason: "encapContentInfo is not a SEQUENCE",
        });
    }
    let (etype, e1) = tlv(eci.content, 0, eci.content_offset)?;
    if etype.tag != 0x06 {
        return Err(Error::BadCms {
            offset: eci.content_offset,
            reason: "eContentType is not an OID",
        });
    }
    if etype.content != OID_CI_POLICY {
        return Err(Error::UnexpectedContentType(
            oid_text(etype.content),
            "1.3.6.1.4.1.311.79.1 (code integrity policy)",
        ));
    }
    let (econtent, _) = tlv(eci.content, e1, eci.content_offset)?;
    if econtent.tag != 0xA0 {
        return Err(Error::BadCms {
            offset: eci.content_offset + e1,
            reason: "eContent is not [0] EXPLICIT",
        });
    }
    let (octets, _) = tlv(econtent.content, 0, econtent.content_offset)?;
    if octets.tag != 0x04 {
        return Err(Error::BadCms {
            offset: econtent.content_offset,
            reason: "eContent is not a primitive OCTET STRING",
        });
    }
    Ok((octets.content, octets.content_offset))
}
