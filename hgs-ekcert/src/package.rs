//! `TrustedTpm.cab`, Microsoft's TPM root and intermediate package, read as HGS installs it:
//! `VENDOR/RootCA/*` become trust anchors, `VENDOR/IntermediateCA/*` intermediates (the
//! `TrustedTPM_RootCA` / `TrustedTPM_IntermediateCA` stores its `setup.cmd` fills), after the
//! cabinet's Authenticode signature verified to Microsoft's pinned root. Bytes in, certificates
//! out.

use thiserror::Error;

use crate::authenticode::{self, AuthenticodeError, CabinetSignature};
use crate::cab::{self, CabError};
use crate::cert::Certificate;
use crate::container::certificates_in;
use crate::error::Error;
use crate::time::UnixTime;

/// File name endings read as certificates (others, such as `readme.txt`, are ignored).
const CERT_EXTENSIONS: [&str; 4] = [".cer", ".crt", ".der", ".pem"];

/// Whether an unsigned or badly signed cabinet may still be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignaturePolicy {
    /// Refuse the cabinet unless its signature verifies (the default).
    Require,
    /// Read it anyway; the reason it did not verify is kept in [`TrustedTpmPackage::unverified`].
    AllowUnsigned,
}

/// Why a package was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The signature did not verify and the policy requires it.
    #[error("the cabinet's Authenticode signature is not valid")]
    Signature(#[source] AuthenticodeError),
    /// The cabinet could not be read.
    #[error("the cabinet cannot be read")]
    Cabinet(#[source] CabError),
}

/// One certificate of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageCertificate {
    /// The vendor folder (`STMicro`, `Intel`, ...).
    pub vendor: String,
    /// The file's path in the cabinet.
    pub path: String,
    /// The certificate.
    pub certificate: Certificate,
}

/// The anchors and intermediates of a `TrustedTpm.cab`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedTpmPackage {
    /// `VENDOR/RootCA/*`.
    pub anchors: Vec<PackageCertificate>,
    /// `VENDOR/IntermediateCA/*`.
    pub intermediates: Vec<PackageCertificate>,
    /// Certificate files that could not be read, with the reason.
    pub skipped: Vec<(String, Error)>,
    /// The verified signature, when it verified.
    pub signature: Option<CabinetSignature>,
    /// Why the signature did not verify, when [`SignaturePolicy::AllowUnsigned`] let it through.
    pub unverified: Option<AuthenticodeError>,
}

/// Checks the signature of a `TrustedTpm.cab` at `now` (see [`crate::verify_cabinet`]) and reads its
/// certificates. Files outside `VENDOR/RootCA/` and `VENDOR/IntermediateCA/` are ignored.
pub fn read_trusted_tpm_cab(
    input: &[u8],
    now: UnixTime,
    policy: SignaturePolicy,
) -> Result<TrustedTpmPackage, PackageError> {
    let (signature, unverified) = match authenticode::verify_cabinet(input, now) {
        Ok(s) => (Some(s), None),
        Err(e) if policy == SignaturePolicy::AllowUnsigned => (None, Some(e)),
        Err(e) => return Err(PackageError::Signature(e)),
    };
    let cabinet = cab::read_cabinet(input).map_err(PackageError::Cabinet)?;
    let mut out = TrustedTpmPackage {
        anchors: Vec::new(),
        intermediates: Vec::new(),
        skipped: Vec::new(),
        signature,
        unverified,
    };
    for f in cabinet.files {
        let parts: Vec<&str> = f.name.split('/').collect();
        let [vendor, role, file] = parts.as_slice() else {
            continue;
        };
        let anchor = match role.to_ascii_lowercase().as_str() {
            "rootca" => true,
            "intermediateca" => false,
            _ => continue,
        };
        let lower = file.to_ascii_lowercase();
        if !CERT_EXTENSIONS.iter().any(|e| lower.ends_with(e)) {
            continue;
        }
        let ders = match certificates_in(&f.data) {
            Ok(d) => d,
            Err(e) => {
                out.skipped.push((f.name.clone(), e));
                continue;
            }
        };
        for der in ders {
            match Certificate::from_bytes(&der) {
                Ok(certificate) => {
                    let pc = PackageCertificate {
                        vendor: (*vendor).to_string(),
                        path: f.name.clone(),
                        certificate,
                    };
                    if anchor {
                        out.anchors.push(pc);
                    } else {
                        out.intermediates.push(pc);
                    }
                }
                Err(e) => out.skipped.push((f.name.clone(), e)),
            }
        }
    }
    Ok(out)
}
