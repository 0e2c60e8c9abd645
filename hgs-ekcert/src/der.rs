//! A small, tolerant DER walker: tag-length-value over borrowed bytes, with the exact raw bytes of
//! every element kept. It accepts what real EK certificates contain and strict decoders refuse
//! (unsorted SET OF, explicitly encoded DEFAULTs, non-minimal INTEGERs, long serials) because it
//! never interprets more than the caller asks for, and nothing is ever re-encoded.
//!
//! Refused: indefinite lengths, multi-byte tags, lengths of more than 4 octets, and any length that
//! runs past its parent.

use crate::error::{Error, Result};

/// Universal tags used by this crate.
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;
}

/// One element: its tag, its content octets, and its full encoding (header + content).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
    /// Offset of the element's first byte, relative to the start of the outermost input.
    pub offset: usize,
}

impl<'a> Tlv<'a> {
    /// A reader over this element's content (for constructed types).
    pub(crate) fn reader(&self) -> Reader<'a> {
        Reader {
            data: self.value,
            pos: 0,
            base: self.offset + (self.raw.len() - self.value.len()),
        }
    }
}

/// Sequential reader over the content of one constructed element.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `data`, whose first byte is at `base` in the outermost input.
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    /// True when every element has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Absolute offset of the next element.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Tag of the next element, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next element, whatever its tag.
    pub(crate) fn read(&mut self, what: &'static str) -> Result<Tlv<'a>> {
        let start = self.pos;
        let offset = self.offset();
        let malformed = || Error::Malformed { what, offset };
        let rest = self.data.get(start..).ok_or_else(malformed)?;
        let (&tag, rest) = rest.split_first().ok_or_else(malformed)?;
        if tag & 0x1f == 0x1f {
            return Err(malformed());
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(malformed)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(malformed());
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(malformed());
        }
        let header = self.data.len() - start - rest.len();
        let end = start + header + len;
        let raw = &self.data[start..end];
        self.pos = end;
        Ok(Tlv {
            tag,
            value: &raw[header..],
            raw,
            offset,
        })
    }

    /// Reads the next element and requires `tag`.
    pub(crate) fn expect(&mut self, expected: u8, what: &'static str) -> Result<Tlv<'a>> {
        let offset = self.offset();
        let t = self.read(what)?;
        if t.tag != expected {
            return Err(Error::Malformed { what, offset });
        }
        Ok(t)
    }

    /// Reads the next element only when it has tag `wanted`.
    pub(crate) fn optional(&mut self, wanted: u8, what: &'static str) -> Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(wanted) {
            self.read(what).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails unless everything was read.
    pub(crate) fn finish(&self, what: &'static str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed {
                what,
                offset: self.offset(),
            })
        }
    }
}

/// Reads exactly one element spanning all of `input`.
pub(crate) fn single<'a>(input: &'a [u8], what: &'static str) -> Result<Tlv<'a>> {
    let mut r = Reader::new(input, 0);
    let t = r.read(what)?;
    r.finish(what)?;
    Ok(t)
}

/// Dotted-decimal form of an OBJECT IDENTIFIER's content octets.
pub(crate) fn oid_string(value: &[u8]) -> Option<String> {
    let mut arcs: Vec<u128> = Vec::new();
    let mut acc: u128 = 0;
    let mut pending = false;
    for &b in value {
        if acc > (u128::MAX >> 8) {
            return None;
        }
        acc = (acc << 7) | u128::from(b & 0x7f);
        pending = true;
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
            pending = false;
        }
    }
    if pending || arcs.is_empty() {
        return None;
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

/// An OID element's dotted form; malformed OIDs are an error.
pub(crate) fn read_oid(r: &mut Reader<'_>, what: &'static str) -> Result<String> {
    let t = r.expect(tag::OID, what)?;
    oid_string(t.value).ok_or(Error::Malformed {
        what,
        offset: t.offset,
    })
}

/// An unsigned INTEGER's magnitude (sign octet / leading zeros removed) as u64, when it fits.
pub(crate) fn small_uint(value: &[u8]) -> Option<u64> {
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let trimmed = strip_zeros(value);
    if trimmed.len() > 8 {
        return None;
    }
    Some(trimmed.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
}

/// `bytes` without leading zero octets.
pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[n..]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn oids_and_lengths() {
        assert_eq!(
            oid_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07]).unwrap(),
            "1.2.840.113549.1.1.7"
        );
        assert_eq!(
            oid_string(&[0x67, 0x81, 0x05, 0x08, 0x01]).unwrap(),
            "2.23.133.8.1"
        );
        assert!(oid_string(&[0x86]).is_none());
        let long = [0x04, 0x81, 0x02, 0xaa, 0xbb];
        let t = single(&long, "x").unwrap();
        assert_eq!(t.value, &[0xaa, 0xbb]);
        assert!(single(&[0x30, 0x80, 0, 0], "indefinite").is_err());
        assert!(single(&[0x30, 0x05, 0], "overrun").is_err());
        assert!(single(&[0x04, 0x00, 0x00], "trailing").is_err());
        assert_eq!(small_uint(&[0, 0, 1, 0]), Some(256));
        assert_eq!(small_uint(&[0x80]), None);
    }
}
