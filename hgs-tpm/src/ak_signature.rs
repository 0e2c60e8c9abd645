//! The AK signature path that quotes ([`crate::verify_quote`]) and certifications
//! ([`crate::verify_certify`]) share: parse the TPMT_SIGNATURE, refuse hashes no backend
//! verifies, and verify it with the AK's key over the exact TPMS_ATTEST bytes.
//!
//! Each caller maps [`AkSignatureError`] onto its own error type, so a quote and a certification
//! are refused for the same reasons in the same order.

use crate::alg::HashAlg;
use crate::public::Public;
use crate::signature::Signature;
use crate::verify::SignatureVerifier;

/// Why the AK's signature was not accepted (crate-private: mapped by each caller).
#[derive(Debug)]
pub(crate) enum AkSignatureError {
    /// The TPMT_SIGNATURE does not parse.
    MalformedSignature(crate::Error),
    /// The signing hash is one this verifier cannot compute (TPM_ALG_ID).
    UnsupportedHash(u16),
    /// The AK public area holds no usable asymmetric key.
    MalformedAkKey(crate::Error),
    /// The signature does not verify with the AK.
    BadSignature(crate::Error),
}

/// Parses the signature and its hash. No backend verifies signatures over SM3.
pub(crate) fn parse_ak_signature(
    signature: &[u8],
) -> Result<(Signature<'_>, HashAlg), AkSignatureError> {
    let sig = Signature::parse(signature).map_err(AkSignatureError::MalformedSignature)?;
    let hash = HashAlg::from_tpm_alg_id(sig.hash_alg())
        .filter(|h| *h != HashAlg::Sm3_256)
        .ok_or(AkSignatureError::UnsupportedHash(sig.hash_alg()))?;
    Ok((sig, hash))
}

/// Verifies `sig` over `attest` (the exact TPMS_ATTEST bytes) with the AK's key.
pub(crate) fn verify_ak_signature(
    ak: &Public<'_>,
    attest: &[u8],
    sig: &Signature<'_>,
    verifier: &dyn SignatureVerifier,
) -> Result<(), AkSignatureError> {
    let key = ak.key().map_err(AkSignatureError::MalformedAkKey)?;
    verifier
        .verify(&key, attest, sig)
        .map_err(AkSignatureError::BadSignature)
}
