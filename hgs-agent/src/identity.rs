//! The platform identifier document (`hgs platform-identifier`, the counterpart of
//! Get-PlatformIdentifier): the host's EK public areas and EK certificates, or a clear note that a
//! certificate is missing.
//!
//! ```json
//! { "format": "hgs-platform-identifier/1", "name": "HOST",
//!   "endorsement_keys": [
//!     { "profile": "rsa2048", "certificate_nv_index": "0x01c00002",
//!       "public": "<TPM2B_PUBLIC hex>", "certificate": "<DER hex>" },
//!     { "profile": "ecc-p256", "certificate_nv_index": "0x01c0000a",
//!       "public": "<TPM2B_PUBLIC hex>", "certificate": null,
//!       "notes": ["no EK certificate (NV index 0x01c0000a is not defined)"] } ] }
//! ```

use serde::{Deserialize, Serialize};

/// The `format` value of a platform identifier.
pub const PLATFORM_IDENTIFIER_FORMAT: &str = "hgs-platform-identifier/1";

/// One endorsement key in a platform identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorsementKey {
    /// EK profile (`rsa2048`, `ecc-p256`, `ecc-p384`, ...).
    pub profile: String,
    /// NV index of the EK certificate, `0x01c00002` style.
    pub certificate_nv_index: String,
    /// TPM2B_PUBLIC of the EK (hex), if it could be created.
    pub public: Option<String>,
    /// DER EK certificate (hex), or null.
    pub certificate: Option<String>,
    /// Human-readable notes: "no EK certificate", why the public is missing, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `hgs platform-identifier` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformIdentifier {
    /// [`PLATFORM_IDENTIFIER_FORMAT`].
    pub format: String,
    /// Host name.
    pub name: String,
    /// The EKs found, RSA-2048 first.
    pub endorsement_keys: Vec<EndorsementKey>,
}

/// An EK decoded from hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ek {
    /// Profile name.
    pub profile: String,
    /// TPM2B_PUBLIC.
    pub public: Vec<u8>,
    /// DER certificate, if present.
    pub certificate: Option<Vec<u8>>,
}

impl PlatformIdentifier {
    /// The EK HGS registers: the first with a public area, preferring one with a certificate
    /// (RSA-2048 comes first, as Windows registers the RSA EK).
    pub fn primary_ek(&self) -> Option<Ek> {
        let decoded: Vec<Ek> = self
            .endorsement_keys
            .iter()
            .filter_map(|k| {
                Some(Ek {
                    profile: k.profile.clone(),
                    public: crate::hex::unhex(k.public.as_deref()?)?,
                    certificate: match k.certificate.as_deref() {
                        Some(c) => Some(crate::hex::unhex(c)?),
                        None => None,
                    },
                })
            })
            .collect();
        decoded
            .iter()
            .find(|e| e.certificate.is_some())
            .or_else(|| decoded.first())
            .cloned()
    }
}
