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

const STARTUP_LOCALITY: &[u8; 16] = b"StartupLocality\0";

/// Per-bank PCR values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrBanks {
    banks: Vec<HashAlg>,
    values: Vec<[[u8; MAX_DIGEST]; PCR_COUNT]>,
    incomplete: Vec<u32>,
    touched: u32,
}

/// The streaming fold under the name other crates use: create one with [`PcrBanks::new`], feed it
/// events with [`PcrBanks::extend`] as they are parsed (no allocation per event), read the values.
pub type Replayer = PcrBanks;

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
        let mut distinct: Vec<HashAlg> = Vec::with_capacity(banks.len().min(HashAlg::ALL.len()));
        for b in banks {
            if !distinct.contains(b) {
                distinct.push(*b);
            }
        }
        let mut reset = [[0u8; MAX_DIGEST]; PCR_COUNT];
        for v in reset.iter_mut().take(23).skip(17) {
            *v = [0xff; MAX_DIGEST];
        }
        PcrBanks {
            values: vec![reset; distinct.len()],
            incomplete: vec![0; distinct.len()],
            banks: distinct,
            touched: 0,
        }
    }

    /// The banks held.
    pub fn banks(&self) -> &[HashAlg] {
        &self.banks
    }

    fn slot(&self, alg: HashAlg) -> Option<usize> {
        self.banks.iter().position(|b| *b == alg)
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
        for (id, d) in event.raw_digests().raw_iter() {
            if let Some(s) = self.banks.iter().position(|b| b.tpm_alg_id() == id) {
                if extended & (1 << s) == 0 {
                    extended |= 1 << s;
                    let alg = self.banks[s];
                    alg.extend(&mut self.values[s][pcr][..alg.digest_len()], d);
                }
            }
        }
        for (s, inc) in self.incomplete.iter_mut().enumerate() {
            if extended & (1 << s) == 0 {
                *inc |= 1 << pcr;
            }
        }
    }

    fn set_pcr0_initial(&mut self, locality: u8) {
        for (s, alg) in self.banks.iter().enumerate() {
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
    replay_banks(log, &log.banks())
}

/// Replays a whole log into the given banks.
pub fn replay_banks(log: &EventLog<'_>, banks: &[HashAlg]) -> Result<PcrBanks> {
    let mut state = PcrBanks::new(banks);
    for e in log.events() {
        let e = e?;
        if e.index == 0 && log.spec_id().is_some() {
            continue; // the crypto-agile header is an EV_NO_ACTION anyway
        }
        state.extend(&e);
    }
    Ok(state)
}
