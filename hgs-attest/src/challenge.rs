//! The verifier's challenge: a fresh secret encrypted to the registered EK for the host's AK
//! (TPM2_MakeCredential). The host recovers it with TPM2_ActivateCredential and uses it as the
//! quote's nonce, so one round trip proves both freshness and that the quoting AK lives in the TPM
//! that owns the registered EK.
//!
//! [`Challenge`] is the verifier's state (keep it: it holds the secret); [`ChallengeMessage`] is what
//! is sent to the host.

use hgs_policy::TpmHost;
use hgs_tpm::{HashAlg, Public};
use rand_core::CryptoRngCore;

use crate::credential::{check_ak_attributes, make_credential, CredentialError};

/// PCRs quoted by default: firmware and Secure Boot (0–7), BitLocker (11) and the Windows boot
/// configuration log (12–14). Every policy reads only these.
pub const DEFAULT_PCRS: [u32; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14];

/// The verifier's record of a challenge it issued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    /// The registered host the challenge was made for.
    pub host: String,
    /// Its EK fingerprint (see `hgs_policy::host::key_fingerprint`).
    pub ek_fingerprint: String,
    /// Name (nameAlg || H(TPMT_PUBLIC)) of the AK the credential is bound to.
    #[serde(with = "hgs_tcglog::owned::hex_bytes")]
    pub ak_name: Vec<u8>,
    /// The secret, which every quote must carry as extraData.
    #[serde(with = "hgs_tcglog::owned::hex_bytes")]
    pub nonce: Vec<u8>,
    /// PCRs every quote must cover.
    pub pcrs: Vec<u32>,
    /// Banks that must each be quoted (and replayed).
    pub banks: Vec<HashAlg>,
}

/// What the host receives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeMessage {
    /// An identifier the verifier chose, echoed in the evidence so it can find its [`Challenge`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// TPM2B_ID_OBJECT contents.
    #[serde(with = "hgs_tcglog::owned::hex_bytes")]
    pub credential_blob: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET contents.
    #[serde(with = "hgs_tcglog::owned::hex_bytes")]
    pub encrypted_secret: Vec<u8>,
    /// PCRs to quote.
    pub pcrs: Vec<u32>,
    /// Banks to quote (empty: every bank the TPM has).
    #[serde(default)]
    pub banks: Vec<HashAlg>,
}

/// Why a challenge cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The AK or EK is unsuitable, or encryption failed.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// No PCR or no bank requested.
    #[error("a challenge must name at least one PCR and one bank")]
    Empty,
    /// A PCR index above 23.
    #[error("PCR {0} does not exist (0-23)")]
    BadPcr(u32),
}

/// Makes a challenge for `host`'s EK and the AK public area `ak_public` (TPM2B_PUBLIC or
/// TPMT_PUBLIC). The AK must be a restricted, fixedTPM signing key.
pub fn new_challenge(
    host: &TpmHost,
    ak_public: &[u8],
    pcrs: &[u32],
    banks: &[HashAlg],
    rng: &mut impl CryptoRngCore,
) -> Result<(Challenge, ChallengeMessage), ChallengeError> {
    if pcrs.is_empty() || banks.is_empty() {
        return Err(ChallengeError::Empty);
    }
    if let Some(p) = pcrs.iter().find(|p| **p > 23) {
        return Err(ChallengeError::BadPcr(*p));
    }
    check_ak_attributes(ak_public)?;
    let ak = Public::parse(ak_public)
        .map_err(|e| ChallengeError::Credential(CredentialError::MalformedAk(e.to_string())))?;
    let ak_name = ak
        .name()
        .map_err(|e| ChallengeError::Credential(CredentialError::MalformedAk(e.to_string())))?;
    let ek = Public::parse(&host.ekpub)
        .map_err(|e| ChallengeError::Credential(CredentialError::MalformedEk(e.to_string())))?;
    let len = HashAlg::from_tpm_alg_id(ek.name_alg)
        .map(HashAlg::digest_len)
        .unwrap_or(20)
        .min(32);
    let mut nonce = vec![0u8; len];
    rng.fill_bytes(&mut nonce);
    let credential = make_credential(&host.ekpub, &ak_name, &nonce, rng)?;
    let mut pcrs = pcrs.to_vec();
    pcrs.sort_unstable();
    pcrs.dedup();
    Ok((
        Challenge {
            host: host.name.clone(),
            ek_fingerprint: host.ek_fingerprint.clone(),
            ak_name,
            nonce,
            pcrs: pcrs.clone(),
            banks: banks.to_vec(),
        },
        ChallengeMessage {
            id: None,
            credential_blob: credential.credential_blob,
            encrypted_secret: credential.encrypted_secret,
            pcrs,
            banks: banks.to_vec(),
        },
    ))
}
