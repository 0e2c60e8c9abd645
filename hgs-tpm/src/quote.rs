//! Quote verification: is this TPMS_ATTEST a quote, over the PCRs and bank the verifier asked for,
//! carrying its nonce, signed by the AK?
//!
//! A [`VerifiedQuote`] can only be made by [`verify_quote`]: it has no public constructor and no
//! `Deserialize`. It is the proof the rest of the verifier builds on — the TCG-log crate binds a log
//! to it (`hgs_tcglog::QuotedLog::bind`) by recomputing the quoted PCR digest from the log's replay.
//! The PCR digest itself is *not* compared here: this crate has no log to compare it with.
//!
//! Order of the checks: the cheap structural ones (type, nonce, bank, PCR selection) before the
//! signature, so that a stale or narrow quote costs no public-key operation. Nothing is accepted
//! before the signature verifies; the early checks only refuse.
//!
//! Every reason a quote is refused is its own [`QuoteError`] variant. In particular a quote over
//! fewer PCRs, over another bank, or carrying another nonce is refused before its PCR digest is
//! trusted (go-attestation's CVE-2022-0317 accepted quotes whose selection did not cover the PCRs
//! it then reported).

use crate::alg::HashAlg;
use crate::attest::{Attest, Attested, ClockInfo, TPM_ST_ATTEST_QUOTE};
use crate::pcr_selection::PcrSelection;
use crate::pcr_set::PcrSet;
use crate::public::Public;
use crate::signature::Signature;
use crate::verify::SignatureVerifier;

/// How the quote's freshness is established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness<'a> {
    /// The quote's extraData must equal this nonce byte for byte (the normal case).
    Nonce(&'a [u8]),
    /// Not checked: for evidence that was quoted without a verifier's nonce (e.g. published
    /// samples). Such a quote proves what the PCRs held at *some* time, not now. Never a default.
    NotChecked,
}

/// What the verifier requires of a quote.
#[derive(Debug, Clone, Copy)]
pub struct QuoteRequirements<'a> {
    /// Freshness: the nonce the verifier issued.
    pub freshness: Freshness<'a>,
    /// The PCR bank whose values the verifier will compare.
    pub bank: HashAlg,
    /// PCRs that must be in the quote's selection for that bank.
    pub required_pcrs: PcrSet,
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
    /// The selection names a PCR a PC-client TPM does not have, or a bank twice.
    #[error("quote selection is not a PC-client selection: {reason}")]
    BadSelection {
        /// What is wrong.
        reason: String,
    },
    /// The signing hash is one this verifier cannot compute.
    #[error("unsupported quote hash algorithm 0x{alg:04x}")]
    UnsupportedHash {
        /// TPM_ALG_ID.
        alg: u16,
    },
}

/// A quote that passed every check of [`verify_quote`]: signed by the AK, of the quote type, with
/// the verifier's nonce (unless freshness was explicitly not checked), selecting the required PCRs.
///
/// Only [`verify_quote`] makes one. Its PCR digest is what the TPM signed; binding it to a log
/// is the log crate's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQuote {
    selection: Vec<(u16, PcrSet)>,
    pcr_digest: Vec<u8>,
    digest_alg: HashAlg,
    clock_info: ClockInfo,
    firmware_version: u64,
    nonce_checked: bool,
}

impl VerifiedQuote {
    /// Banks (TPM_ALG_ID) and PCRs covered, in the order the TPM hashed them.
    pub fn selection(&self) -> &[(u16, PcrSet)] {
        &self.selection
    }

    /// The PCRs selected in bank `alg` (TPM_ALG_ID); empty when the bank is not selected.
    pub fn pcrs(&self, alg: u16) -> PcrSet {
        self.selection
            .iter()
            .find(|(b, _)| *b == alg)
            .map_or(PcrSet::EMPTY, |(_, s)| *s)
    }

    /// The quoted PCR digest (what the TPM signed).
    pub fn pcr_digest(&self) -> &[u8] {
        &self.pcr_digest
    }

    /// The hash algorithm of the PCR digest (the signature scheme's hash, as TPM2_Quote uses).
    pub fn digest_alg(&self) -> HashAlg {
        self.digest_alg
    }

    /// TPM clock, reset and restart counts at quote time.
    pub fn clock_info(&self) -> ClockInfo {
        self.clock_info
    }

    /// TPM firmware version.
    pub fn firmware_version(&self) -> u64 {
        self.firmware_version
    }

    /// Whether the nonce was checked ([`Freshness::Nonce`]).
    pub fn nonce_checked(&self) -> bool {
        self.nonce_checked
    }
}

fn malformed(what: &str, e: crate::Error) -> QuoteError {
    QuoteError::Malformed {
        what: what.into(),
        reason: e.to_string(),
    }
}

/// Selection as (bank, PCR set), refusing PCR indices above 23 and banks listed twice (the
/// TPM never produces either; a hand-made attestation that did would make "which PCRs were
/// quoted" ambiguous).
fn pc_client_selection(selection: &PcrSelection) -> Result<Vec<(u16, PcrSet)>, QuoteError> {
    let mut out: Vec<(u16, PcrSet)> = Vec::with_capacity(selection.banks.len());
    for b in &selection.banks {
        if out.iter().any(|(h, _)| *h == b.hash) {
            return Err(QuoteError::BadSelection {
                reason: format!("bank 0x{:04x} is selected twice", b.hash),
            });
        }
        let set = PcrSet::from_indices(&b.pcrs()).map_err(|e| QuoteError::BadSelection {
            reason: e.to_string(),
        })?;
        out.push((b.hash, set));
    }
    Ok(out)
}

/// Verifies one quote: type, nonce, bank and PCR selection first (cheap), then the AK's signature.
pub fn verify_quote(
    ak_public: &[u8],
    attest: &[u8],
    signature: &[u8],
    requirements: &QuoteRequirements<'_>,
    verifier: &dyn SignatureVerifier,
) -> Result<VerifiedQuote, QuoteError> {
    let quote = Attest::parse(attest).map_err(|e| malformed("TPMS_ATTEST", e))?;
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
    if let Freshness::Nonce(nonce) = requirements.freshness {
        if quote.extra_data != nonce {
            return Err(QuoteError::NonceMismatch {
                expected: crate::hex::encode(nonce),
                actual: crate::hex::encode(quote.extra_data),
            });
        }
    }
    let selection_set = pc_client_selection(selection)?;
    let bank = requirements.bank.tpm_alg_id();
    let Some((_, quoted)) = selection_set.iter().find(|(h, _)| *h == bank) else {
        return Err(QuoteError::WrongBank {
            required: bank,
            quoted: selection_set.iter().map(|(h, _)| *h).collect(),
        });
    };
    let missing = requirements.required_pcrs.minus(*quoted);
    if !missing.is_empty() {
        return Err(QuoteError::MissingPcrs {
            bank,
            missing: missing.to_vec(),
        });
    }
    let sig = Signature::parse(signature).map_err(|e| malformed("TPMT_SIGNATURE", e))?;
    // No backend verifies signatures over SM3.
    let digest_alg = HashAlg::from_tpm_alg_id(sig.hash_alg())
        .filter(|h| *h != HashAlg::Sm3_256)
        .ok_or(QuoteError::UnsupportedHash {
            alg: sig.hash_alg(),
        })?;
    if pcr_digest.len() != digest_alg.digest_len() {
        return Err(QuoteError::Malformed {
            what: "TPMS_QUOTE_INFO.pcrDigest".into(),
            reason: format!(
                "{} bytes, but the signature's hash {} makes {}",
                pcr_digest.len(),
                digest_alg.name(),
                digest_alg.digest_len()
            ),
        });
    }
    let ak = Public::parse(ak_public).map_err(|e| malformed("AK public area", e))?;
    let key = ak.key().map_err(|e| malformed("AK public key", e))?;
    verifier
        .verify(&key, quote.bytes, &sig)
        .map_err(|e| QuoteError::BadSignature {
            reason: e.to_string(),
        })?;
    Ok(VerifiedQuote {
        selection: selection_set,
        pcr_digest: pcr_digest.to_vec(),
        digest_alg,
        clock_info: quote.clock_info,
        firmware_version: quote.firmware_version,
        nonce_checked: matches!(requirements.freshness, Freshness::Nonce(_)),
    })
}
