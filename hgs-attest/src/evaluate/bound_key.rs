//! The key releases are encrypted to: a decryption key in the host's TPM, certified by the AK
//! that signed the quotes, for this challenge — or, without one, the VSM identity key Windows
//! measured into the quoted log (what HGS encrypts to).
//!
//! Runs in stage 2, on evidence stage 1 bound: the AK is the challenged one and its quotes
//! verified. A certification that does not verify fails the attestation (`TpmError`): evidence
//! carrying a key from another TPM (a relay), a duplicable, signing or imported key, or a
//! certification for another nonce was made to mislead. No certification and no single IDK
//! binds nothing: the host can pass, but a key service releases nothing to it.

use hgs_keys::BoundKey;
use hgs_tcglog::BootClaims;
use hgs_tpm::{verify_certify, CertifyRequirements, EccCurve, Freshness, PublicKey};

use super::run::Run;
use super::{Attestor, FreshnessPolicy, Host};
use crate::verdict::{BoundKeySource, CheckId, Failure};

/// RSA key algorithm id of SIPA VSM_IDK_INFO.
const IDK_ALG_RSA: u32 = 1;

impl Attestor {
    /// The bound key, checked; `None` when there is none to trust (the reason is in `run`).
    pub(super) fn check_bound_key(
        &self,
        run: &mut Run,
        host: &Host<'_>,
        claims: &BootClaims,
    ) -> Option<(BoundKey, BoundKeySource)> {
        let (c, e) = (host.challenge, host.evidence);
        if let Some(b) = &e.bound_key {
            let requirements = CertifyRequirements {
                freshness: match self.freshness {
                    FreshnessPolicy::Required => Freshness::Nonce(&c.nonce),
                    FreshnessPolicy::NotChecked => Freshness::NotChecked,
                },
            };
            let certified = match verify_certify(
                &e.ak_public,
                &b.attest,
                &b.signature,
                &b.public,
                &requirements,
                self.verifier.as_ref(),
            ) {
                Ok(k) => k,
                Err(error) => {
                    run.fail(CheckId::BoundKey, Failure::BoundKeyRefused { error });
                    return None;
                }
            };
            let Some(key) = jwk_of(certified.key()) else {
                run.fail(
                    CheckId::BoundKey,
                    Failure::BoundKeyUnusable {
                        public: certified.public_area().to_vec(),
                    },
                );
                return None;
            };
            run.pass(
                CheckId::BoundKey,
                format!(
                    "{} {} in the TPM, certified by the AK{}: fixedTPM, fixedParent, generated in the TPM, decrypt only",
                    key.key_type(),
                    key.thumbprint(),
                    if self.freshness == FreshnessPolicy::Required {
                        " for this challenge"
                    } else {
                        " (nonce NOT checked)"
                    }
                ),
            );
            return Some((key, BoundKeySource::Certified));
        }
        match (&claims.vsm_idk, claims.vsm_idk_records) {
            (_, 0) => {
                run.skip(
                    CheckId::BoundKey,
                    "no certified key and no VSM identity key: nothing can be released to this host"
                        .into(),
                );
                None
            }
            (Some(idk), 1) => {
                let key = (idk.value.key_alg == IDK_ALG_RSA)
                    .then(|| BoundKey::from_rsa_parts(&idk.value.modulus, &idk.value.exponent).ok())
                    .flatten();
                match key {
                    Some(key) => {
                        run.pass(
                            CheckId::BoundKey,
                            format!(
                                "VSM identity key {} {} (event {} on quoted PCR {})",
                                key.key_type(),
                                key.thumbprint(),
                                idk.event_index,
                                idk.pcr
                            ),
                        );
                        Some((
                            key,
                            BoundKeySource::VsmIdk {
                                event_index: idk.event_index,
                                pcr: idk.pcr,
                            },
                        ))
                    }
                    None => {
                        run.skip(
                            CheckId::BoundKey,
                            format!(
                                "the VSM identity key (event {}) is not an RSA-2048 key: nothing can be released to this host",
                                idk.event_index
                            ),
                        );
                        None
                    }
                }
            }
            (_, n) => {
                run.skip(
                    CheckId::BoundKey,
                    format!(
                        "the quoted log has {n} VSM identity key records, not one: none is trusted, nothing can be released to this host"
                    ),
                );
                None
            }
        }
    }
}

/// The JWK of a TPM public key a JWE can be encrypted to: RSA-2048 or P-256.
fn jwk_of(key: &PublicKey) -> Option<BoundKey> {
    match key {
        PublicKey::Rsa { modulus, exponent } => {
            let e = exponent.to_be_bytes();
            let first = e.iter().position(|b| *b != 0).unwrap_or(e.len() - 1);
            BoundKey::from_rsa_parts(modulus, &e[first..]).ok()
        }
        PublicKey::Ecc {
            curve: EccCurve::NistP256,
            x,
            y,
        } => BoundKey::from_p256_xy(x, y).ok(),
        _ => None,
    }
}
