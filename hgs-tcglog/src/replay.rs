//! Replay: fold every extended event into per-bank PCR values, without allocating per event.
//!
//! Rules (TCG PC Client PFP and TPM 2.0 Part 1 §34.3; see `shared/research/tcglog.md` §3):
//! - EV_NO_ACTION is never extended; records on PCR 0xFFFFFFFF (Windows trust points) and any
//!   index above 23 are never extended.
//! - PCRs 0–16 and 23 start all-zero, PCRs 17–22 all-ones (TPM 2.0 reset value without DRTM).
//! - A `StartupLocality` EV_NO_ACTION sets PCR 0's initial value to `00…0L` (locality L).
//! - An EV_EFI_HCRTM_EVENT in PCR 0 sets PCR 0's initial value to `00…04` and is still extended.
//! - An event without a digest for a bank does not extend that bank: TPM2_PCR_Extend extends
//!   exactly the banks in its digest list. Windows' dual-bank logs rely on this (its own events on
//!   PCRs 11–14 carry SHA-256 only; `imm_win_IMN-SUPERMICRO-WBCL-Quote-AIKs` quotes SHA-1 PCR 14 at
//!   its reset value). [`PcrBanks::lacks_digests`] says where this happened, so a verifier can
//!   prefer a bank every event covers.

use crate::alg::{HashAlg, MAX_DIGEST};
use crate::error::Result;
use crate::event::Event;
use crate::event_type::EventType;
use crate::parse::EventLog;

/// Number of PCRs of a PC-client TPM.
pub const PCR_COUNT: usize = 24;

/// Distinct banks a [`PcrBanks`] can hold: one per known algorithm.
const BANK_SLOTS: usize = HashAlg::ALL.len();

/// Extends queued before they are performed (see [`replay_banks`]).
const BATCH: usize = 32;

/// Up to `N` queued extends: (bank slot, PCR, digest), on the stack. Replay queues [`BATCH`];
/// one streamed event queues at most one per bank.
struct Batch<'e, const N: usize> {
    ops: [(usize, usize, &'e [u8]); N],
    len: usize,
}

impl<const N: usize> Default for Batch<'_, N> {
    fn default() -> Self {
        Batch {
            ops: [(0, 0, &[]); N],
            len: 0,
        }
    }
}

impl<'e, const N: usize> Batch<'e, N> {
    /// Queues one extend; the caller flushes before an event could overflow the batch (an event
    /// queues at most one extend per bank).
    fn push(&mut self, slot: usize, pcr: usize, digest: &'e [u8]) {
        debug_assert!(self.len < N, "replay batch overflow");
        if let Some(op) = self.ops.get_mut(self.len) {
            *op = (slot, pcr, digest);
            self.len += 1;
        }
    }
}

const STARTUP_LOCALITY: &[u8; 16] = b"StartupLocality\0";

/// Per-bank PCR values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrBanks {
    /// The distinct banks held, in order: the first `bank_count` entries (fixed storage: a
    /// replay allocates only its PCR values).
    banks: [HashAlg; BANK_SLOTS],
    bank_count: usize,
    values: Vec<[[u8; MAX_DIGEST]; PCR_COUNT]>,
    incomplete: [u32; BANK_SLOTS],
    touched: u32,
}

/// The first difference between replayed and expected PCR values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PcrMismatch {
    /// Bank.
    pub alg: HashAlg,
    /// PCR index.
    pub pcr: u32,
    /// Expected value (as given by the caller, e.g. quoted).
    pub expected: Vec<u8>,
    /// Replayed value; empty when the bank cannot be replayed for this PCR.
    pub actual: Vec<u8>,
}

impl PcrBanks {
    /// Reset values for `banks` (a bank listed twice is held once).
    pub fn new(banks: &[HashAlg]) -> Self {
        let mut distinct = [HashAlg::Sha1; BANK_SLOTS];
        let mut n = 0;
        for b in banks {
            if !distinct[..n].contains(b) {
                // Five known algorithms: at most five distinct banks.
                distinct[n] = *b;
                n += 1;
            }
        }
        // Zeroed storage (no template to copy), then PCRs 17–22 of each bank to all-ones.
        let mut values = vec![[[0u8; MAX_DIGEST]; PCR_COUNT]; n];
        for bank in &mut values {
            for v in bank.iter_mut().take(23).skip(17) {
                *v = [0xff; MAX_DIGEST];
            }
        }
        PcrBanks {
            values,
            incomplete: [0; BANK_SLOTS],
            banks: distinct,
            bank_count: n,
            touched: 0,
        }
    }

    /// The banks held.
    pub fn banks(&self) -> &[HashAlg] {
        &self.banks[..self.bank_count]
    }

    fn slot(&self, alg: HashAlg) -> Option<usize> {
        self.banks().iter().position(|b| *b == alg)
    }

    /// The value of `pcr` in bank `alg`; `None` if the bank is absent or `pcr` > 23.
    pub fn get(&self, alg: HashAlg, pcr: u32) -> Option<&[u8]> {
        let s = self.slot(alg)?;
        let v = self.values[s].get(pcr as usize)?;
        Some(&v[..alg.digest_len()])
    }

    /// Whether some event of `pcr` carried no digest for bank `alg` (and so did not extend it).
    pub fn lacks_digests(&self, alg: HashAlg, pcr: u32) -> bool {
        self.slot(alg)
            .is_some_and(|s| pcr < 32 && self.incomplete[s] & (1 << pcr) != 0)
    }

    /// Whether any event extended `pcr`.
    pub fn has_events(&self, pcr: u32) -> bool {
        pcr < 32 && self.touched & (1 << pcr) != 0
    }

    /// Folds one event in. Never allocates.
    pub fn extend(&mut self, event: &Event<'_>) {
        let mut batch = Batch::<BANK_SLOTS>::default();
        self.collect(event, &mut batch);
        self.flush(&mut batch);
    }

    /// Applies an event's effects on the replay state and queues its extends in `batch` (applied
    /// by [`PcrBanks::flush`], in order). The state an event reads (whether PCR 0 has events) is
    /// updated here, so collecting then flushing equals extending event by event.
    fn collect<'e, const N: usize>(&mut self, event: &Event<'e>, batch: &mut Batch<'e, N>) {
        if event.event_type == EventType::NoAction {
            if event.pcr == 0
                && event.data.len() == 17
                && event.data.starts_with(STARTUP_LOCALITY)
                && !self.has_events(0)
            {
                self.set_pcr0_initial(event.data[16]);
            }
            return;
        }
        if event.pcr as usize >= PCR_COUNT {
            return;
        }
        if event.event_type == EventType::EfiHcrtmEvent && event.pcr == 0 && !self.has_events(0) {
            self.set_pcr0_initial(4);
        }
        let pcr = event.pcr as usize;
        self.touched |= 1 << pcr;
        // One pass over the event's digests (not one search per bank); a bank that gets no
        // digest is marked incomplete for this PCR.
        let mut extended = 0u32;
        let banks = &self.banks[..self.bank_count];
        event.raw_digests().for_each_raw(|id, d| {
            if let Some(s) = banks.iter().position(|b| b.tpm_alg_id() == id) {
                if extended & (1 << s) == 0 {
                    extended |= 1 << s;
                    batch.push(s, pcr, d);
                }
            }
        });
        for (s, inc) in self.incomplete[..self.bank_count].iter_mut().enumerate() {
            if extended & (1 << s) == 0 {
                *inc |= 1 << pcr;
            }
        }
    }

    /// Performs the queued extends, in order.
    fn flush<const N: usize>(&mut self, batch: &mut Batch<'_, N>) {
        for &(s, pcr, d) in &batch.ops[..batch.len] {
            let alg = self.banks[s];
            alg.extend(&mut self.values[s][pcr][..alg.digest_len()], d);
        }
        batch.len = 0;
    }

    fn set_pcr0_initial(&mut self, locality: u8) {
        for (s, alg) in self.banks[..self.bank_count].iter().enumerate() {
            let n = alg.digest_len();
            self.values[s][0] = [0; MAX_DIGEST];
            self.values[s][0][n - 1] = locality;
        }
    }

    /// Compares with expected values, in the order given; the first difference is returned.
    pub fn compare<'e>(
        &self,
        expected: impl IntoIterator<Item = (HashAlg, u32, &'e [u8])>,
    ) -> core::result::Result<(), PcrMismatch> {
        for (alg, pcr, want) in expected {
            let got = self.get(alg, pcr);
            if got != Some(want) {
                return Err(PcrMismatch {
                    alg,
                    pcr,
                    expected: want.to_vec(),
                    actual: got.map(<[u8]>::to_vec).unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    /// The digest TPM2_Quote computes over `pcrs` of bank `bank`: `H_hash(PCR[p0] || PCR[p1] || …)`
    /// in ascending PCR order. `None` if a value is unavailable.
    pub fn composite_digest(&self, bank: HashAlg, pcrs: &[u32], hash: HashAlg) -> Option<Vec<u8>> {
        let mut sorted: Vec<u32> = pcrs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(sorted.len());
        for p in sorted {
            parts.push(self.get(bank, p)?);
        }
        let mut out = [0u8; MAX_DIGEST];
        hash.hash_into(&parts, &mut out);
        Some(out[..hash.digest_len()].to_vec())
    }
}

/// Replays a whole log into the banks it carries.
pub fn replay(log: &EventLog<'_>) -> Result<PcrBanks> {
    let mut banks = [HashAlg::Sha1; BANK_SLOTS];
    let mut n = 0;
    for b in log.algorithm_table().known_banks() {
        if n < BANK_SLOTS {
            banks[n] = b;
            n += 1;
        }
    }
    replay_banks(log, &banks[..n])
}

/// Replays a whole log into the given banks.
pub fn replay_banks(log: &EventLog<'_>, banks: &[HashAlg]) -> Result<PcrBanks> {
    let mut state = PcrBanks::new(banks);
    // Extends are queued and performed a batch at a time: back to back, the compression calls of
    // different PCRs (independent chains) overlap in the CPU instead of each waiting behind the
    // parsing of the next event. The results are those of extending event by event.
    let mut batch = Batch::<BATCH>::default();
    for e in log.events() {
        let e = e?;
        if e.index == 0 && log.spec_id().is_some() {
            continue; // the crypto-agile header is an EV_NO_ACTION anyway
        }
        state.collect(&e, &mut batch);
        if batch.len + BANK_SLOTS > BATCH {
            state.flush(&mut batch);
        }
    }
    state.flush(&mut batch);
    Ok(state)
}
