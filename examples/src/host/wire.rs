//! JSON documents the host side writes and reads: platform identifier, challenge, evidence.
//!
//! Bytes are lower-case hex. These mirror `hgs_attest::evidence`; the conversion lives here so the
//! TPM code only deals in raw bytes.
//!
//! Platform identifier (`hgs platform-identifier`):
//! ```json
//! { "format": "hgs-platform-identifier/1", "name": "HOST",
//!   "endorsement_keys": [
//!     { "profile": "rsa2048", "certificate_nv_index": "0x01c00002",
//!       "public": "<TPM2B_PUBLIC hex>", "certificate": "<DER hex>" },
//!     { "profile": "ecc-p256", "certificate_nv_index": "0x01c0000a",
//!       "public": "<TPM2B_PUBLIC hex>", "certificate": null,
//!       "notes": ["no EK certificate (NV index 0x01c0000a is not defined)"] } ] }
//! ```
//! Challenge (read by `hgs agent attest`; `banks` optional, empty = every active bank):
//! ```json
//! { "credential_blob": "<TPM2B_ID_OBJECT contents hex>",
//!   "encrypted_secret": "<TPM2B_ENCRYPTED_SECRET contents hex>",
//!   "pcrs": [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14], "banks": ["sha256"] }
//! ```
//! Evidence (`hgs agent attest`):
//! ```json
//! { "format": "hgs-evidence/1", "ak_public": "<TPM2B_PUBLIC hex>", "ek_profile": "rsa2048",
//!   "quotes": [ { "bank": "sha256", "pcrs": [0, 1], "attest": "<TPMS_ATTEST hex>",
//!                 "signature": "<TPMT_SIGNATURE hex>" } ],
//!   "pcr_values": { "sha256": { "0": "<hex>", "1": "<hex>" } },
//!   "event_log": "<TCG log hex>" }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::hex;
use hgs_cli::tpm::ak::unhex;
use hgs_cli::tpm::ek::EkEntry;
use hgs_cli::tpm::quote::{Bank, BankQuote};

/// One endorsement key in a platform identifier.
#[derive(Debug, Serialize, Deserialize)]
pub struct EndorsementKey {
    /// EK profile (`rsa2048`, `ecc-p256`, `ecc-p384`, ...).
    pub profile: String,
    /// NV index of the EK certificate, `0x01c00002` style.
    pub certificate_nv_index: String,
    /// TPM2B_PUBLIC of the EK (hex), if it could be created.
    pub public: Option<String>,
    /// DER EK certificate (hex), or null.
    pub certificate: Option<String>,
    /// Human-readable note: "no EK certificate", why the public is missing, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `hgs platform-identifier` output.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlatformIdentifier {
    /// `hgs-platform-identifier/1`.
    pub format: String,
    /// Host name.
    pub name: String,
    /// The EKs found, RSA-2048 first.
    pub endorsement_keys: Vec<EndorsementKey>,
}

/// Builds the platform identifier document.
pub fn platform_identifier(name: &str, eks: &[EkEntry]) -> PlatformIdentifier {
    PlatformIdentifier {
        format: "hgs-platform-identifier/1".into(),
        name: name.into(),
        endorsement_keys: eks
            .iter()
            .map(|e| {
                let mut notes = Vec::new();
                if e.certificate.is_none() {
                    notes.push(format!(
                        "no EK certificate (NV index {:#010x} is not defined)",
                        e.cert_nv_index
                    ));
                }
                if let Some(err) = &e.public_error {
                    notes.push(format!("EK public not available: {err}"));
                }
                EndorsementKey {
                    profile: e.profile.name().into(),
                    certificate_nv_index: format!("{:#010x}", e.cert_nv_index),
                    public: e.public.as_deref().map(hex),
                    certificate: e.certificate.as_deref().map(hex),
                    notes,
                }
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize)]
struct ChallengeJson {
    credential_blob: String,
    encrypted_secret: String,
    pcrs: Vec<u8>,
    #[serde(default)]
    banks: Vec<String>,
}

/// A parsed challenge.
#[derive(Debug)]
pub struct Challenge {
    /// TPM2B_ID_OBJECT contents.
    pub credential_blob: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET contents.
    pub encrypted_secret: Vec<u8>,
    /// PCRs to quote.
    pub pcrs: Vec<u8>,
    /// Banks to quote (empty: every active bank).
    pub banks: Vec<Bank>,
}

/// Parses a challenge document.
pub fn parse_challenge(bytes: &[u8]) -> anyhow::Result<Challenge> {
    let c: ChallengeJson = serde_json::from_slice(bytes)?;
    let h =
        |field: &str, s: &str| unhex(s).ok_or_else(|| anyhow::anyhow!("field {field}: not hex"));
    Ok(Challenge {
        credential_blob: h("credential_blob", &c.credential_blob)?,
        encrypted_secret: h("encrypted_secret", &c.encrypted_secret)?,
        pcrs: c.pcrs,
        banks: c
            .banks
            .iter()
            .map(|b| Bank::from_name(b).ok_or_else(|| anyhow::anyhow!("unknown bank {b:?}")))
            .collect::<anyhow::Result<_>>()?,
    })
}

/// One bank's quote in the evidence.
#[derive(Debug, Serialize, Deserialize)]
pub struct QuoteJson {
    /// Bank name.
    pub bank: String,
    /// PCRs selected.
    pub pcrs: Vec<u8>,
    /// TPMS_ATTEST (hex).
    pub attest: String,
    /// TPMT_SIGNATURE (hex).
    pub signature: String,
}

/// `hgs agent attest` output.
#[derive(Debug, Serialize, Deserialize)]
pub struct Evidence {
    /// `hgs-evidence/1`.
    pub format: String,
    /// TPM2B_PUBLIC of the AK (hex).
    pub ak_public: String,
    /// Parent EK profile of the AK.
    pub ek_profile: String,
    /// One quote per bank.
    pub quotes: Vec<QuoteJson>,
    /// PCR values read right after the quotes: bank → PCR index → value (hex).
    pub pcr_values: BTreeMap<String, BTreeMap<u8, String>>,
    /// The TCG log (hex).
    pub event_log: String,
}

/// Builds the evidence document.
pub fn evidence(
    ak_public: &[u8],
    ek_profile: &str,
    quotes: &[BankQuote],
    pcr_values: &[(Bank, BTreeMap<u8, Vec<u8>>)],
    log: &[u8],
) -> Evidence {
    Evidence {
        format: "hgs-evidence/1".into(),
        ak_public: hex(ak_public),
        ek_profile: ek_profile.into(),
        quotes: quotes
            .iter()
            .map(|q| QuoteJson {
                bank: q.bank.name().into(),
                pcrs: q.pcrs.clone(),
                attest: hex(&q.attest),
                signature: hex(&q.signature),
            })
            .collect(),
        pcr_values: pcr_values
            .iter()
            .map(|(b, v)| {
                (
                    b.name().to_string(),
                    v.iter().map(|(i, d)| (*i, hex(d))).collect(),
                )
            })
            .collect(),
        event_log: hex(log),
    }
}
