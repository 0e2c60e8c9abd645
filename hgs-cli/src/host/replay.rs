//! `hgs swtpm replay-log`: extend a TPM's PCRs with the digests of every extendable event of a log.

use hgs_cli::tpm::Tpm;

/// Replays `log` into the TPM; returns the number of events extended.
pub fn replay_log(tpm: &mut Tpm, log: &[u8]) -> anyhow::Result<usize> {
    Ok(hgs_cli::tpm::pcr::replay_log(tpm, log)?)
}
