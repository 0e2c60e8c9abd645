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

use crate::ak_signature::{parse_ak_signature, verify_ak_signature, AkSignatureError};
use crate::alg::HashAlg;
use crate::attest::{Attest, Attested, ClockInfo, TPM_ST_ATTEST_QUOTE};
use crate::pcr_selection::PcrSelection;
use crate::pcr_set::PcrSet;
use crate::public::Public;
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

/// Which part of the evidence a [`QuoteError::Malformed`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QuotePart {
    /// The TPMS_ATTEST structure the TPM signed.
    Attestation,
    /// The TPMT_SIGNATURE over it.
    Signature,
    /// The AK's TPMT_PUBLIC area.
    AkPublic,
    /// The key inside the AK's public area.
    AkKey,
}

impl core::fmt::Display for QuotePart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            QuotePart::Attestation => "TPMS_ATTEST",
            QuotePart::Signature => "TPMT_SIGNATURE",
            QuotePart::AkPublic => "the AK public area",
            QuotePart::AkKey => "the AK public key",
        })
    }
}

/// Why a quote is refused.
///
/// Serializable because verdicts carry it; the parser's and the signature backend's
/// [`Error`](crate::Error) is kept as a typed source, bytes as bytes (hex only in JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum QuoteError {
    /// The AK public area, the attestation or the signature did not parse.
    #[error("{part} does not parse")]
    Malformed {
        /// Which structure.
        part: QuotePart,
        /// The parser's error.
        #[source]
        error: crate::Error,
    },
    /// The quoted PCR digest is not as long as the signature's hash makes it.
    #[error(
        "the quoted PCR digest has {len} bytes, but the signature's hash {alg} makes {expected}"
    )]
    PcrDigestLength {
        /// Its length.
        len: usize,
        /// The signature's hash.
        alg: HashAlg,
        /// That hash's digest length.
        expected: usize,
    },
    /// The attestation is not a quote (e.g. a certify or creation attestation).
    #[error("attestation type 0x{tag:04x} is not a quote (0x8018)")]
    NotAQuote {
        /// TPM_ST value found.
        tag: u16,
    },
    /// The AK's signature over the attestation does not verify.
    #[error("the quote signature does not verify with the AK")]
    BadSignature {
        /// The verifier's error.
        #[source]
        error: crate::Error,
    },
    /// extraData is not the verifier's nonce: a replayed or foreign quote.
    #[error(
        "quote nonce {} is not the challenge {}",
        crate::hex::encode(actual),
        crate::hex::encode(expected)
    )]
    NonceMismatch {
        /// The challenge (hex in JSON).
        #[serde(with = "crate::hex::serde")]
        expected: Vec<u8>,
        /// The quote's extraData (hex in JSON).
        #[serde(with = "crate::hex::serde")]
        actual: Vec<u8>,
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
    /// The selection lists a bank twice (a TPM never does).
    #[error("quote selection lists bank 0x{bank:04x} twice")]
    BankSelectedTwice {
        /// Bank (TPM_ALG_ID).
        bank: u16,
    },
    /// The selection names a PCR a PC-client TPM does not have.
    #[error("quote selects PCR {pcr}, which a PC-client TPM does not have")]
    PcrOutOfRange {
        /// The PCR index.
        pcr: u32,
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

impl From<AkSignatureError> for QuoteError {
    fn from(e: AkSignatureError) -> Self {
        match e {
            AkSignatureError::MalformedSignature(error) => QuoteError::Malformed {
                part: QuotePart::Signature,
                error,
            },
            AkSignatureError::UnsupportedHash(alg) => QuoteError::UnsupportedHash { alg },
            AkSignatureError::MalformedAkKey(error) => QuoteError::Malformed {
                part: QuotePart::AkKey,
                error,
            },
            AkSignatureError::BadSignature(error) => QuoteError::BadSignature { error },
        }
    }
}

fn malformed(part: QuotePart) -> impl FnOnce(crate::Error) -> QuoteError {
    move |error| QuoteError::Malformed { part, error }
}

/// Selection as (bank, PCR set), refusing PCR indices above 23 and banks listed twice (the
/// TPM never produces either; a hand-made attestation that did would make "which PCRs were
/// quoted" ambiguous).
fn pc_client_selection(selection: &PcrSelection) -> Result<Vec<(u16, PcrSet)>, QuoteError> {
    let mut out: Vec<(u16, PcrSet)> = Vec::with_capacity(selection.banks.len());
    for b in &selection.banks {
        if out.iter().any(|(h, _)| *h == b.hash) {
            return Err(QuoteError::BankSelectedTwice { bank: b.hash });
        }
        let set =
            PcrSet::from_indices(&b.pcrs()).map_err(|e| QuoteError::PcrOutOfRange { pcr: e.0 })?;
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
    let quote = Attest::parse(attest).map_err(malformed(QuotePart::Attestation))?;
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
                expected: nonce.to_vec(),
                actual: quote.extra_data.to_vec(),
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
    let (sig, digest_alg) = parse_ak_signature(signature)?;
    if pcr_digest.len() != digest_alg.digest_len() {
        return Err(QuoteError::PcrDigestLength {
            len: pcr_digest.len(),
            alg: digest_alg,
            expected: digest_alg.digest_len(),
        });
    }
    let ak = Public::parse(ak_public).map_err(malformed(QuotePart::AkPublic))?;
    verify_ak_signature(&ak, quote.bytes, &sig, verifier)?;
    Ok(VerifiedQuote {
        selection: selection_set,
        pcr_digest: pcr_digest.to_vec(),
        digest_alg,
        clock_info: quote.clock_info,
        firmware_version: quote.firmware_version,
        nonce_checked: matches!(requirements.freshness, Freshness::Nonce(_)),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::{verify_quote, Freshness, QuoteError, QuotePart, QuoteRequirements};
    use crate::{DefaultVerifier, HashAlg, PcrSet};

    #[test]
    fn a_malformed_attestation_keeps_the_parser_error_as_source_and_round_trips_through_json() {
        let req = QuoteRequirements {
            freshness: Freshness::NotChecked,
            bank: HashAlg::Sha256,
            required_pcrs: PcrSet::EMPTY,
        };
        let err = verify_quote(&[], &[0xff, 0x54], &[], &req, &DefaultVerifier).unwrap_err();
        let QuoteError::Malformed { part, error } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*part, QuotePart::Attestation);
        // A TPM2B_ATTEST declaring 0xff54 bytes, more than any attestation.
        assert!(
            matches!(error, crate::Error::TooLarge { field, .. } if field == "TPM2B_ATTEST"),
            "{error:?}"
        );
        assert!(std::error::Error::source(&err).is_some());
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(serde_json::from_str::<QuoteError>(&json).unwrap(), err);
    }

    #[test]
    fn a_nonce_mismatch_is_bytes_in_the_type_and_hex_in_json() {
        let err = QuoteError::NonceMismatch {
            expected: vec![0xab, 0x01],
            actual: vec![0x00],
        };
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(
            json,
            r#"{"NonceMismatch":{"expected":"ab01","actual":"00"}}"#
        );
        assert_eq!(serde_json::from_str::<QuoteError>(&json).unwrap(), err);
    }
}
