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
    len: usize,
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
        &self.entries[..self.len]
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
        let bad = |reason| Error::BadSpecId { offset, reason };
        if data.get(..16) != Some(&SPEC_ID_SIGNATURE[..]) {
            return Err(bad("signature is not \"Spec ID Event03\""));
        }
        let fixed = data
            .get(16..28)
            .ok_or(bad("truncated before the algorithm count"))?;
        let platform_class = u32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
        let (minor, major, errata, uintn_size) = (fixed[4], fixed[5], fixed[6], fixed[7]);
        let count = u32::from_le_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]) as usize;
        if count == 0 {
            return Err(bad("no algorithms"));
        }
        if count > MAX_ALGORITHMS {
            return Err(bad("more algorithms than any TPM has banks"));
        }
        let mut entries = [(0u16, 0u16); MAX_ALGORITHMS];
        for (i, e) in entries.iter_mut().enumerate().take(count) {
            let at = 28 + 4 * i;
            let b = data
                .get(at..at + 4)
                .ok_or(bad("truncated in the algorithm table"))?;
            let alg = u16::from_le_bytes([b[0], b[1]]);
            let size = u16::from_le_bytes([b[2], b[3]]);
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
        let vat = 28 + 4 * count;
        let vsize = usize::from(
            *data
                .get(vat)
                .ok_or(bad("truncated before vendorInfoSize"))?,
        );
        let vendor_info = data
            .get(vat + 1..vat + 1 + vsize)
            .ok_or(bad("vendorInfo runs past the event"))?;
        Ok(SpecId {
            platform_class,
            version: (major, minor, errata),
            uintn_size,
            algorithms: AlgorithmTable {
                entries,
                len: count,
            },
            vendor_info,
        })
    }
}
