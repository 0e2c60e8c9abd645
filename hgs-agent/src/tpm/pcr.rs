//! TPM2_PCR_Extend: drive a (software) TPM's PCRs to the state a given log describes.

use std::convert::TryFrom;

use tss_esapi::handles::PcrHandle;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{Digest, DigestValues};

use super::quote::Bank;
use super::{tss_err, Result, Tpm, TpmError};

/// Extends PCR `index` with one digest per bank in a single TPM2_PCR_Extend. Banks the TPM does
/// not have must not be passed (the TPM rejects them).
pub fn extend(tpm: &mut Tpm, index: u8, digests: &[(Bank, Vec<u8>)]) -> Result<()> {
    let handle = pcr_handle(index)?;
    let mut values = DigestValues::new();
    for (bank, digest) in digests {
        if bank.digest_len() != Some(digest.len()) {
            return Err(TpmError::Unexpected {
                op: format!("extend PCR {index}"),
                message: format!(
                    "{} digest has {} bytes, expected {:?}",
                    bank.name(),
                    digest.len(),
                    bank.digest_len()
                ),
            });
        }
        values.set(
            bank.hashing()?,
            Digest::try_from(digest.clone()).map_err(tss_err("PCR digest"))?,
        );
    }
    tpm.context()
        .execute_with_session(Some(AuthSession::Password), |ctx| {
            ctx.pcr_extend(handle, values)
        })
        .map_err(tss_err(format!("TPM2_PCR_Extend (PCR {index})")))
}

/// Extends a sequence of measurements `(pcr, digests per bank)` in order, skipping digests of
/// banks the TPM does not have. Returns the number of TPM2_PCR_Extend calls made. The caller
/// leaves out events that are not extended (EV_NO_ACTION).
pub fn replay<I>(tpm: &mut Tpm, events: I) -> Result<usize>
where
    I: IntoIterator<Item = (u8, Vec<(Bank, Vec<u8>)>)>,
{
    let banks = super::quote::active_banks(tpm)?;
    let mut n = 0;
    for (pcr, digests) in events {
        let digests: Vec<(Bank, Vec<u8>)> = digests
            .into_iter()
            .filter(|(b, _)| banks.contains(b))
            .collect();
        if digests.is_empty() {
            continue;
        }
        extend(tpm, pcr, &digests)?;
        n += 1;
    }
    Ok(n)
}

/// Drives the TPM's PCRs to the state a TCG log describes: every event replay extends (not
/// EV_NO_ACTION, PCR < 24) is extended with the digests it carries, in order. Returns the number of
/// TPM2_PCR_Extend calls made. Used to put a software TPM into a real machine's measured state.
pub fn replay_log(tpm: &mut Tpm, log: &[u8]) -> Result<usize> {
    let parse_err = |e: hgs_tcglog::Error| TpmError::Unexpected {
        op: "parse TCG log".into(),
        message: e.to_string(),
    };
    let parsed = hgs_tcglog::EventLog::parse(log).map_err(parse_err)?;
    let mut measurements = Vec::new();
    for event in parsed.events() {
        let event = event.map_err(parse_err)?;
        if !event.is_extended() {
            continue;
        }
        let digests: Vec<(Bank, Vec<u8>)> = event
            .digests()
            .filter_map(|(alg, d)| Bank::from_name(alg.name()).map(|b| (b, d.to_vec())))
            .collect();
        measurements.push((event.pcr as u8, digests));
    }
    replay(tpm, measurements)
}

fn pcr_handle(index: u8) -> Result<PcrHandle> {
    const HANDLES: [PcrHandle; 24] = [
        PcrHandle::Pcr0,
        PcrHandle::Pcr1,
        PcrHandle::Pcr2,
        PcrHandle::Pcr3,
        PcrHandle::Pcr4,
        PcrHandle::Pcr5,
        PcrHandle::Pcr6,
        PcrHandle::Pcr7,
        PcrHandle::Pcr8,
        PcrHandle::Pcr9,
        PcrHandle::Pcr10,
        PcrHandle::Pcr11,
        PcrHandle::Pcr12,
        PcrHandle::Pcr13,
        PcrHandle::Pcr14,
        PcrHandle::Pcr15,
        PcrHandle::Pcr16,
        PcrHandle::Pcr17,
        PcrHandle::Pcr18,
        PcrHandle::Pcr19,
        PcrHandle::Pcr20,
        PcrHandle::Pcr21,
        PcrHandle::Pcr22,
        PcrHandle::Pcr23,
    ];
    HANDLES
        .get(usize::from(index))
        .copied()
        .ok_or_else(|| TpmError::Unexpected {
            op: "extend PCR".into(),
            message: format!("PCR {index} out of range 0..24"),
        })
}
