//! The EK certificate check of a host registration: the installed TPM roots and intermediates
//! become an [`hgs_ekcert::TrustStore`], and [`hgs_ekcert::verify_chain`] decides whether the
//! certificate chains to them and carries the host's EKpub. The outcome is what
//! [`hgs_policy::register_host`] applies the v1/v2/force rules to. One function for every
//! embedder (the `hgs` program and the service call it), with time passed in.

use hgs_ekcert::{EkPublic, Options, TrustStore, UnixTime};
use hgs_policy::{EkCertificateCheck, EkDistrust, EkIdentity};
use hgs_policy::{TrustRole, TrustedCertificate};

/// An installed certificate made from its bytes alone (DER; PEM and TPM NV framing are read
/// too): its subject, for listing, is read from it, and `der` is the certificate's own DER.
/// `vendor` is left `None` (set it when the certificate came from a vendor folder). The error is
/// the certificate reader's, when the bytes are not a certificate.
///
/// ([`TrustedCertificate`] is `hgs-policy`'s, which reads no certificates; so this constructor
/// lives here, beside the check that uses the installed certificates.)
pub fn trusted_certificate(
    role: TrustRole,
    der: &[u8],
) -> Result<TrustedCertificate, hgs_ekcert::Error> {
    let c = hgs_ekcert::Certificate::from_bytes(der)?;
    Ok(TrustedCertificate {
        role,
        vendor: None,
        subject: c.subject.to_string(),
        der: c.der().to_vec(),
    })
}

/// A trust store of the installed certificates. One that no longer parses is skipped: each was
/// parsed when it was installed, and a certificate that cannot be read trusts nothing.
pub fn trust_store(installed: &[TrustedCertificate]) -> TrustStore {
    let mut store = TrustStore::new();
    for c in installed {
        let _ = match c.role {
            TrustRole::Root => store.add_anchor(&c.der),
            TrustRole::Intermediate => store.add_intermediate(&c.der),
        };
    }
    store
}

/// Checks a host's EK certificate, if it has one, against the `installed` roots and
/// intermediates at `at`, requiring the certificate's key to be `ekpub` (TPM2B_PUBLIC or
/// TPMT_PUBLIC): `Missing` without a certificate, `Trusted` with the chain and the TPM's
/// identity, `Untrusted` with the reason otherwise.
pub fn check_ek_certificate(
    certificate: Option<&[u8]>,
    ekpub: &[u8],
    installed: &[TrustedCertificate],
    at: UnixTime,
) -> EkCertificateCheck {
    let Some(cert) = certificate else {
        return EkCertificateCheck::Missing;
    };
    let ek = match EkPublic::from_tpm_public(ekpub) {
        Ok(ek) => ek,
        Err(e) => {
            return EkCertificateCheck::Untrusted {
                why: EkDistrust::UnusableEkpub,
                reason: format!("the EKpub is unusable: {e}"),
            }
        }
    };
    match hgs_ekcert::verify_chain(cert, &trust_store(installed), Some(&ek), &Options::at(at)) {
        Ok(v) => EkCertificateCheck::Trusted(EkIdentity {
            manufacturer: v.manufacturer,
            model: v.model,
            firmware: v.firmware,
            chain: v.chain.iter().map(|l| l.subject.to_string()).collect(),
        }),
        Err(e) => EkCertificateCheck::Untrusted {
            why: distrust(&e),
            reason: e.to_string(),
        },
    }
}

/// The validator's error as the registration keeps it.
fn distrust(e: &hgs_ekcert::Error) -> EkDistrust {
    use hgs_ekcert::Error as E;
    match e {
        E::UntrustedRoot {
            subject, issuer, ..
        } => EkDistrust::UntrustedRoot {
            subject: subject.to_string(),
            issuer: issuer.to_string(),
        },
        E::KeyMismatch { .. } => EkDistrust::KeyMismatch,
        E::Expired { subject, .. } => EkDistrust::Expired {
            subject: subject.to_string(),
        },
        E::NotYetValid { subject, .. } => EkDistrust::NotYetValid {
            subject: subject.to_string(),
        },
        E::IssuerSignatureMismatch {
            subject,
            issuer,
            candidates,
            ..
        } => EkDistrust::IssuerSignatureMismatch {
            subject: subject.to_string(),
            issuer: issuer.to_string(),
            candidates: *candidates,
        },
        E::EkPublic(_) => EkDistrust::UnusableEkpub,
        E::Malformed { .. } | E::TrailingData { .. } | E::NotEkCertificate(_) => {
            EkDistrust::Malformed
        }
        _ => EkDistrust::Other,
    }
}
