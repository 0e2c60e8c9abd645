//! One event of a TCG log, borrowing its digests and data from the input.

use crate::alg::HashAlg;
use crate::event_type::EventType;
use crate::spec_id::AlgorithmTable;

/// PCR index Windows uses for records that are never extended (trust points).
pub const PCR_NOT_EXTENDED: u32 = 0xFFFF_FFFF;

/// One event. `Copy`, no allocation: digests and data are slices of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// Position in the log, from 0 (the crypto-agile header is event 0).
    pub index: u32,
    /// Byte offset of the event in the log.
    pub offset: usize,
    /// PCR index (0xFFFFFFFF for Windows' non-measured records).
    pub pcr: u32,
    /// Event type.
    pub event_type: EventType,
    /// Event data.
    pub data: &'a [u8],
    digests: Digests<'a>,
}

/// The digests of one event: a legacy SHA-1 digest, or a validated TPML_DIGEST_VALUES body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests<'a> {
    raw: &'a [u8],
    count: u32,
    table: AlgorithmTable,
    legacy: bool,
}

impl<'a> Digests<'a> {
    pub(crate) fn legacy(sha1: &'a [u8]) -> Self {
        Digests {
            raw: sha1,
            count: 1,
            table: AlgorithmTable::LEGACY,
            legacy: true,
        }
    }

    /// `raw` is `count` entries `{u16 alg, digest}` already validated against `table`.
    pub(crate) fn agile(raw: &'a [u8], count: u32, table: AlgorithmTable) -> Self {
        Digests {
            raw,
            count,
            table,
            legacy: false,
        }
    }

    /// Number of digests, including algorithms this crate cannot hash.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the event carries no digest.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Calls `f` with each (TPM_ALG_ID, digest) in order, reading the algorithm table in place
    /// (the iterator copies it; replay's per-event path cannot afford that copy).
    #[inline]
    pub(crate) fn for_each_raw(&self, mut f: impl FnMut(u16, &'a [u8])) {
        if self.legacy {
            if self.count == 1 {
                f(0x0004, self.raw);
            }
            return;
        }
        let mut rest = self.raw;
        for _ in 0..self.count {
            let Some((alg, d)) = next_agile_digest(&mut rest, &self.table) else {
                return;
            };
            f(alg, d);
        }
    }

    /// `(TPM_ALG_ID, digest)` for every digest, including unknown algorithms.
    pub fn raw_iter(&self) -> RawDigestIter<'a> {
        RawDigestIter {
            rest: self.raw,
            left: self.count,
            table: self.table,
            legacy: self.legacy,
        }
    }
}

/// Iterator over `(TPM_ALG_ID, digest)`.
#[derive(Debug, Clone)]
pub struct RawDigestIter<'a> {
    rest: &'a [u8],
    left: u32,
    table: AlgorithmTable,
    legacy: bool,
}

impl<'a> Iterator for RawDigestIter<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if self.legacy {
            let d = self.rest;
            self.rest = &[];
            return Some((0x0004, d));
        }
        next_agile_digest(&mut self.rest, &self.table)
    }
}

impl<'a> Event<'a> {
    pub(crate) fn new(
        index: u32,
        offset: usize,
        pcr: u32,
        event_type: EventType,
        digests: Digests<'a>,
        data: &'a [u8],
    ) -> Self {
        Event {
            index,
            offset,
            pcr,
            event_type,
            data,
            digests,
        }
    }

    /// The digest for bank `alg`, if the event carries one.
    pub fn digest(&self, alg: HashAlg) -> Option<&'a [u8]> {
        let id = alg.tpm_alg_id();
        self.digests
            .raw_iter()
            .find(|(a, _)| *a == id)
            .map(|(_, d)| d)
    }

    /// `(bank, digest)` for every digest of an algorithm this crate knows.
    pub fn digests(&self) -> impl Iterator<Item = (HashAlg, &'a [u8])> + 'a {
        self.digests
            .raw_iter()
            .filter_map(|(a, d)| HashAlg::from_tpm_alg_id(a).map(|h| (h, d)))
    }

    /// All digests, with raw algorithm ids.
    pub fn raw_digests(&self) -> Digests<'a> {
        self.digests
    }

    /// Whether replay extends this event into a PCR (not EV_NO_ACTION, a real PCR index).
    pub fn is_extended(&self) -> bool {
        self.event_type != EventType::NoAction && self.pcr < 24
    }
}

/// Reads one TPMT_HA (`alg`, digest of the size the table declares) off the front of `rest`.
#[inline]
fn next_agile_digest<'a>(rest: &mut &'a [u8], table: &AlgorithmTable) -> Option<(u16, &'a [u8])> {
    let alg = u16::from_le_bytes([*rest.first()?, *rest.get(1)?]);
    let size = table.size_of(alg)?;
    let d = rest.get(2..2 + size)?;
    *rest = rest.get(2 + size..)?;
    Some((alg, d))
}
