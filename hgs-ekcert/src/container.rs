//! What wraps a certificate on its way out of a TPM or a file: PEM armour, the TCG PC Client
//! stored-certificate NV header, and NV-index padding after the DER. Each form is recognised
//! narrowly and recorded as a [`Quirk`]; anything else after the certificate is refused.

use base64ct::{Base64, Encoding};

use crate::der;
use crate::error::{Error, Quirk, Result};

/// `TCG_TAG_PCCLIENT_STORED_CERT`, then `00` (full certificate), a 2-byte length, and
/// `TCG_TAG_PCCLIENT_FULL_CERT` (`10 02`).
const NV_HEADER_TAG: [u8; 2] = [0x10, 0x01];
const NV_FULL_CERT_TAG: [u8; 2] = [0x10, 0x02];

/// A certificate taken out of its container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unwrapped {
    /// The exact DER bytes of the certificate.
    pub der: Vec<u8>,
    /// Container quirks met (NV header, padding).
    pub quirks: Vec<Quirk>,
    /// Whether the input was PEM.
    pub pem: bool,
}

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The DER bodies of every `CERTIFICATE` block in PEM text (none when there are none).
pub(crate) fn pem_blocks(input: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut consumed = 0usize;
    while let Some(b) = find(rest, BEGIN) {
        let body_start = b + BEGIN.len();
        let e = find(&rest[body_start..], END).ok_or(Error::Malformed {
            what: "PEM END line",
            offset: consumed + body_start,
        })?;
        let body: Vec<u8> = rest[body_start..body_start + e]
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = Base64::decode_vec(std::str::from_utf8(&body).unwrap_or("!")).map_err(|_| {
            Error::Malformed {
                what: "PEM base64 body",
                offset: consumed + body_start,
            }
        })?;
        out.push(der);
        let next = body_start + e + END.len();
        consumed += next;
        rest = &rest[next..];
    }
    Ok(out)
}

/// Every certificate in `input`: the PEM blocks when it is PEM text (a bundle may hold several),
/// otherwise the single (possibly framed/padded) DER certificate.
pub fn certificates_in(input: &[u8]) -> Result<Vec<Vec<u8>>> {
    if find(input, BEGIN).is_some() {
        pem_blocks(input)
    } else {
        Ok(vec![input.to_vec()])
    }
}

/// Strips PEM armour, the NV header and uniform trailing padding, in that order.
pub(crate) fn unwrap(input: &[u8]) -> Result<Unwrapped> {
    let mut quirks = Vec::new();
    let pem_body;
    let (mut bytes, pem) = if find(input, BEGIN).is_some() {
        let mut blocks = pem_blocks(input)?;
        if blocks.len() != 1 {
            return Err(Error::Malformed {
                what: "PEM input must hold exactly one CERTIFICATE block",
                offset: 0,
            });
        }
        pem_body = blocks.remove(0);
        (&pem_body[..], true)
    } else {
        (input, false)
    };
    if bytes.starts_with(&NV_HEADER_TAG) {
        let header = bytes.get(..7).ok_or(Error::Malformed {
            what: "TCG NV stored-certificate header",
            offset: 0,
        })?;
        let declared = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if header[2] != 0x00 || header[5..7] != NV_FULL_CERT_TAG || declared < 2 {
            return Err(Error::Malformed {
                what: "TCG NV stored-certificate header",
                offset: 0,
            });
        }
        let body = &bytes[7..];
        if declared - 2 > body.len() {
            return Err(Error::Malformed {
                what: "TCG NV stored-certificate length",
                offset: 3,
            });
        }
        quirks.push(Quirk::NvHeader);
        bytes = body;
    }
    let mut r = der::Reader::new(bytes, 0);
    let cert = r.expect(der::tag::SEQUENCE, "Certificate")?;
    let tail = &bytes[cert.raw.len()..];
    if let Some(&first) = tail.first() {
        if tail.iter().all(|b| *b == first) {
            quirks.push(Quirk::TrailingPadding {
                byte: first,
                count: tail.len(),
            });
        } else {
            return Err(Error::TrailingData { count: tail.len() });
        }
    }
    Ok(Unwrapped {
        der: cert.raw.to_vec(),
        quirks,
        pem,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CERTISH: [u8; 4] = [0x30, 0x02, 0x05, 0x00];

    #[test]
    fn nv_header_and_padding() {
        let mut nv = vec![0x10, 0x01, 0x00, 0x00, 0x06, 0x10, 0x02];
        nv.extend_from_slice(&CERTISH);
        let u = unwrap(&nv).unwrap();
        assert_eq!(u.der, CERTISH);
        assert_eq!(u.quirks, vec![Quirk::NvHeader]);

        let mut padded = CERTISH.to_vec();
        padded.extend_from_slice(&[0xff; 10]);
        let u = unwrap(&padded).unwrap();
        assert_eq!(
            u.quirks,
            vec![Quirk::TrailingPadding {
                byte: 0xff,
                count: 10
            }]
        );

        let mut junk = CERTISH.to_vec();
        junk.extend_from_slice(&[0xff, 0x00]);
        assert_eq!(unwrap(&junk), Err(Error::TrailingData { count: 2 }));

        // Header with a wrong inner tag or a length beyond the input is refused.
        let mut bad = nv.clone();
        bad[6] = 0x03;
        assert!(unwrap(&bad).is_err());
        let mut long = nv.clone();
        long[4] = 0x40;
        assert!(unwrap(&long).is_err());
    }

    #[test]
    fn pem() {
        let text = b"junk\n-----BEGIN CERTIFICATE-----\nMAIF\nAA==\n-----END CERTIFICATE-----\n";
        let u = unwrap(text).unwrap();
        assert!(u.pem);
        assert_eq!(u.der, CERTISH);
        let two = [&text[..], &text[..]].concat();
        assert_eq!(certificates_in(&two).unwrap().len(), 2);
        assert!(unwrap(&two).is_err());
    }
}
