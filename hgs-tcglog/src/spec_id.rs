//! The crypto-agile log header: `TCG_EfiSpecIdEvent` ("Spec ID Event03") and its digest-size table.

use crate::alg::HashAlg;
use crate::error::{Error, Result};

/// The signature that makes a log crypto-agile (with its NUL).
pub const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";

/// At most this many algorithms in the header. TPM 2.0 PC-client TPMs have at most 5 banks;
/// go-attestation's "malicious_number_of_algs" test uses 0xFFFFFFFF, so the count must be bounded.
pub const MAX_ALGORITHMS: usize = 8;

/// The digest-size table: algorithm ids and their sizes as the header declares them, including
/// algorithms this crate cannot hash (those are skipped by their declared size, never guessed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmTable {
    entries: [(u16, u16); MAX_ALGORITHMS],
    len: u8,
}

impl AlgorithmTable {
    /// The SHA-1-only table of a legacy log.
    pub const LEGACY: AlgorithmTable = AlgorithmTable {
        entries: [
            (0x0004, 20),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
        ],
        len: 1,
    };

    /// `(TPM_ALG_ID, digest size)` pairs in header order.
    pub fn entries(&self) -> &[(u16, u16)] {
        &self.entries[..usize::from(self.len)]
    }

    /// Declared size of `alg`, if listed.
    pub fn size_of(&self, alg: u16) -> Option<usize> {
        self.entries()
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, s)| usize::from(*s))
    }

    /// The listed banks this crate can replay, in header order.
    pub fn known_banks(&self) -> impl Iterator<Item = HashAlg> + '_ {
        self.entries()
            .iter()
            .filter_map(|(a, _)| HashAlg::from_tpm_alg_id(*a))
    }
}

/// A parsed Spec ID Event03.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecId<'a> {
    /// Platform class (0 client, 1 server).
    pub platform_class: u32,
    /// Spec version: (major, minor, errata).
    pub version: (u8, u8, u8),
    /// UINTN size (1 = 32-bit, 2 = 64-bit).
    pub uintn_size: u8,
    /// The digest-size table.
    pub algorithms: AlgorithmTable,
    /// Vendor information bytes.
    pub vendor_info: &'a [u8],
}

impl<'a> SpecId<'a> {
    /// Parses the header's event data. `offset` is where the data starts in the log (for errors).
    pub fn parse(data: &'a [u8], offset: usize) -> Result<Self> {
        use nom::bytes::complete::{tag, take};
        use nom::number::complete::{le_u16, le_u32, u8 as byte};
        use nom::Parser;
        type In<'i> = &'i [u8];

        let bad = |reason: &'static str| Error::BadSpecId {
            offset,
            reason: reason.into(),
        };
        let (rest, _) = tag::<_, In<'_>, ()>(&SPEC_ID_SIGNATURE[..])
            .parse(data)
            .map_err(|_| bad("signature is not \"Spec ID Event03\""))?;
        // platformClass, specVersionMinor, specVersionMajor, specErrata, uintnSize,
        // numberOfAlgorithms.
        let (mut rest, (platform_class, minor, major, errata, uintn_size, count)) = (
            le_u32::<In<'_>, ()>,
            byte::<In<'_>, ()>,
            byte::<In<'_>, ()>,
            byte::<In<'_>, ()>,
            byte::<In<'_>, ()>,
            le_u32::<In<'_>, ()>,
        )
            .parse(rest)
            .map_err(|_| bad("truncated before the algorithm count"))?;
        let count = count as usize;
        if count == 0 {
            return Err(bad("no algorithms"));
        }
        if count > MAX_ALGORITHMS {
            return Err(bad("more algorithms than any TPM has banks"));
        }
        let mut entries = [(0u16, 0u16); MAX_ALGORITHMS];
        for e in entries.iter_mut().take(count) {
            // TCG_EfiSpecIdEventAlgorithmSize: algorithmId, digestSize.
            let (after, (alg, size)) = (le_u16::<In<'_>, ()>, le_u16::<In<'_>, ()>)
                .parse(rest)
                .map_err(|_| bad("truncated in the algorithm table"))?;
            rest = after;
            if let Some(known) = HashAlg::from_tpm_alg_id(alg) {
                if usize::from(size) != known.digest_len() {
                    return Err(bad("declared digest size disagrees with the algorithm"));
                }
            }
            if size == 0 || usize::from(size) > 128 {
                return Err(bad("absurd digest size"));
            }
            *e = (alg, size);
        }
        if (0..count).any(|i| (0..i).any(|j| entries[i].0 == entries[j].0)) {
            return Err(bad("an algorithm is listed twice"));
        }
        let (rest, vsize) =
            byte::<In<'_>, ()>(rest).map_err(|_| bad("truncated before vendorInfoSize"))?;
        let (_, vendor_info) = take::<_, In<'_>, ()>(vsize)
            .parse(rest)
            .map_err(|_| bad("vendorInfo runs past the event"))?;
        Ok(SpecId {
            platform_class,
            version: (major, minor, errata),
            uintn_size,
            algorithms: AlgorithmTable {
                entries,
                // count <= MAX_ALGORITHMS (checked above).
                len: u8::try_from(count)
                    .map_err(|_| bad("more algorithms than any TPM has banks"))?,
            },
            vendor_info,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Spec ID Event03 data with `count` and the given (alg, size) entries, no vendor info.
    fn spec(count: u32, entries: &[(u16, u16)]) -> Vec<u8> {
        let mut d = SPEC_ID_SIGNATURE.to_vec();
        d.extend_from_slice(&0u32.to_le_bytes()); // platform class
        d.extend_from_slice(&[0, 2, 0, 2]); // minor, major, errata, uintn
        d.extend_from_slice(&count.to_le_bytes());
        for (a, s) in entries {
            d.extend_from_slice(&a.to_le_bytes());
            d.extend_from_slice(&s.to_le_bytes());
        }
        d.push(0); // vendorInfoSize
        d
    }

    fn reason(d: &[u8]) -> String {
        match SpecId::parse(d, 32) {
            Err(Error::BadSpecId { offset: 32, reason }) => reason.into_owned(),
            other => panic!("expected BadSpecId, got {other:?}"),
        }
    }

    #[test]
    fn header_fields_and_table_are_read() {
        let data = spec(2, &[(0x0004, 20), (0x000b, 32)]);
        let s = SpecId::parse(&data, 32).unwrap();
        assert_eq!(s.version, (2, 0, 0));
        assert_eq!(s.uintn_size, 2);
        assert_eq!(s.algorithms.entries(), &[(0x0004, 20), (0x000b, 32)]);
        assert!(s.vendor_info.is_empty());
    }

    #[test]
    fn each_bad_header_has_its_own_reason() {
        assert_eq!(reason(&spec(0, &[])), "no algorithms");
        let nine = [(0x0004, 20); 9];
        assert_eq!(
            reason(&spec(9, &nine)),
            "more algorithms than any TPM has banks"
        );
        assert_eq!(
            reason(&spec(u32::MAX, &[(0x0004, 20)])),
            "more algorithms than any TPM has banks"
        );
        assert_eq!(
            reason(&spec(1, &[(0x000b, 20)])),
            "declared digest size disagrees with the algorithm"
        );
        assert_eq!(
            reason(&spec(2, &[(0x0004, 20), (0x0004, 20)])),
            "an algorithm is listed twice"
        );
        let mut short = spec(1, &[(0x0004, 20)]);
        short.truncate(short.len() - 3);
        assert_eq!(reason(&short), "truncated in the algorithm table");
        let mut vendor = spec(1, &[(0x0004, 20)]);
        *vendor.last_mut().unwrap() = 5;
        assert_eq!(reason(&vendor), "vendorInfo runs past the event");
        assert_eq!(
            reason(&spec(1, &[(0x0004, 20)])[..20]),
            "truncated before the algorithm count"
        );
        assert_eq!(
            reason(b"Spec ID Event02\0"),
            "signature is not \"Spec ID Event03\""
        );
    }
}
