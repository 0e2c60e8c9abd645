//! EK certificate checks for host registration: the installed TPM roots and intermediates (from
//! the store) become an `hgs_ekcert::TrustStore`, and `hgs_ekcert::verify` decides whether the
//! certificate chains to them and carries the host's EKpub. The outcome is what
//! `hgs_policy::host::register_host` applies the v1/v2 rules to.

use hgs_ekcert::{EkPublic, Options, TrustStore, UnixTime};
use hgs_policy::store::{TrustRole, TrustedCertificate};
use hgs_policy::{EkCertificateCheck, EkIdentity};

/// A trust store of the installed certificates (unreadable ones are skipped: they were checked
/// when installed).
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

/// Checks an EK certificate (if any) against the installed certificates at `at` (Unix seconds),
/// requiring its key to be `ekpub` (TPM2B_PUBLIC / TPMT_PUBLIC).
pub fn check(
    certificate: Option<&[u8]>,
    ekpub: &[u8],
    installed: &[TrustedCertificate],
    at: i64,
) -> EkCertificateCheck {
    let Some(cert) = certificate else {
        return EkCertificateCheck::Missing;
    };
    let ek = match EkPublic::from_tpm_public(ekpub) {
        Ok(ek) => ek,
        Err(e) => {
            return EkCertificateCheck::Untrusted {
                reason: format!("the EKpub is unusable: {e}"),
            }
        }
    };
    match hgs_ekcert::verify(
        cert,
        &trust_store(installed),
        Some(&ek),
        &Options::at(UnixTime(at)),
    ) {
        Ok(v) => EkCertificateCheck::Trusted(EkIdentity {
            manufacturer: v.manufacturer,
            model: v.model,
            firmware: v.firmware,
            chain: v.chain.into_iter().map(|l| l.subject).collect(),
        }),
        Err(e) => EkCertificateCheck::Untrusted {
            reason: e.to_string(),
        },
    }
}

/// The installed-certificate records for every certificate under `dir` (TrustedTpm.cab layout or
/// a folder; see [`crate::roots`]). The vendor is the first path component under `dir`, if any.
pub fn installable(
    dir: &std::path::Path,
) -> std::io::Result<(Vec<TrustedCertificate>, Vec<String>)> {
    let loaded = crate::roots::load_roots(dir)?;
    let mut out = Vec::new();
    let mut skipped: Vec<String> = loaded
        .skipped
        .iter()
        .map(|(p, why)| format!("{}: {why}", p.display()))
        .collect();
    for (role, list) in [
        (TrustRole::Root, &loaded.anchors),
        (TrustRole::Intermediate, &loaded.intermediates),
    ] {
        for der in list {
            match hgs_ekcert::Certificate::from_bytes(der) {
                Ok(c) => out.push(TrustedCertificate {
                    role,
                    vendor: None,
                    subject: c.subject.to_string(),
                    der: der.clone(),
                }),
                Err(e) => skipped.push(format!("a certificate under {}: {e}", dir.display())),
            }
        }
    }
    Ok((out, skipped))
}
