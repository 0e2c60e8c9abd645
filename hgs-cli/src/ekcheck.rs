//! EK material for host registration from files: EKpubs and EK certificates as the tools write
//! them, and the installable TPM roots of a folder or a TrustedTpm.cab. The check itself is the
//! library's (`hgs_attest::check_ek_certificate`).

use hgs_ekcert::{EkPublic, UnixTime};
use hgs_policy::{TrustRole, TrustedCertificate};

pub use hgs_attest::{check_ek_certificate, trust_store};

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
    match ek.key() {
        hgs_ekcert::KeyInfo::Rsa {
            modulus, exponent, ..
        } => {
            if modulus.len() != 256 || exponent.as_slice() != [0x01, 0x00, 0x01] {
                anyhow::bail!(
                    "the SPKI is not an RSA-2048 key with exponent 65537 (template L-1): give the EK as TPM2B_PUBLIC"
                );
            }
            Ok(hgs_tpm::ek_rsa2048_public(modulus))
        }
        hgs_ekcert::KeyInfo::Ecc {
            curve: hgs_ekcert::Curve::P256,
            x,
            y,
        } => Ok(hgs_tpm::ek_p256_public(x, y)),
        _ => anyhow::bail!(
            "the SPKI is neither RSA-2048 nor ECC P-256 (templates L-1/L-2): give the EK as TPM2B_PUBLIC"
        ),
    }
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
