//! `hgs swtpm replay-log`: extend a TPM's PCRs with the digests of every extendable event of a log.

use hgs_cli::tpm::Tpm;

/// Replays `log` into the TPM; returns the number of events extended.
pub fn replay_log(_tpm: &mut Tpm, _log: &[u8]) -> anyhow::Result<usize> {
    anyhow::bail!("log parsing comes from hgs-tcglog, which this build does not have yet")
}
