//! Quote verification: is this TPMS_ATTEST a fresh quote, signed by the AK, over the PCRs the
//! policies need, whose digest equals the PCR values the event log replays to?
//!
//! Every reason a quote is refused is its own [`QuoteError`] variant. In particular a quote over
//! fewer PCRs, over another bank, or carrying another nonce is refused before its PCR digest is
//! trusted (go-attestation's CVE-2022-0317 accepted quotes whose selection did not cover the PCRs
//! it then reported).

use hgs_tpm::attest::TPM_ST_ATTEST_QUOTE;
use hgs_tpm::{Attest, Attested, HashAlg, Public, Signature, SignatureVerifier};

/// What the verifier requires of a quote.
#[derive(Debug, Clone, Copy)]
pub struct QuoteRequirements<'a> {
    /// The nonce the verifier issued; the quote's extraData must equal it byte for byte.
    pub nonce: &'a [u8],
    /// The PCR bank (TPM_ALG_ID) whose values the verifier will compare.
    pub bank: u16,
    /// PCRs that must be in the quote's selection for that bank.
    pub required_pcrs: &'a [u32],
}

/// Why a quote is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum QuoteError {
    /// The AK public area, the attestation or the signature did not parse.
    #[error("{what} does not parse: {reason}")]
    Malformed {
        /// Which structure.
        what: String,
        /// The parser's error.
        reason: String,
    },
    /// The attestation is not a quote (e.g. a certify or creation attestation).
    #[error("attestation type 0x{tag:04x} is not a quote (0x8018)")]
    NotAQuote {
        /// TPM_ST value found.
        tag: u16,
    },
    /// The AK's signature over the attestation does not verify.
    #[error("the quote signature does not verify with the AK: {reason}")]
    BadSignature {
        /// The verifier's error.
        reason: String,
    },
    /// extraData is not the verifier's nonce: a replayed or foreign quote.
    #[error("quote nonce {actual} is not the challenge {expected}")]
    NonceMismatch {
        /// The challenge (hex).
        expected: String,
        /// The quote's extraData (hex).
        actual: String,
    },
    /// The quote does not cover the required bank at all.
    #[error("quote covers banks {quoted:?}, not the required bank 0x{required:04x}")]
    WrongBank {
        /// Required bank (TPM_ALG_ID).
        required: u16,
        /// Banks in the quote's selection.
        quoted: Vec<u16>,
    },
    /// The quote's selection omits PCRs the policies need.
    #[error("quote omits PCRs {missing:?} of bank 0x{bank:04x}")]
    MissingPcrs {
        /// Bank (TPM_ALG_ID).
        bank: u16,
        /// Required PCRs not selected.
        missing: Vec<u32>,
    },
    /// The verifier has no value for a PCR the quote selects (e.g. the log has no such bank).
    #[error("no expected value for PCR {pcr} of bank 0x{bank:04x}")]
    NoExpectedValue {
        /// Bank (TPM_ALG_ID).
        bank: u16,
        /// PCR index.
        pcr: u32,
    },
    /// The signing hash is one this verifier cannot compute.
    #[error("unsupported quote hash algorithm 0x{alg:04x}")]
    UnsupportedHash {
        /// TPM_ALG_ID.
        alg: u16,
    },
    /// The quoted PCR digest is not the digest of the expected PCR values.
    #[error("quoted PCR digest {quoted} != digest of the replayed PCR values {computed}")]
    DigestMismatch {
        /// Digest in the quote (hex).
        quoted: String,
        /// Digest computed from the expected values (hex).
        computed: String,
    },
}

/// A quote that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifiedQuote {
    /// Banks and PCRs covered, as (TPM_ALG_ID, PCR indices).
    pub selection: Vec<(u16, Vec<u32>)>,
    /// The quoted PCR digest.
    pub pcr_digest: Vec<u8>,
    /// TPM clock, reset and restart counts at quote time.
    pub clock: u64,
    /// Resets since TPM2_Clear.
    pub reset_count: u32,
    /// Restarts since the last reset.
    pub restart_count: u32,
    /// TPM firmware version.
    pub firmware_version: u64,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn malformed(what: &str, e: hgs_tpm::Error) -> QuoteError {
    QuoteError::Malformed {
        what: what.into(),
        reason: e.to_string(),
    }
}

/// Verifies one quote.
///
/// `expected_pcr(bank, pcr)` gives the value the verifier expects (the log's replay) for every PCR
/// the quote selects; the quoted digest is recomputed from those values in the TPM's order (banks
/// in selection order, PCRs ascending) with the signature's hash algorithm, as TPM2_Quote does.
pub fn verify_quote<'v>(
    ak_public: &[u8],
    attest: &[u8],
    signature: &[u8],
    requirements: &QuoteRequirements<'_>,
    expected_pcr: impl Fn(u16, u32) -> Option<&'v [u8]>,
    verifier: &dyn SignatureVerifier,
) -> Result<VerifiedQuote, QuoteError> {
    let ak = Public::parse(ak_public).map_err(|e| malformed("AK public area", e))?;
    let quote = Attest::parse(attest).map_err(|e| malformed("TPMS_ATTEST", e))?;
    let sig = Signature::parse(signature).map_err(|e| malformed("TPMT_SIGNATURE", e))?;
    let key = ak.key().map_err(|e| malformed("AK public key", e))?;
    // Signature first: nothing in an unsigned structure is evidence.
    verifier
        .verify(&key, quote.bytes, &sig)
        .map_err(|e| QuoteError::BadSignature {
            reason: e.to_string(),
        })?;
    let Attested::Quote {
        selection,
        pcr_digest,
    } = &quote.attested
    else {
        return Err(QuoteError::NotAQuote { tag: quote.tag });
    };
    if quote.tag != TPM_ST_ATTEST_QUOTE {
        return Err(QuoteError::NotAQuote { tag: quote.tag });
    }
    if quote.extra_data != requirements.nonce {
        return Err(QuoteError::NonceMismatch {
            expected: hex(requirements.nonce),
            actual: hex(quote.extra_data),
        });
    }
    if !selection.banks.iter().any(|b| b.hash == requirements.bank) {
        return Err(QuoteError::WrongBank {
            required: requirements.bank,
            quoted: selection.banks.iter().map(|b| b.hash).collect(),
        });
    }
    let missing = selection.missing(requirements.bank, requirements.required_pcrs);
    if !missing.is_empty() {
        return Err(QuoteError::MissingPcrs {
            bank: requirements.bank,
            missing,
        });
    }
    let hash = HashAlg::from_tpm_alg_id(sig.hash_alg()).ok_or(QuoteError::UnsupportedHash {
        alg: sig.hash_alg(),
    })?;
    let mut parts: Vec<&[u8]> = Vec::new();
    for bank in &selection.banks {
        for pcr in bank.pcrs() {
            parts.push(
                expected_pcr(bank.hash, pcr).ok_or(QuoteError::NoExpectedValue {
                    bank: bank.hash,
                    pcr,
                })?,
            );
        }
    }
    let computed = hash.hash_parts(&parts);
    if computed.as_slice() != *pcr_digest {
        return Err(QuoteError::DigestMismatch {
            quoted: hex(pcr_digest),
            computed: hex(&computed),
        });
    }
    Ok(VerifiedQuote {
        selection: selection.banks.iter().map(|b| (b.hash, b.pcrs())).collect(),
        pcr_digest: pcr_digest.to_vec(),
        clock: quote.clock_info.clock,
        reset_count: quote.clock_info.reset_count,
        restart_count: quote.clock_info.restart_count,
        firmware_version: quote.firmware_version,
    })
}
