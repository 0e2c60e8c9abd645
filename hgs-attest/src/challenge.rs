//! The verifier's challenge: a fresh secret encrypted to the registered EK for the host's AK
//! (TPM2_MakeCredential). The host recovers it with TPM2_ActivateCredential and uses it as the
//! quote's nonce, so one round trip proves both freshness and that the quoting AK lives in the TPM
//! that owns the registered EK.
//!
//! [`Challenge`] is the verifier's state (keep it: it holds the secret); [`ChallengeMessage`] is what
//! is sent to the host.

use hgs_policy::{EkFingerprint, TpmHost};
use hgs_tcglog::BankPolicy;
use hgs_tpm::{HashAlg, PcrSet, Public};
use rand_core::CryptoRngCore;

use crate::credential::{check_ak_attributes, make_credential_with, CredentialError, EcdhBackend};

/// PCRs quoted by default: firmware and Secure Boot (0–7), BitLocker (11) and the Windows boot
/// configuration log (12–14). Every built-in check reads only these.
pub const DEFAULT_PCRS: PcrSet = PcrSet::of(&[0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]);

/// Shortest nonce [`crate::Attestor::evaluate`] accepts (128 bits: a guess is hopeless).
pub const MIN_NONCE_LEN: usize = 16;

/// The verifier's record of a challenge it issued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    /// The registered host the challenge was made for.
    pub host: String,
    /// Its EK fingerprint (see `hgs_policy::key_fingerprint`; hex in JSON). `None` only
    /// for a challenge made by hand for evidence whose EK is unknown (published samples): such
    /// a challenge matches no registered host.
    pub ek_fingerprint: Option<EkFingerprint>,
    /// Name (nameAlg || H(TPMT_PUBLIC)) of the AK the credential is bound to.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub ak_name: Vec<u8>,
    /// The secret, which every quote must carry as extraData.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub nonce: Vec<u8>,
    /// PCRs every quote must cover.
    pub pcrs: PcrSet,
    /// Banks that must each be quoted (and replayed).
    pub banks: Vec<HashAlg>,
    /// When the challenge was issued (UNIX seconds, the verifier's clock): evaluation refuses
    /// it once older than the attestor's maximum age.
    pub issued_at: u64,
}

/// What the host receives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeMessage {
    /// An identifier the verifier chose, echoed in the evidence so it can find its [`Challenge`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// TPM2B_ID_OBJECT contents.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub credential_blob: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET contents.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub encrypted_secret: Vec<u8>,
    /// PCRs to quote.
    pub pcrs: PcrSet,
    /// Banks to quote, one quote each (empty: every bank the TPM has; the verifier judges
    /// against the banks of its own [`Challenge`] whatever this says).
    #[serde(default)]
    pub banks: Vec<HashAlg>,
}

/// What to challenge a host for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeRequest<'a> {
    /// PCRs to quote; must include `required_pcrs`.
    pub pcrs: PcrSet,
    /// Banks to quote (each gets its own quote).
    pub banks: &'a [HashAlg],
    /// PCRs the checks in force read (`hgs_policy::required_pcrs`, or
    /// [`crate::Attestor::required_pcrs`]): a narrower challenge is refused.
    pub required_pcrs: PcrSet,
    /// Which banks may be asked for (SHA-1 only with [`BankPolicy::AllowSha1`]).
    pub bank_policy: BankPolicy,
    /// Now (UNIX seconds): recorded as [`Challenge::issued_at`].
    pub issued_at: u64,
    /// Who computes the credential's ECDH for an ECC EK ([`EcdhBackend::RustCrypto`], with the
    /// RNG passed in, by default).
    pub ecdh: EcdhBackend,
}

impl ChallengeRequest<'static> {
    /// [`DEFAULT_PCRS`] plus `required_pcrs`, the SHA-256 bank, SHA-256-or-stronger policy.
    pub fn new(required_pcrs: PcrSet, issued_at: u64) -> Self {
        ChallengeRequest {
            pcrs: DEFAULT_PCRS.union(required_pcrs),
            banks: &[HashAlg::Sha256],
            required_pcrs,
            bank_policy: BankPolicy::Sha256OrStronger,
            issued_at,
            ecdh: EcdhBackend::RustCrypto,
        }
    }
}

impl ChallengeRequest<'_> {
    /// The same request with the credential's ECDH computed by `ecdh`.
    pub fn with_ecdh(mut self, ecdh: EcdhBackend) -> Self {
        self.ecdh = ecdh;
        self
    }
}

/// Why a challenge cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The AK or EK is unsuitable, or encryption failed. Its message is the credential error's
    /// (which says what is wrong), and so is its source (the parser's reason, when one).
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// No PCR requested: the quote would attest nothing.
    #[error("the challenge names no PCR to quote")]
    NoPcrs,
    /// No bank requested: nothing would be quoted.
    #[error("the challenge names no PCR bank to quote")]
    NoBanks,
    /// The PCRs asked for leave out PCRs a check in force reads.
    #[error("the challenge leaves out PCRs {missing} that the checks in force read")]
    NarrowerThanRequired {
        /// Required PCRs not asked for.
        missing: PcrSet,
    },
    /// A bank the bank policy does not allow (SHA-1 by default).
    #[error("the {} bank is not allowed by the bank policy", .0.name())]
    BankNotAllowed(HashAlg),
}

/// Makes a challenge for `host`'s EK and the AK public area `ak_public` (TPM2B_PUBLIC or
/// TPMT_PUBLIC). The AK must be a restricted, fixedTPM signing key.
pub fn new_challenge(
    host: &TpmHost,
    ak_public: &[u8],
    request: &ChallengeRequest<'_>,
    rng: &mut impl CryptoRngCore,
) -> Result<(Challenge, ChallengeMessage), ChallengeError> {
    if request.pcrs.is_empty() {
        return Err(ChallengeError::NoPcrs);
    }
    if request.banks.is_empty() {
        return Err(ChallengeError::NoBanks);
    }
    let missing = request.required_pcrs.minus(request.pcrs);
    if !missing.is_empty() {
        return Err(ChallengeError::NarrowerThanRequired { missing });
    }
    if request.bank_policy == BankPolicy::Sha256OrStronger {
        if let Some(b) = request.banks.iter().find(|b| **b == HashAlg::Sha1) {
            return Err(ChallengeError::BankNotAllowed(*b));
        }
    }
    check_ak_attributes(ak_public)?;
    let ak = Public::parse(ak_public)
        .map_err(|e| ChallengeError::Credential(CredentialError::MalformedAk(e)))?;
    let ak_name = ak
        .name()
        .map_err(|e| ChallengeError::Credential(CredentialError::MalformedAk(e)))?;
    let ek = Public::parse(&host.ekpub)
        .map_err(|e| ChallengeError::Credential(CredentialError::MalformedEk(e)))?;
    // The secret is at most the EK nameAlg's digest (TPM2_MakeCredential); every nameAlg an EK
    // has (SHA-1 and up) allows at least MIN_NONCE_LEN bytes.
    let len = HashAlg::from_tpm_alg_id(ek.name_alg)
        .map(HashAlg::digest_len)
        .unwrap_or(20)
        .clamp(MIN_NONCE_LEN, 32);
    let mut nonce = vec![0u8; len];
    rng.fill_bytes(&mut nonce);
    let credential = make_credential_with(&host.ekpub, &ak_name, &nonce, rng, request.ecdh)?;
    let mut banks: Vec<HashAlg> = Vec::with_capacity(request.banks.len());
    for b in request.banks {
        if !banks.contains(b) {
            banks.push(*b);
        }
    }
    Ok((
        Challenge {
            host: host.name.to_string(),
            ek_fingerprint: Some(host.ek_fingerprint),
            ak_name,
            nonce,
            pcrs: request.pcrs,
            banks: banks.clone(),
            issued_at: request.issued_at,
        },
        ChallengeMessage {
            id: None,
            credential_blob: credential.credential_blob,
            encrypted_secret: credential.encrypted_secret,
            pcrs: request.pcrs,
            banks,
        },
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn host() -> TpmHost {
        TpmHost {
            name: hgs_policy::Name::new("h").unwrap(),
            policy_version: hgs_policy::PolicyVersion::V1,
            ekpub: hgs_tpm::ek_p256_public(&[1; 32], &[2; 32]),
            ek_fingerprint: EkFingerprint::from_bytes([0; 32]),
            ek_key_type: "ECC-P256".into(),
            ek_certificate: None,
            ek_certificate_check: hgs_policy::EkCertificateCheck::Missing,
            forced: true,
        }
    }

    fn refused(ak_public: &[u8], request: &ChallengeRequest<'_>) -> ChallengeError {
        new_challenge(&host(), ak_public, request, &mut rand_core::OsRng).unwrap_err()
    }

    /// Display, then each source, as a service or `anyhow`'s `{:#}` prints an error.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            out.push_str(&format!(": {c}"));
            cause = c.source();
        }
        out
    }

    #[test]
    fn no_pcr_and_no_bank_are_told_apart() {
        let mut r = ChallengeRequest::new(PcrSet::EMPTY, 0);
        r.pcrs = PcrSet::EMPTY;
        let e = refused(&[], &r);
        assert_eq!(e, ChallengeError::NoPcrs);
        assert_eq!(e.to_string(), "the challenge names no PCR to quote");
        let mut r = ChallengeRequest::new(PcrSet::EMPTY, 0);
        r.banks = &[];
        let e = refused(&[], &r);
        assert_eq!(e, ChallengeError::NoBanks);
        assert_eq!(e.to_string(), "the challenge names no PCR bank to quote");
    }

    #[test]
    fn an_unreadable_ak_says_what_is_wrong_and_keeps_the_parser_error_as_source() {
        let e = refused(&[0x00, 0x01], &ChallengeRequest::new(PcrSet::EMPTY, 0));
        assert!(
            matches!(
                e,
                ChallengeError::Credential(CredentialError::MalformedAk(_))
            ),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "the AK public area does not parse");
        let chain = chain(&e);
        assert!(
            chain.starts_with("the AK public area does not parse: TPMT_PUBLIC"),
            "{chain}"
        );
    }
}
