//! What a host sends back: its AK, one quote per bank, and its TCG log.
//!
//! JSON (`hgs-evidence/1`, bytes as lower-case hex):
//! ```json
//! { "format": "hgs-evidence/1", "ak_public": "<TPM2B_PUBLIC>",
//!   "quotes": [ { "bank": "sha256", "pcrs": [0, 1], "attest": "<TPMS_ATTEST>", "signature": "<TPMT_SIGNATURE>" } ],
//!   "pcr_values": { "sha256": { "0": "<digest>" } },
//!   "event_log": "<TCG log>",
//!   "bound_key": { "public": "<TPMT_PUBLIC>", "attest": "<TPMS_ATTEST>", "signature": "<TPMT_SIGNATURE>" } }
//! ```
//! `pcr_values` (read right after the quotes) are not trusted: they only help name the PCR whose
//! replay differs when a quote's digest does not match. A bank name this verifier does not know
//! makes the document fail to deserialize (fail closed) rather than be silently ignored.

use std::collections::BTreeMap;

use hgs_tpm::HashAlg;

/// PCR values per bank: bank → PCR index → value (the bank's digest length).
pub type PcrValues = BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>>;

/// The `format` value of an evidence document.
pub const EVIDENCE_FORMAT: &str = "hgs-evidence/1";

/// Why bytes are not an evidence document this verifier reads ([`Evidence::from_json`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// Not JSON of the [`Evidence`] shape (a field missing or mistyped, bad hex, an unknown bank).
    #[error("not an evidence document")]
    Json(#[source] serde_json::Error),
    /// A well-formed document of another format (or version).
    #[error("evidence format {found:?} is not {EVIDENCE_FORMAT}")]
    UnknownFormat {
        /// The document's `format`.
        found: String,
    },
}

/// One quote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuoteEvidence {
    /// The bank the host meant to quote (informational: the selection inside `attest` decides).
    /// A bank name this verifier does not know fails deserialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<HashAlg>,
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

/// A key the host's TPM holds, certified by the AK (TPM2_Certify, qualifying data = the
/// challenge's nonce): the key a release is encrypted to. Untrusted until
/// [`Attestor::evaluate`](crate::Attestor::evaluate) verifies it with the AK that signed the
/// quotes (`hgs_tpm::verify_certify`); only then does it reach [`Verdict::bound_key`](crate::Verdict::bound_key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundKeyEvidence {
    /// The certified key's public area (TPMT_PUBLIC, or TPM2B_PUBLIC).
    #[serde(with = "hgs_tpm::hex::serde")]
    pub public: Vec<u8>,
    /// TPMS_ATTEST of type certify (TPM2B or bare): exactly the bytes the AK signed.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE by the AK.
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
    /// PCR values read after the quotes (diagnostics only): bank → PCR → value (hex in JSON,
    /// keyed by the bank's name).
    #[serde(default, with = "pcr_values_hex")]
    pub pcr_values: PcrValues,
    /// The TCG event log of the current boot.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub event_log: Vec<u8>,
    /// A decryption key in the TPM, certified by the AK, that releases are encrypted to
    /// (optional: a host without one can pass but is released nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_key: Option<BoundKeyEvidence>,
}

impl Evidence {
    /// Reads an [`EVIDENCE_FORMAT`] JSON document, refusing any other format before anything
    /// else is looked at. ([`Attestor::evaluate`](crate::Attestor::evaluate) also refuses a
    /// foreign format, as a [`Failure`](crate::Failure) in the verdict; this is for tools that
    /// want to stop at the door.)
    pub fn from_json(bytes: &[u8]) -> Result<Evidence, EvidenceError> {
        let evidence: Evidence = serde_json::from_slice(bytes).map_err(EvidenceError::Json)?;
        if evidence.format != EVIDENCE_FORMAT {
            return Err(EvidenceError::UnknownFormat {
                found: evidence.format,
            });
        }
        Ok(evidence)
    }
}

/// Serde for [`PcrValues`]: `{"sha256": {"0": "<hex>"}}`.
mod pcr_values_hex {
    use std::collections::BTreeMap;

    use hgs_tpm::HashAlg;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::PcrValues;

    #[derive(Serialize)]
    #[serde(transparent)]
    struct HexRef<'a>(#[serde(with = "hgs_tpm::hex::serde")] &'a Vec<u8>);

    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Hex(#[serde(with = "hgs_tpm::hex::serde")] Vec<u8>);

    pub(super) fn serialize<S: Serializer>(v: &PcrValues, s: S) -> Result<S::Ok, S::Error> {
        let view: BTreeMap<HashAlg, BTreeMap<u32, HexRef<'_>>> = v
            .iter()
            .map(|(bank, pcrs)| (*bank, pcrs.iter().map(|(p, d)| (*p, HexRef(d))).collect()))
            .collect();
        view.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PcrValues, D::Error> {
        let raw = BTreeMap::<HashAlg, BTreeMap<u32, Hex>>::deserialize(d)?;
        Ok(raw
            .into_iter()
            .map(|(bank, pcrs)| (bank, pcrs.into_iter().map(|(p, h)| (p, h.0)).collect()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Evidence, EvidenceError, EVIDENCE_FORMAT};
    use hgs_tpm::HashAlg;

    #[test]
    fn from_json_refuses_another_format_and_non_documents_by_kind() {
        let doc = |format: &str| {
            format!(r#"{{"format":"{format}","ak_public":"","quotes":[],"event_log":""}}"#)
        };
        assert!(Evidence::from_json(doc(EVIDENCE_FORMAT).as_bytes()).is_ok());
        assert!(matches!(
            Evidence::from_json(doc("hgs-evidence/2").as_bytes()),
            Err(EvidenceError::UnknownFormat { found }) if found == "hgs-evidence/2"
        ));
        assert!(matches!(
            Evidence::from_json(b"{\"format\":\"hgs-evidence/1\"}"),
            Err(EvidenceError::Json(_))
        ));
    }

    fn doc(pcr_values: &str) -> String {
        format!(
            r#"{{"format":"hgs-evidence/1","ak_public":"","quotes":[],"pcr_values":{pcr_values},"event_log":""}}"#
        )
    }

    #[test]
    fn pcr_values_are_typed_banks_and_bytes_with_the_same_json() {
        let json = doc(r#"{"sha256":{"0":"ab01","7":"00"}}"#);
        let e: Evidence = serde_json::from_str(&json).unwrap();
        assert_eq!(e.pcr_values[&HashAlg::Sha256][&0], vec![0xab, 0x01]);
        assert_eq!(e.pcr_values[&HashAlg::Sha256][&7], vec![0x00]);
        assert_eq!(serde_json::to_string(&e).unwrap(), json);
    }

    #[test]
    fn an_unknown_bank_or_non_hex_value_fails_deserialization() {
        assert!(serde_json::from_str::<Evidence>(&doc(r#"{"md5":{"0":"ab"}}"#)).is_err());
        assert!(serde_json::from_str::<Evidence>(&doc(r#"{"sha1":{"0":"xyz"}}"#)).is_err());
    }

    #[test]
    fn a_quote_names_its_bank_as_a_hash_alg_and_an_unknown_one_fails_deserialization() {
        let quote = |bank: &str| {
            format!(
                r#"{{"format":"hgs-evidence/1","ak_public":"","quotes":[{{"bank":"{bank}","attest":"","signature":""}}],"event_log":""}}"#
            )
        };
        let e: Evidence = serde_json::from_str(&quote("sha256")).unwrap();
        assert_eq!(e.quotes[0].bank, Some(HashAlg::Sha256));
        assert!(serde_json::from_str::<Evidence>(&quote("md5")).is_err());
    }
}
