//! What a host sends back: its AK, one quote per bank, and its TCG log.
//!
//! JSON (`hgs-evidence/1`, bytes as lower-case hex):
//! ```json
//! { "format": "hgs-evidence/1", "ak_public": "<TPM2B_PUBLIC>",
//!   "quotes": [ { "bank": "sha256", "pcrs": [0, 1], "attest": "<TPMS_ATTEST>", "signature": "<TPMT_SIGNATURE>" } ],
//!   "pcr_values": { "sha256": { "0": "<digest>" } },
//!   "event_log": "<TCG log>" }
//! ```
//! `pcr_values` (read right after the quotes) are not trusted: they only help name the PCR whose
//! replay differs when a quote's digest does not match.

use std::collections::BTreeMap;

/// The `format` value of an evidence document.
pub const EVIDENCE_FORMAT: &str = "hgs-evidence/1";

/// One quote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuoteEvidence {
    /// The bank the host meant to quote (informational: the selection inside `attest` decides).
    #[serde(default)]
    pub bank: String,
    /// The PCRs the host meant to quote (informational).
    #[serde(default)]
    pub pcrs: Vec<u32>,
    /// TPMS_ATTEST bytes (TPM2B or bare).
    #[serde(with = "hgs_tpm::hex::serde")]
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE bytes.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub signature: Vec<u8>,
}

/// A host's evidence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// Always [`EVIDENCE_FORMAT`].
    pub format: String,
    /// The challenge's id, echoed (see `ChallengeMessage::id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
    /// The AK public area (TPM2B_PUBLIC or TPMT_PUBLIC).
    #[serde(with = "hgs_tpm::hex::serde")]
    pub ak_public: Vec<u8>,
    /// Quotes, one per bank.
    pub quotes: Vec<QuoteEvidence>,
    /// PCR values read after the quotes (diagnostics only): bank name → PCR → hex.
    #[serde(default)]
    pub pcr_values: BTreeMap<String, BTreeMap<u32, String>>,
    /// The TCG event log of the current boot.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub event_log: Vec<u8>,
}
