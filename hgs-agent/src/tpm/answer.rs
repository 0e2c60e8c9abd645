//! Answering a verifier's challenge document with the TPM (`hgs agent attest`, one round of
//! `hgs agent run`), and the agent's state directory that keeps the AK between rounds (the bound
//! key's file is [`super::key_state`]'s).

use std::path::{Path, PathBuf};

use hgs_attest::{ChallengeMessage, Evidence};

use super::agent::{answer_challenge_certifying, banks_of, to_evidence, ChallengeInput};
use super::ak::AkState;
use super::bound_key::BoundKey;
use super::{Tpm, TpmError};

/// Why a challenge could not be answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The challenge names a PCR no TPM has.
    #[error("challenge: PCR index {0} out of range")]
    PcrOutOfRange(u32),
    /// The saved AK state's public area is not hex.
    #[error("AK state: the public area is not hex")]
    AkPublic,
    /// The TPM refused or failed.
    #[error(transparent)]
    Tpm(#[from] TpmError),
}

/// Answers `challenge` with the TPM: activates the credential (the secret is the nonce), quotes
/// the challenged PCRs in each challenged bank, attaches `log`, and certifies `bound_key` (when
/// given) by the AK with the nonce (the evidence's `bound_key`); the evidence names the
/// challenge.
pub fn answer(
    tpm: &mut Tpm,
    challenge: &ChallengeMessage,
    log: &[u8],
    ak: &AkState,
    bound_key: Option<&BoundKey>,
) -> Result<Evidence, AnswerError> {
    let pcrs = challenge
        .pcrs
        .iter()
        .map(|p| u8::try_from(p).map_err(|_| AnswerError::PcrOutOfRange(p)))
        .collect::<Result<Vec<u8>, _>>()?;
    let banks = banks_of(&challenge.banks);
    let answer = answer_challenge_certifying(
        tpm,
        ak,
        &ChallengeInput {
            credential_blob: &challenge.credential_blob,
            encrypted_secret: &challenge.encrypted_secret,
            pcrs: &pcrs,
            banks: &banks,
        },
        bound_key,
    )?;
    let ak_public = ak.public_bytes().ok_or(AnswerError::AkPublic)?;
    let mut evidence = to_evidence(&ak_public, &answer, log);
    evidence.challenge_id = challenge.id.clone();
    Ok(evidence)
}

/// Why the agent's saved AK could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The state file cannot be read (no AK created yet, or no access).
    #[error("cannot read {path}")]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not an AK state document.
    #[error("{path}: not an AK state file")]
    Malformed {
        /// The state file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// The AK state file in the agent's state directory.
pub fn ak_state_path(state_dir: &Path) -> PathBuf {
    state_dir.join("ak.json")
}

/// Reads the AK state the agent saved in `state_dir`.
pub fn load_ak_state(state_dir: &Path) -> Result<AkState, StateError> {
    let path = ak_state_path(state_dir);
    let bytes = std::fs::read(&path).map_err(|source| StateError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| StateError::Malformed { path, source })
}
