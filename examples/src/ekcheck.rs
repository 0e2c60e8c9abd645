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
    let (found, skipped) = installable_dir(dir)?;
    Ok((found.into_iter().map(|i| i.certificate).collect(), skipped))
}

/// [`installable`], each record with the file it came from.
pub fn installable_dir(dir: &std::path::Path) -> std::io::Result<(Vec<Installable>, Vec<String>)> {
    let loaded = crate::roots::load_roots(dir)?;
    let mut out = Vec::new();
    let mut skipped: Vec<String> = loaded
        .skipped
        .iter()
        .map(|(p, why)| format!("{}: {why}", p.display()))
        .collect();
    let sources: std::collections::HashMap<&[u8], &std::path::Path> = loaded
        .sources
        .iter()
        .map(|(d, f)| (d.as_slice(), f.as_path()))
        .collect();
    for (role, list) in [
        (TrustRole::Root, &loaded.anchors),
        (TrustRole::Intermediate, &loaded.intermediates),
    ] {
        for der in list {
            let file = sources.get(der.as_slice()).copied();
            // The vendor folder: the first component under `dir` when the file is below one.
            let vendor = file
                .and_then(|f| f.strip_prefix(dir).ok())
                .filter(|rel| rel.components().count() > 1)
                .and_then(|rel| rel.components().next())
                .and_then(|c| c.as_os_str().to_str())
                .filter(|v| {
                    !v.eq_ignore_ascii_case("rootca") && !v.eq_ignore_ascii_case("intermediateca")
                })
                .map(str::to_string);
            match hgs_ekcert::Certificate::from_bytes(der) {
                Ok(c) => out.push(Installable {
                    certificate: TrustedCertificate {
                        role,
                        vendor,
                        subject: c.subject.to_string(),
                        der: der.clone(),
                    },
                    source: file.unwrap_or(dir).display().to_string(),
                }),
                Err(e) => skipped.push(format!("a certificate under {}: {e}", dir.display())),
            }
        }
    }
    Ok((out, skipped))
}

/// The TCG EK Credential Profile's default EK authPolicy (PolicySecret(TPM_RH_ENDORSEMENT)),
/// shared by templates L-1 (RSA 2048) and L-2 (ECC P-256).
const EK_AUTH_POLICY: [u8; 32] = [
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
];
/// fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy | restricted | decrypt.
const EK_ATTRIBUTES: u32 = 0x0003_00b2;

/// The EK public area for `hgs host add --ekpub FILE`, as the verifier stores it (TPM2B_PUBLIC or
/// TPMT_PUBLIC, which `TPM2_MakeCredential` needs: the EK's name is the hash of it).
///
/// - `TPM2B_PUBLIC` (`tpm2_createek -u`, `tpm2_readpublic -o`) or `TPMT_PUBLIC` (Windows PCP
///   export): kept exactly.
/// - SubjectPublicKeyInfo, PEM (`tpm2_readpublic -f pem`, `openssl`) or DER: an SPKI carries only
///   the key, so the public area is rebuilt from the TCG EK Credential Profile default template
///   (L-1 RSA 2048 / L-2 ECC P-256, what `tpm2_createek` and Windows create by default). An EK
///   made from another template (a high-range one, another key size) must be given as
///   TPM2B_PUBLIC: with a rebuilt area its credential would not activate.
pub fn ek_public_from_file(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    if EkPublic::from_tpm_public(bytes).is_ok() {
        return Ok(bytes.to_vec());
    }
    let ek = EkPublic::parse(bytes)
        .map_err(|e| anyhow::anyhow!("not a TPM2B_PUBLIC, TPMT_PUBLIC or SPKI: {e}"))?;
    let mut t = Vec::new();
    let header = |t: &mut Vec<u8>, alg: u16| {
        t.extend(alg.to_be_bytes());
        t.extend(0x000bu16.to_be_bytes()); // nameAlg SHA-256
        t.extend(EK_ATTRIBUTES.to_be_bytes());
        t.extend(32u16.to_be_bytes());
        t.extend(EK_AUTH_POLICY);
        // symmetric AES-128-CFB, scheme NULL
        t.extend([0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x10]);
    };
    match ek.key() {
        hgs_ekcert::KeyInfo::Rsa {
            modulus, exponent, ..
        } => {
            if modulus.len() != 256 || exponent.as_slice() != [0x01, 0x00, 0x01] {
                anyhow::bail!(
                    "the SPKI is not an RSA-2048 key with exponent 65537 (template L-1): give the EK as TPM2B_PUBLIC"
                );
            }
            header(&mut t, 0x0001);
            t.extend(2048u16.to_be_bytes());
            t.extend(0u32.to_be_bytes()); // exponent 0 = 65537
            t.extend(256u16.to_be_bytes());
            t.extend(modulus);
        }
        hgs_ekcert::KeyInfo::Ecc {
            curve: hgs_ekcert::Curve::P256,
            x,
            y,
        } => {
            header(&mut t, 0x0023);
            t.extend(0x0003u16.to_be_bytes()); // TPM_ECC_NIST_P256
            t.extend(0x0010u16.to_be_bytes()); // kdf NULL
            for c in [x, y] {
                t.extend(32u16.to_be_bytes());
                t.extend(c);
            }
        }
        _ => anyhow::bail!(
            "the SPKI is neither RSA-2048 nor ECC P-256 (templates L-1/L-2): give the EK as TPM2B_PUBLIC"
        ),
    }
    let mut out = u16::try_from(t.len())?.to_be_bytes().to_vec();
    out.extend(t);
    Ok(out)
}

/// The EK certificate for `hgs host add --ekcert FILE`: DER, PEM, or an NV blob
/// (`tpm2_nvread`, `tpm2_getekcertificate`) with the TCG stored-certificate header and/or
/// padding. Returns the bare DER.
pub fn ek_certificate_from_file(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let c = hgs_ekcert::Certificate::from_bytes(bytes)
        .map_err(|e| anyhow::anyhow!("not an EK certificate (DER, PEM or NV blob): {e}"))?;
    Ok(c.der().to_vec())
}

/// One certificate of an install, with where it came from.
#[derive(Debug, Clone)]
pub struct Installable {
    /// The record to store.
    pub certificate: TrustedCertificate,
    /// The file it came from (the cabinet, or the file under the folder).
    pub source: String,
}

/// The installed-certificate records of a `TrustedTpm.cab` (signature checked at `now`, Unix
/// seconds, unless `allow_unsigned`), with the signature's verdict for the caller to print.
pub fn installable_cab(
    path: &std::path::Path,
    bytes: &[u8],
    now: i64,
    allow_unsigned: bool,
) -> anyhow::Result<(Vec<Installable>, Vec<String>, hgs_ekcert::TrustedTpmPackage)> {
    let policy = if allow_unsigned {
        hgs_ekcert::SignaturePolicy::AllowUnsigned
    } else {
        hgs_ekcert::SignaturePolicy::Require
    };
    let package = hgs_ekcert::read_trusted_tpm_cab(bytes, UnixTime(now), policy)
        .map_err(|e| anyhow::Error::new(e).context(format!("{}: refused", path.display())))?;
    let source = path.display().to_string();
    let mut out = Vec::new();
    for (role, list) in [
        (TrustRole::Root, &package.anchors),
        (TrustRole::Intermediate, &package.intermediates),
    ] {
        for c in list {
            out.push(Installable {
                certificate: TrustedCertificate {
                    role,
                    vendor: Some(c.vendor.clone()),
                    subject: c.certificate.subject.to_string(),
                    der: c.certificate.der().to_vec(),
                },
                source: source.clone(),
            });
        }
    }
    let skipped = package
        .skipped
        .iter()
        .map(|(p, e)| format!("{}:{p}: {e}", path.display()))
        .collect();
    Ok((out, skipped, package))
}
