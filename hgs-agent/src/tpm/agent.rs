//! The attestation client's one round trip: activate the verifier's credential with the AK, then
//! quote the requested PCRs in every requested (or every active) bank with the recovered secret as
//! the nonce, and read the PCR values; with a bound key, certify it by the same AK with the same
//! nonce. Used by `hgs agent attest|run` and `hgs demo`.

use std::collections::BTreeMap;

use super::ak::{with_loaded_ak, AkState};
use super::bound_key::{certify_with_loaded_ak, require_same_ek, BoundKey, BoundKeyCertification};
use super::quote::{active_banks, quote, read_pcrs, Bank, BankQuote};
use super::{credential, Result, Tpm, TpmError};

/// What the verifier sent, as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeInput<'a> {
    /// TPM2B_ID_OBJECT contents from TPM2_MakeCredential.
    pub credential_blob: &'a [u8],
    /// TPM2B_ENCRYPTED_SECRET contents from TPM2_MakeCredential.
    pub encrypted_secret: &'a [u8],
    /// PCR indices to quote.
    pub pcrs: &'a [u8],
    /// Banks to quote; empty means every active bank.
    pub banks: &'a [Bank],
}

/// The agent's answer, as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAnswer {
    /// The secret recovered by TPM2_ActivateCredential (also each quote's extraData). Kept for
    /// diagnostics; the verifier does not need it back.
    pub secret: Vec<u8>,
    /// One quote per bank, in TPM bank order.
    pub quotes: Vec<BankQuote>,
    /// PCR values per bank, read right after that bank's quote.
    pub pcr_values: Vec<(Bank, BTreeMap<u8, Vec<u8>>)>,
    /// The bound key's TPM2_Certify by the AK, qualifying data = the recovered secret (when the
    /// answer was asked to carry one).
    pub bound_key: Option<BoundKeyCertification>,
}

/// Runs the round trip. Every handle it creates is flushed before it returns.
pub fn answer_challenge(
    tpm: &mut Tpm,
    ak: &AkState,
    challenge: &ChallengeInput<'_>,
) -> Result<AgentAnswer> {
    answer_challenge_certifying(tpm, ak, challenge, None)
}

/// [`answer_challenge`], and then, while EK and AK are still loaded, TPM2_Certify of
/// `bound_key` (when given) by the AK with the recovered secret as qualifying data: the
/// verifier accepts the key only with the nonce of this challenge and the AK of these quotes.
/// The key must have been created under the AK's EK.
pub fn answer_challenge_certifying(
    tpm: &mut Tpm,
    ak: &AkState,
    challenge: &ChallengeInput<'_>,
    bound_key: Option<&BoundKey>,
) -> Result<AgentAnswer> {
    if let Some(key) = bound_key {
        require_same_ek(ak.decode()?.ek, key)?;
    }
    let active = active_banks(tpm)?;
    let banks: Vec<Bank> = if challenge.banks.is_empty() {
        active
    } else {
        if let Some(missing) = challenge.banks.iter().find(|b| !active.contains(b)) {
            return Err(TpmError::Unexpected {
                op: "quote".into(),
                message: format!(
                    "the verifier asks for the {} bank, which this TPM does not have",
                    missing.name()
                ),
            });
        }
        challenge.banks.to_vec()
    };
    with_loaded_ak(tpm, ak, |tpm, ek, ak| {
        let secret = credential::activate(
            tpm,
            ek,
            ak,
            challenge.credential_blob,
            challenge.encrypted_secret,
        )?;
        let mut quotes = Vec::new();
        let mut pcr_values = Vec::new();
        for bank in banks {
            // Quote first, then read: a PCR extended in between shows up at the verifier as a
            // digest mismatch, never as a silent pass.
            quotes.push(quote(tpm, ak, bank, challenge.pcrs, &secret)?);
            pcr_values.push((bank, read_pcrs(tpm, bank, challenge.pcrs)?));
        }
        let bound_key = bound_key
            .map(|key| certify_with_loaded_ak(tpm, ek, ak, key, &secret))
            .transpose()?;
        Ok(AgentAnswer {
            secret,
            quotes,
            pcr_values,
            bound_key,
        })
    })
}

/// The evidence document for an answer: the AK public area, the quotes, the PCR values read after
/// them (diagnostics only), the event log, and the bound key's certification when the answer
/// has one.
pub fn to_evidence(ak_public: &[u8], answer: &AgentAnswer, log: &[u8]) -> hgs_attest::Evidence {
    hgs_attest::Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public: ak_public.to_vec(),
        quotes: answer
            .quotes
            .iter()
            .map(|q| hgs_attest::QuoteEvidence {
                bank: hgs_tpm::HashAlg::from_tpm_alg_id(q.bank.alg_id),
                pcrs: q.pcrs.iter().map(|p| u32::from(*p)).collect(),
                attest: q.attest.clone(),
                signature: q.signature.clone(),
            })
            .collect(),
        pcr_values: answer
            .pcr_values
            .iter()
            .filter_map(|(bank, values)| {
                Some((
                    hgs_tpm::HashAlg::from_tpm_alg_id(bank.alg_id)?,
                    values
                        .iter()
                        .map(|(p, v)| (u32::from(*p), v.clone()))
                        .collect(),
                ))
            })
            .collect(),
        event_log: log.to_vec(),
        bound_key: answer
            .bound_key
            .as_ref()
            .map(|c| hgs_attest::BoundKeyEvidence {
                public: c.public.clone(),
                attest: c.attest.clone(),
                signature: c.signature.clone(),
            }),
    }
}

/// The banks of a challenge as the TPM code names them.
pub fn banks_of(banks: &[hgs_tpm::HashAlg]) -> Vec<Bank> {
    banks
        .iter()
        .map(|b| Bank {
            alg_id: b.tpm_alg_id(),
        })
        .collect()
}
