//! Framing: legacy `TCG_PCClientPCREvent` records and crypto-agile `TCG_PCR_EVENT2` records,
//! parsed lazily, each event a zero-copy [`Event`]. Fixed-width fields are plain bounds-checked
//! loads (`uefi::u32_at`): nom's byte-slice number parsers are not inlined across crates without
//! LTO and cost half of parse time on real logs (1.0 µs → 0.5 µs per 35-event legacy log); nom
//! parses the once-per-log header structure (`spec_id.rs`). Every length is checked against the
//! bytes left before use.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::event::{Digests, Event};
use crate::event_type::EventType;
use crate::spec_id::{AlgorithmTable, SpecId, SPEC_ID_SIGNATURE};
use crate::uefi::{u16_at, u32_at};

/// Largest event data accepted: 16 MiB. The largest real events (db/dbx variables, Windows
/// loaded-module containers) are tens of KiB; this bounds the work per event without refusing any
/// real log. Data is never copied, so the limit is about sanity, not memory.
pub const MAX_EVENT_DATA: u32 = 16 * 1024 * 1024;

/// Largest number of events iterated: 4 million (real logs have tens to hundreds; benchmarks use
/// 100k). Bounds the time a hostile log can take.
pub const MAX_EVENTS: u32 = 4_000_000;

/// Size of a legacy event header (pcr, type, SHA-1 digest, data size).
const LEGACY_HEADER: usize = 32;

/// Which framing a log uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogFormat {
    /// SHA-1 only `TCG_PCClientPCREvent` records (TPM 1.2 logs, and Windows' SHA-1 logs).
    LegacySha1,
    /// A legacy Spec ID Event03 header followed by `TCG_PCR_EVENT2` records.
    CryptoAgile,
}

/// A TCG event log over borrowed bytes. Parsing reads the header only; events are read lazily.
#[derive(Debug, Clone, Copy)]
pub struct EventLog<'a> {
    bytes: &'a [u8],
    format: LogFormat,
    spec_id: Option<SpecId<'a>>,
    table: AlgorithmTable,
}

impl<'a> EventLog<'a> {
    /// Reads the first record and decides the format: crypto-agile only when the first event is
    /// an EV_NO_ACTION carrying the "Spec ID Event03" signature (a first EV_NO_ACTION alone proves
    /// nothing: Windows' legacy logs start with a StartupLocality EV_NO_ACTION).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < LEGACY_HEADER {
            return Err(Error::TooShort { len: bytes.len() });
        }
        let (first, _) = read_legacy(bytes, 0, 0)?;
        let (format, spec_id, table) = if first.event_type == EventType::NoAction
            && first.data.starts_with(SPEC_ID_SIGNATURE)
        {
            let spec = SpecId::parse(first.data, LEGACY_HEADER)?;
            (LogFormat::CryptoAgile, Some(spec), spec.algorithms)
        } else {
            (LogFormat::LegacySha1, None, AlgorithmTable::LEGACY)
        };
        Ok(EventLog {
            bytes,
            format,
            spec_id,
            table,
        })
    }

    /// The framing.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// The crypto-agile header, if any.
    pub fn spec_id(&self) -> Option<&SpecId<'a>> {
        self.spec_id.as_ref()
    }

    /// The digest table (SHA-1 only for legacy logs).
    pub fn algorithm_table(&self) -> &AlgorithmTable {
        &self.table
    }

    /// The banks this log carries that this crate can replay, in header order.
    pub fn banks(&self) -> Vec<crate::alg::HashAlg> {
        self.table.known_banks().collect()
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Lazy iterator over events. It yields an error at the first malformed event, then stops.
    pub fn events(&self) -> Events<'a> {
        Events {
            log: *self,
            offset: 0,
            index: 0,
            done: false,
        }
    }

    /// Reads events until the first malformed one: what parsed before it, and the error (if any),
    /// so a caller can use a truncated log knowingly — never silently.
    pub fn read_lenient(&self) -> LenientRead<'a> {
        let mut events = Vec::new();
        let mut truncated = None;
        for e in self.events() {
            match e {
                Ok(e) => events.push(e),
                Err(err) => {
                    truncated = Some(err);
                    break;
                }
            }
        }
        LenientRead { events, truncated }
    }

    /// Parses every event, failing on the first malformed one.
    pub fn read_all(&self) -> Result<Vec<Event<'a>>> {
        self.events().collect()
    }
}

/// What [`EventLog::read_lenient`] returns.
#[derive(Debug, Clone)]
pub struct LenientRead<'a> {
    /// Events before the first malformed one.
    pub events: Vec<Event<'a>>,
    /// Why reading stopped early, if it did.
    pub truncated: Option<Error>,
}

/// Lazy event iterator (see [`EventLog::events`]).
#[derive(Debug, Clone)]
pub struct Events<'a> {
    log: EventLog<'a>,
    offset: usize,
    index: u32,
    done: bool,
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<Event<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.offset >= self.log.bytes.len() {
            return None;
        }
        if self.index >= MAX_EVENTS {
            self.done = true;
            return Some(Err(Error::TooManyEvents { max: MAX_EVENTS }));
        }
        let r = if self.index == 0 || self.log.format == LogFormat::LegacySha1 {
            read_legacy(self.log.bytes, self.offset, self.index)
        } else {
            read_agile(self.log.bytes, self.offset, self.index, &self.log.table)
        };
        match r {
            Ok((e, next)) => {
                self.offset = next;
                self.index += 1;
                Some(Ok(e))
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

fn truncated(index: u32, offset: usize, what: &'static str, needed: usize) -> Error {
    Error::Truncated {
        index,
        offset,
        what: what.into(),
        needed: needed.max(1),
    }
}

/// Reads one legacy record at `offset`: the event and the offset of the next record.
#[inline]
fn read_legacy(bytes: &[u8], offset: usize, index: u32) -> Result<(Event<'_>, usize)> {
    let rec = bytes.get(offset..).unwrap_or(&[]);
    if rec.len() < LEGACY_HEADER {
        return Err(truncated(
            index,
            offset,
            "legacy event header",
            LEGACY_HEADER - rec.len(),
        ));
    }
    // The fixed 32-byte header is in bounds (checked above): read its fields directly.
    let field = |at: usize| u32::from_le_bytes([rec[at], rec[at + 1], rec[at + 2], rec[at + 3]]);
    let (pcr, ty, size) = (field(0), field(4), field(28));
    let digest = &rec[8..28];
    let data = take_data(rec, LEGACY_HEADER, size, index, offset)?;
    let next = offset + LEGACY_HEADER + data.len();
    Ok((
        Event::new(
            index,
            offset,
            pcr,
            EventType::from_u32(ty),
            Digests::legacy(digest),
            data,
        ),
        next,
    ))
}

fn take_data(rec: &[u8], at: usize, size: u32, index: u32, offset: usize) -> Result<&[u8]> {
    if size > MAX_EVENT_DATA {
        return Err(Error::TooLarge {
            index,
            offset,
            what: Cow::Borrowed("event data"),
            size: u64::from(size),
            max: u64::from(MAX_EVENT_DATA),
        });
    }
    let size = size as usize;
    let avail = rec.len().saturating_sub(at);
    rec.get(at..at + size)
        .ok_or_else(|| truncated(index, offset, "event data", size - avail))
}

/// Reads one TCG_PCR_EVENT2 at `offset`: the event and the offset of the next record.
#[inline]
fn read_agile<'a>(
    bytes: &'a [u8],
    offset: usize,
    index: u32,
    table: &AlgorithmTable,
) -> Result<(Event<'a>, usize)> {
    let rec = bytes.get(offset..).unwrap_or(&[]);
    let pcr = u32_at(rec, 0).ok_or_else(|| truncated(index, offset, "pcrIndex", 4 - rec.len()))?;
    let ty = u32_at(rec, 4).ok_or_else(|| truncated(index, offset, "eventType", 8 - rec.len()))?;
    let count =
        u32_at(rec, 8).ok_or_else(|| truncated(index, offset, "digest count", 12 - rec.len()))?;
    let declared = table.entries().len();
    if count as usize > declared {
        return Err(Error::BadDigestCount {
            index,
            offset,
            count,
            declared,
        });
    }
    let digests_start = 12;
    let mut at = digests_start;
    let mut seen = [0u16; crate::spec_id::MAX_ALGORITHMS];
    for i in 0..count as usize {
        let alg = u16_at(rec, at)
            .ok_or_else(|| truncated(index, offset, "digest algorithm", at + 2 - rec.len()))?;
        let size =
            table
                .size_of(alg)
                .ok_or(Error::UnknownDigestAlgorithm { index, offset, alg })?;
        if seen[..i].contains(&alg) {
            return Err(Error::BadDigestCount {
                index,
                offset,
                count,
                declared,
            });
        }
        seen[i] = alg;
        let end = at + 2 + size;
        if rec.len() < end {
            return Err(truncated(index, offset, "digest", end - rec.len()));
        }
        at = end;
    }
    let digests_end = at;
    let size =
        u32_at(rec, at).ok_or_else(|| truncated(index, offset, "eventSize", at + 4 - rec.len()))?;
    let data_at = at + 4;
    let data = take_data(rec, data_at, size, index, offset)?;
    let digests = Digests::agile(&rec[digests_start..digests_end], count, *table);
    let next = offset + data_at + data.len();
    Ok((
        Event::new(index, offset, pcr, EventType::from_u32(ty), digests, data),
        next,
    ))
}
