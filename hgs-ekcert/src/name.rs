//! X.501 Names as certificates carry them: the exact DER (what chaining compares first) and a
//! normalised form that tolerates SET OF ordering in multi-valued RDNs, string-type changes
//! (PrintableString vs UTF8String), case and surrounding spaces — what a CA re-issuing the same
//! name may change without meaning a different issuer.

use std::fmt;

use crate::der::{self, tag, Reader, Tlv};
use crate::error::Result;

/// One attribute of an RDN: type OID (dotted) with its value's tag and content octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// Attribute type, dotted OID (e.g. `2.5.4.3` for CN).
    pub oid: String,
    /// The value's ASN.1 tag (0x0c UTF8String, 0x13 PrintableString, ...).
    pub tag: u8,
    /// The value's content octets.
    pub value: Vec<u8>,
}

/// A distinguished name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    /// The exact DER of the Name (SEQUENCE header included).
    pub der: Vec<u8>,
    /// The RDNs in encoded order, each with its attributes in encoded order.
    pub rdns: Vec<Vec<Attribute>>,
    /// Whether some multi-valued RDN's SET OF is not in DER order.
    pub unsorted_set: bool,
}

/// Normalised form of a [`Name`] used as a lookup key.
pub(crate) type NameKey = Vec<Vec<(String, Vec<u8>)>>;

fn is_string_tag(t: u8) -> bool {
    matches!(t, 0x0c | 0x12 | 0x13 | 0x14 | 0x16 | 0x1a | 0x1e | 0x1c)
}

/// DER SET OF order: encodings compared as octet strings, the shorter padded with zeros.
fn der_less_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let pad = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    for i in 0..n {
        match pad(a, i).cmp(&pad(b, i)) {
            std::cmp::Ordering::Less => return true,
            std::cmp::Ordering::Greater => return false,
            std::cmp::Ordering::Equal => {}
        }
    }
    true
}

impl Name {
    /// Reads a Name element.
    pub(crate) fn parse(t: &Tlv<'_>) -> Result<Self> {
        if t.tag != tag::SEQUENCE {
            return Err(crate::Error::Malformed {
                what: "Name",
                offset: t.offset,
            });
        }
        let mut rdns = Vec::new();
        let mut unsorted_set = false;
        let mut r = t.reader();
        while !r.is_empty() {
            let set = r.expect(tag::SET, "RelativeDistinguishedName")?;
            let mut sr = set.reader();
            let mut atvs = Vec::new();
            let mut prev: Option<&[u8]> = None;
            while !sr.is_empty() {
                let atv = sr.expect(tag::SEQUENCE, "AttributeTypeAndValue")?;
                if let Some(p) = prev {
                    if !der_less_eq(p, atv.raw) {
                        unsorted_set = true;
                    }
                }
                prev = Some(atv.raw);
                let mut ar = atv.reader();
                let oid = der::read_oid(&mut ar, "attribute type")?;
                let v = ar.read("attribute value")?;
                ar.finish("AttributeTypeAndValue")?;
                atvs.push(Attribute {
                    oid,
                    tag: v.tag,
                    value: v.value.to_vec(),
                });
            }
            rdns.push(atvs);
        }
        Ok(Self {
            der: t.raw.to_vec(),
            rdns,
            unsorted_set,
        })
    }

    /// Reads a Name from its DER.
    pub fn from_der(bytes: &[u8]) -> Result<Self> {
        Self::parse(&der::single(bytes, "Name")?)
    }

    /// True for the empty name (`30 00`).
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// Byte-for-byte equality of the encodings.
    pub fn raw_eq(&self, other: &Self) -> bool {
        self.der == other.der
    }

    /// Equality after normalisation (SET OF order, string type, case, spaces).
    pub fn normalized_eq(&self, other: &Self) -> bool {
        self.raw_eq(other) || self.key() == other.key()
    }

    /// The normalised lookup key.
    pub(crate) fn key(&self) -> NameKey {
        self.rdns
            .iter()
            .map(|rdn| {
                let mut v: Vec<(String, Vec<u8>)> = rdn
                    .iter()
                    .map(|a| {
                        let value = if is_string_tag(a.tag) {
                            let s = String::from_utf8_lossy(&a.value);
                            s.split_whitespace()
                                .collect::<Vec<_>>()
                                .join(" ")
                                .to_lowercase()
                                .into_bytes()
                        } else {
                            let mut raw = vec![a.tag];
                            raw.extend_from_slice(&a.value);
                            raw
                        };
                        (a.oid.clone(), value)
                    })
                    .collect();
                v.sort();
                v
            })
            .collect()
    }

    /// The first value of attribute `oid`, as text.
    pub fn attribute(&self, oid: &str) -> Option<String> {
        self.rdns
            .iter()
            .flatten()
            .find(|a| a.oid == oid)
            .map(|a| String::from_utf8_lossy(&a.value).into_owned())
    }
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.23.133.2.1" => "TPMManufacturer",
        "2.23.133.2.2" => "TPMModel",
        "2.23.133.2.3" => "TPMVersion",
        _ => return None,
    })
}

/// RFC 4514 style, most specific RDN first (`CN=...,O=...,C=...`); `(empty)` for the empty name.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rdns.is_empty() {
            return f.write_str("(empty)");
        }
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, a) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                match short_name(&a.oid) {
                    Some(n) => f.write_str(n)?,
                    None => f.write_str(&a.oid)?,
                }
                f.write_str("=")?;
                if is_string_tag(a.tag) {
                    for c in String::from_utf8_lossy(&a.value).chars() {
                        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                } else {
                    f.write_str("#")?;
                    for b in &a.value {
                        write!(f, "{b:02x}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads a Name from a reader (used by the certificate parser).
pub(crate) fn read_name(r: &mut Reader<'_>, what: &'static str) -> Result<Name> {
    let t = r.expect(tag::SEQUENCE, what)?;
    Name::parse(&t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn atv(oid: &[u8], tag: u8, v: &[u8]) -> Vec<u8> {
        let mut inner = vec![0x06, oid.len() as u8];
        inner.extend_from_slice(oid);
        inner.push(tag);
        inner.push(v.len() as u8);
        inner.extend_from_slice(v);
        let mut out = vec![0x30, inner.len() as u8];
        out.extend(inner);
        out
    }

    fn name(rdns: &[Vec<Vec<u8>>]) -> Name {
        let mut seq = Vec::new();
        for rdn in rdns {
            let body: Vec<u8> = rdn.concat();
            seq.push(0x31);
            seq.push(body.len() as u8);
            seq.extend(body);
        }
        let mut der = vec![0x30, seq.len() as u8];
        der.extend(seq);
        Name::from_der(&der).unwrap()
    }

    #[test]
    fn set_order_and_string_type_tolerated() {
        let cn = atv(&[0x55, 4, 3], 0x0c, b"Nuvoton TPM Root CA 2010");
        let o = atv(&[0x55, 4, 10], 0x0c, b"Nuvoton Technology Corporation");
        let c = atv(&[0x55, 4, 6], 0x13, b"TW");
        let sorted = name(&[vec![c.clone(), cn.clone(), o.clone()]]);
        let unsorted = name(&[vec![cn.clone(), o.clone(), c.clone()]]);
        assert!(!sorted.unsorted_set);
        assert!(unsorted.unsorted_set);
        assert!(!sorted.raw_eq(&unsorted));
        assert!(sorted.normalized_eq(&unsorted));
        let printable = name(&[vec![
            atv(&[0x55, 4, 3], 0x13, b"nuvoton  TPM root CA 2010 "),
            o,
            c,
        ]]);
        assert!(printable.normalized_eq(&unsorted));
        let other = name(&[vec![atv(&[0x55, 4, 3], 0x0c, b"Nuvoton TPM Root CA 2011")]]);
        assert!(!other.normalized_eq(&unsorted));
        // Split RDNs are a different name from one multi-valued RDN.
        let split = name(&[vec![cn.clone()]]);
        assert!(!split.normalized_eq(&name(&[vec![cn.clone(), cn]])));
        assert_eq!(
            unsorted.to_string(),
            "CN=Nuvoton TPM Root CA 2010+O=Nuvoton Technology Corporation+C=TW"
        );
    }
}
