//! The trust boundary: a log bound to verified quotes ([`QuotedLog`]), and the only events a
//! verifier may read from it ([`QuotedEvent`]).
//!
//! A TPM quote signs PCR values and nothing else. Event types, event data, banks no quote selected,
//! PCRs outside the selection: all of that is text the host wrote. So:
//!
//! - [`QuotedLog::bind`] takes [`hgs_tpm::VerifiedQuote`]s (which only `hgs_tpm::verify_quote`
//!   makes), replays the log, and recomputes every quote's PCR digest from the replayed values. Only
//!   when every digest matches is there a `QuotedLog`.
//! - One bank is trusted for reading: the strongest bank a quote selected ([`QuotedLog::bank`]),
//!   subject to a [`BankPolicy`] (SHA-256 or stronger by default; SHA-1 only when allowed, and never
//!   when the log declares a stronger bank than every quoted one). A quoted bank the log does not
//!   declare is refused: its PCRs were never extended by anything the log describes.
//! - [`QuotedLog::events`] yields only events extended into a PCR the quotes selected in that
//!   bank. [`QuotedEvent::data`] is `Some` only for event types whose digest is defined over their
//!   data and whose digest *in the trusted bank* is the hash of that data (checked once, at bind).
//!
//! Everything that decides a verdict (boot claims, baseline matching, CI-policy measurement) takes
//! a `QuotedLog`, so reading unquoted data is a type error, not a code-review finding.
//!
//! [`ReferenceLog`] is the same reading of a log an administrator captured on a reference host
//! (no quote: the administrator vouches for it by registering it). It is accepted only where a
//! reference is meant: baseline capture and CI-policy registration.

use hgs_tpm::{PcrSet, VerifiedQuote};

use crate::alg::HashAlg;
use crate::digest_check::{check_event_in_bank, digest_covers_data, DigestMismatch};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::event_type::EventType;
use crate::parse::{EventLog, LogFormat};
use crate::replay::replay;

/// Which banks may be trusted for reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankPolicy {
    /// SHA-256, SHA-384, SHA-512 or SM3-256 (default).
    #[default]
    Sha256OrStronger,
    /// SHA-1 too — but only when the log declares no stronger bank (else [`BindError::Downgrade`]).
    /// Windows extends its PCR 11–14 events into SHA-256 only, leaving SHA-1 PCRs 12–14 free for
    /// anyone on the host to extend: this is for old SHA-1-only TPMs, nothing else.
    AllowSha1,
}

/// How strong a bank's hash is: SHA-1 is the only one below 256 bits.
fn strength(alg: HashAlg) -> u8 {
    match alg {
        HashAlg::Sha1 => 0,
        HashAlg::Sm3_256 => 1,
        HashAlg::Sha256 => 2,
        HashAlg::Sha384 => 3,
        HashAlg::Sha512 => 4,
    }
}

/// Why a log cannot be bound to its quotes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// No verified quote was given.
    #[error("no verified quote to bind the log to")]
    NoQuote,
    /// The log does not parse.
    #[error("the log does not parse")]
    Log(#[source] Error),
    /// A quote selects a bank this crate cannot replay.
    #[error("quote {quote} selects bank 0x{bank:04x}, which this verifier cannot replay")]
    UnknownBank {
        /// Index of the quote.
        quote: usize,
        /// TPM_ALG_ID.
        bank: u16,
    },
    /// A quote selects a bank the log does not declare: nothing the log describes extended it.
    #[error("quote {quote} selects the {bank} bank, which the log does not declare")]
    BankNotInLog {
        /// Index of the quote.
        quote: usize,
        /// The bank.
        bank: HashAlg,
    },
    /// The replayed PCR values do not hash to a quote's PCR digest: an event was added, removed,
    /// reordered or edited, or the log is of another boot.
    #[error("the log does not replay to quote {quote}'s PCR digest (banks {banks:?})")]
    DigestMismatch {
        /// Index of the quote.
        quote: usize,
        /// Banks the quote selects.
        banks: Vec<HashAlg>,
        /// The quoted digest.
        quoted: Vec<u8>,
        /// The digest of the replayed values.
        replayed: Vec<u8>,
    },
    /// Only banks weaker than the policy allows were quoted.
    #[error("only the {strongest} bank was quoted; the bank policy requires SHA-256 or stronger")]
    WeakBank {
        /// The strongest quoted bank.
        strongest: HashAlg,
    },
    /// SHA-1 was quoted while the log declares a stronger bank nobody quoted.
    #[error("only {quoted} was quoted although the log declares {declared}: downgrade refused")]
    Downgrade {
        /// The strongest quoted bank.
        quoted: HashAlg,
        /// A stronger bank the log declares.
        declared: HashAlg,
    },
}

/// The reading shared by [`QuotedLog`] and [`ReferenceLog`]: one bank, a set of PCRs, and the
/// events (on those PCRs) whose data is not covered by their digest in that bank.
#[derive(Debug, Clone)]
struct View<'a> {
    log: EventLog<'a>,
    bank: HashAlg,
    pcrs: PcrSet,
    mismatches: Vec<DigestMismatch>,
}

impl<'a> View<'a> {
    /// Checks, once, every data-covering event on `pcrs` against its `bank` digest. The log
    /// must already be known to parse whole (a replay of it succeeded).
    fn new(log: EventLog<'a>, bank: HashAlg, pcrs: PcrSet) -> Result<View<'a>> {
        let mut mismatches = Vec::new();
        for e in log.events() {
            let e = e?;
            if e.is_extended() && pcrs.contains(e.pcr) {
                if let Some(m) = check_event_in_bank(&e, bank) {
                    mismatches.push(m);
                }
            }
        }
        Ok(View {
            log,
            bank,
            pcrs,
            mismatches,
        })
    }

    fn events(&self) -> QuotedEvents<'a, '_> {
        QuotedEvents {
            inner: self.log.events(),
            view: self,
        }
    }

    fn trusted_data(&self, e: &Event<'_>) -> bool {
        digest_covers_data(e)
            && self
                .mismatches
                .binary_search_by_key(&e.index, |m| m.event_index)
                .is_err()
    }
}

/// A log bound to verified quotes: the only way to the events a verdict may rest on.
#[derive(Debug, Clone)]
pub struct QuotedLog<'a> {
    view: View<'a>,
    quoted: Vec<(HashAlg, PcrSet)>,
    nonce_checked: bool,
}

impl<'a> QuotedLog<'a> {
    /// Binds `log` to `quotes`: replays the log and requires that, for every quote, the digest of
    /// the replayed values of the PCRs it selects (banks in selection order, PCRs ascending,
    /// hashed with the quote's digest algorithm, as TPM2_Quote computes it) is the quoted digest.
    pub fn bind(
        log: EventLog<'a>,
        quotes: &[VerifiedQuote],
        policy: BankPolicy,
    ) -> core::result::Result<QuotedLog<'a>, BindError> {
        if quotes.is_empty() {
            return Err(BindError::NoQuote);
        }
        let replayed = replay(&log).map_err(BindError::Log)?;
        let mut quoted: Vec<(HashAlg, PcrSet)> = Vec::new();
        for (qi, q) in quotes.iter().enumerate() {
            let mut parts: Vec<&[u8]> = Vec::new();
            let mut banks = Vec::with_capacity(q.selection().len());
            for &(id, pcrs) in q.selection() {
                let alg = HashAlg::from_tpm_alg_id(id).ok_or(BindError::UnknownBank {
                    quote: qi,
                    bank: id,
                })?;
                if log.algorithm_table().size_of(id).is_none() {
                    return Err(BindError::BankNotInLog {
                        quote: qi,
                        bank: alg,
                    });
                }
                banks.push(alg);
                for p in pcrs.iter() {
                    // Every bank the log declares is replayed, and p < 24: always present.
                    parts.push(replayed.get(alg, p).ok_or(BindError::BankNotInLog {
                        quote: qi,
                        bank: alg,
                    })?);
                }
                match quoted.iter_mut().find(|(b, _)| *b == alg) {
                    Some((_, s)) => *s = s.union(pcrs),
                    None => quoted.push((alg, pcrs)),
                }
            }
            let computed = q.digest_alg().hash_parts(&parts);
            if computed != q.pcr_digest() {
                return Err(BindError::DigestMismatch {
                    quote: qi,
                    banks,
                    quoted: q.pcr_digest().to_vec(),
                    replayed: computed,
                });
            }
        }
        let Some(&(bank, pcrs)) = quoted
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .max_by_key(|(b, _)| strength(*b))
        else {
            return Err(BindError::NoQuote);
        };
        if strength(bank) == 0 {
            match policy {
                BankPolicy::Sha256OrStronger => {
                    return Err(BindError::WeakBank { strongest: bank });
                }
                BankPolicy::AllowSha1 => {
                    if let Some(declared) = log
                        .algorithm_table()
                        .known_banks()
                        .find(|b| strength(*b) > 0)
                    {
                        return Err(BindError::Downgrade {
                            quoted: bank,
                            declared,
                        });
                    }
                }
            }
        }
        let view = View::new(log, bank, pcrs).map_err(BindError::Log)?;
        Ok(QuotedLog {
            view,
            quoted,
            nonce_checked: quotes.iter().all(VerifiedQuote::nonce_checked),
        })
    }

    /// The bank events are read in: the strongest quoted bank.
    pub fn bank(&self) -> HashAlg {
        self.view.bank
    }

    /// The PCRs quoted in [`QuotedLog::bank`]: the only PCRs whose events are read.
    pub fn pcrs(&self) -> PcrSet {
        self.view.pcrs
    }

    /// Every quoted bank with its quoted PCRs.
    pub fn quoted_banks(&self) -> &[(HashAlg, PcrSet)] {
        &self.quoted
    }

    /// Whether every quote carried the verifier's nonce.
    pub fn nonce_checked(&self) -> bool {
        self.nonce_checked
    }

    /// The log's format.
    pub fn format(&self) -> LogFormat {
        self.view.log.format()
    }

    /// The banks the log declares (that this crate knows).
    pub fn declared_banks(&self) -> Vec<HashAlg> {
        self.view.log.banks()
    }

    /// The extended events on quoted PCRs, in log order.
    pub fn events(&self) -> QuotedEvents<'a, '_> {
        self.view.events()
    }

    /// Events on quoted PCRs whose data-covering digest in the trusted bank is not the hash of
    /// their data, or which carry no digest in that bank (`logged` empty), in log order.
    pub fn digest_mismatches(&self) -> &[DigestMismatch] {
        &self.view.mismatches
    }

    /// The exact log bytes that were bound (e.g. to store them with a verdict).
    pub fn bytes(&self) -> &'a [u8] {
        self.view.log.bytes()
    }
}

/// A reference host's log, read like a [`QuotedLog`] but vouched for by the administrator who
/// captured and registers it, not by a quote: every PCR, in the strongest bank the log declares.
///
/// Accepted by baseline capture and CI-policy registration only; nothing in attestation takes one.
#[derive(Debug, Clone)]
pub struct ReferenceLog<'a> {
    view: View<'a>,
}

impl<'a> ReferenceLog<'a> {
    /// Reads a reference log: checks that it parses whole, and picks the strongest declared bank
    /// that its events really carry (a log may declare a bank the firmware never extended).
    pub fn new(log: EventLog<'a>) -> Result<ReferenceLog<'a>> {
        let mut carried = [false; 5];
        for e in log.events() {
            let e = e?;
            if e.is_extended() {
                for (alg, _) in e.digests() {
                    carried[usize::from(strength(alg))] = true;
                }
            }
        }
        let bank = log
            .algorithm_table()
            .known_banks()
            .filter(|b| carried[usize::from(strength(*b))])
            .max_by_key(|b| strength(*b))
            // A log with no extended event: any declared bank reads the same (nothing).
            .or_else(|| {
                log.algorithm_table()
                    .known_banks()
                    .max_by_key(|b| strength(*b))
            })
            .ok_or(Error::NoKnownBank)?;
        let all = PcrSet::of(&[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
        ]);
        Ok(ReferenceLog {
            view: View::new(log, bank, all)?,
        })
    }

    /// The bank events are read in.
    pub fn bank(&self) -> HashAlg {
        self.view.bank
    }

    /// The extended events, in log order.
    pub fn events(&self) -> QuotedEvents<'a, '_> {
        self.view.events()
    }

    /// Data-covering events whose data does not hash to their digest in [`ReferenceLog::bank`].
    pub fn digest_mismatches(&self) -> &[DigestMismatch] {
        &self.view.mismatches
    }

    /// The underlying log (a reference is the administrator's own: reading it raw is allowed).
    pub fn log(&self) -> &EventLog<'a> {
        &self.view.log
    }
}

/// Iterator over [`QuotedEvent`]s.
#[derive(Debug)]
pub struct QuotedEvents<'a, 'v> {
    inner: crate::parse::Events<'a>,
    view: &'v View<'a>,
}

impl<'a> Iterator for QuotedEvents<'a, '_> {
    type Item = QuotedEvent<'a>;

    fn next(&mut self) -> Option<QuotedEvent<'a>> {
        // The whole log parsed when it was bound (replay walked it), so an error cannot occur
        // here; were it to, iteration would stop — never yield an unparsed event.
        for e in self.inner.by_ref() {
            let e = e.ok()?;
            if !e.is_extended() || !self.view.pcrs.contains(e.pcr) {
                continue;
            }
            let trusted = self.view.trusted_data(&e);
            return Some(QuotedEvent {
                index: e.index,
                pcr: e.pcr,
                event_type: e.event_type,
                digest: e.digest(self.view.bank),
                data: e.data,
                trusted,
            });
        }
        None
    }
}

/// One event extended into a quoted PCR.
///
/// Its PCR and its digest in the trusted bank are what the quote binds. Its type only counts as
/// far as replay depends on it (extended or not); its data counts only through [`QuotedEvent::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedEvent<'a> {
    /// Position in the log.
    pub index: u32,
    /// PCR (quoted).
    pub pcr: u32,
    /// Event type as logged (unauthenticated beyond "extended"; judge the data, not the label).
    pub event_type: EventType,
    digest: Option<&'a [u8]>,
    data: &'a [u8],
    trusted: bool,
}

impl<'a> QuotedEvent<'a> {
    /// The event's digest in the trusted bank; `None` when it carries none (it did not extend
    /// that bank).
    pub fn digest(&self) -> Option<&'a [u8]> {
        self.digest
    }

    /// The event data, when its type's digest is defined over it and equals its hash in the
    /// trusted bank. `None` otherwise: such data is the host's to write.
    pub fn data(&self) -> Option<&'a [u8]> {
        self.trusted.then_some(self.data)
    }

    /// The raw data whatever its digest says — for *display* only (a mismatch report).
    pub fn unverified_data(&self) -> &'a [u8] {
        self.data
    }
}
