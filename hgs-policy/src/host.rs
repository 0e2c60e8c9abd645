//! TPM host registration (`Add-HgsAttestationTpmHost`): the v1/v2 rules for EK certificates,
//! `force`, and duplicate identities.
//!
//! | version | EK certificate trusted | missing or untrusted | `force` |
//! |---|---|---|---|
//! | v2 (default) | registered | refused: install the vendor's roots, or register under v1 with force | refused: "force does not apply to v2" |
//! | v1 | registered | refused unless forced; forced registrations are marked | allowed |
//!
//! Whether the certificate is trusted is decided by `hgs-ekcert` (chain to an installed TPM root and
//! key equal to the EKpub); this module takes that outcome as an [`EkCertificateCheck`] so the rules
//! stay a pure function of their inputs.

use hgs_tpm::{Public, PublicKey};
use sha2::{Digest, Sha256};

use crate::version::PolicyVersion;

/// What the EK certificate check found, as `hgs-ekcert` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EkCertificateCheck {
    /// The platform identifier carries no EK certificate (common with firmware TPMs).
    Missing,
    /// The certificate chains to an installed TPM root and its key is the EKpub.
    Trusted(EkIdentity),
    /// The certificate is present but not trusted; `reason` is the validator's reason.
    Untrusted {
        /// Why, e.g. "untrusted root: no installed anchor for issuer CN=...".
        reason: String,
    },
}

/// What a trusted EK certificate proved about the TPM.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct EkIdentity {
    /// TCG vendor ID, e.g. `IFX`, `NTC`, `INTC`.
    pub manufacturer: Option<String>,
    /// TPM model string.
    pub model: Option<String>,
    /// TPM firmware version.
    pub firmware: Option<String>,
    /// Subjects from the EK certificate to the trust anchor.
    pub chain: Vec<String>,
}

/// How the admin asked to register a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistrationOptions {
    /// `-PolicyVersion`.
    pub version: PolicyVersion,
    /// `-Force`: v1 only, accept a host without a trusted EK certificate.
    pub force: bool,
}

/// A registered TPM host: the identity a quote's EK must match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TpmHost {
    /// Name the admin gave.
    pub name: String,
    /// Version it was registered under.
    pub policy_version: PolicyVersion,
    /// The EK public area as TPMT_PUBLIC (what credentials are encrypted to).
    #[serde(with = "hgs_tpm::hex::serde")]
    pub ekpub: Vec<u8>,
    /// [`ek_fingerprint`] of the EK: SHA-256 over its key, hex. Two encodings of one key agree.
    pub ek_fingerprint: String,
    /// Key type, e.g. `RSA-2048`.
    pub ek_key_type: String,
    /// The EK certificate (DER) if the platform identifier had one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hgs_tpm::hex::serde_option"
    )]
    pub ek_certificate: Option<Vec<u8>>,
    /// What the certificate check found at registration.
    pub ek_certificate_check: EkCertificateCheck,
    /// Registered with `force` (v1 without a trusted EK certificate).
    pub forced: bool,
}

/// Why a host cannot be registered. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The EKpub is not a TPM public area of an RSA or ECC key.
    #[error("the EKpub is not a TPM2B_PUBLIC/TPMT_PUBLIC of an RSA or ECC key: {0}")]
    MalformedEkpub(String),
    /// v2 without an EK certificate.
    #[error(
        "host {name}: the platform identifier has no EK certificate; policy v2 requires one \
         (re-run platform-identifier elevated, or register with --policy-version v1 --force)"
    )]
    EkCertificateRequired {
        /// Host name.
        name: String,
    },
    /// v2 with a certificate that does not validate.
    #[error(
        "host {name}: the EK certificate is not trusted ({reason}); install the TPM vendor's root \
         and intermediate certificates (hgs roots add), or register with --policy-version v1 --force"
    )]
    EkCertificateUntrusted {
        /// Host name.
        name: String,
        /// The validator's reason.
        reason: String,
    },
    /// v1 without a trusted certificate and without force.
    #[error(
        "host {name}: no trusted EK certificate ({reason}); policy v1 accepts this host only with --force"
    )]
    ForceRequired {
        /// Host name.
        name: String,
        /// Missing, or the validator's reason.
        reason: String,
    },
    /// `force` with v2.
    #[error(
        "force does not apply to v2: register with --policy-version v1 --force, or without --force"
    )]
    ForceNotApplicableToV2,
    /// The EKpub is already registered under another name.
    #[error("host {name}: this EKpub is already registered as {existing}")]
    DuplicateEkpub {
        /// The new name.
        name: String,
        /// The name it is registered under.
        existing: String,
    },
    /// The name is already used.
    #[error("a host named {0} is already registered (remove it first)")]
    DuplicateName(String),
}

/// SHA-256 over a canonical encoding of the key: `"RSA" || e (u32 BE) || n` or
/// `"ECC" || curve (u16 BE) || x || y`, hex. Independent of the public area's other fields and of
/// TPM2B vs TPMT framing.
pub fn key_fingerprint(key: &PublicKey) -> String {
    let mut h = Sha256::new();
    match key {
        PublicKey::Rsa { modulus, exponent } => {
            h.update(b"RSA");
            h.update(exponent.to_be_bytes());
            let lead = modulus.iter().take_while(|b| **b == 0).count();
            h.update(&modulus[lead..]);
        }
        PublicKey::Ecc { curve, x, y } => {
            h.update(b"ECC");
            h.update(curve.id().to_be_bytes());
            h.update(x);
            h.update(y);
        }
    }
    hgs_tpm::hex::encode(&h.finalize())
}

/// The EK fingerprint of a TPM2B_PUBLIC or TPMT_PUBLIC (see [`key_fingerprint`]).
pub fn ek_fingerprint(ekpub: &[u8]) -> Result<String, HostError> {
    let public = Public::parse(ekpub).map_err(|e| HostError::MalformedEkpub(e.to_string()))?;
    let key = public
        .key()
        .map_err(|e| HostError::MalformedEkpub(e.to_string()))?;
    Ok(key_fingerprint(&key))
}

/// Registers a host: applies the v1/v2 rules and refuses duplicates among `existing`.
///
/// `ekpub` is the EK's TPM2B_PUBLIC or TPMT_PUBLIC; `ek_certificate` the DER certificate from the
/// platform identifier, if any; `check` what `hgs-ekcert` said of it (use
/// [`EkCertificateCheck::Missing`] when there is none).
pub fn register_host(
    name: &str,
    ekpub: &[u8],
    ek_certificate: Option<&[u8]>,
    check: EkCertificateCheck,
    options: RegistrationOptions,
    existing: &[TpmHost],
) -> Result<TpmHost, HostError> {
    let public = Public::parse(ekpub).map_err(|e| HostError::MalformedEkpub(e.to_string()))?;
    let key = public
        .key()
        .map_err(|e| HostError::MalformedEkpub(e.to_string()))?;
    let fingerprint = key_fingerprint(&key);
    if let Some(h) = existing.iter().find(|h| h.name == name) {
        return Err(HostError::DuplicateName(h.name.clone()));
    }
    if let Some(h) = existing.iter().find(|h| h.ek_fingerprint == fingerprint) {
        return Err(HostError::DuplicateEkpub {
            name: name.into(),
            existing: h.name.clone(),
        });
    }
    let forced = match (options.version, options.force, &check) {
        (PolicyVersion::V2, true, _) => return Err(HostError::ForceNotApplicableToV2),
        (_, _, EkCertificateCheck::Trusted(_)) => false,
        (PolicyVersion::V2, false, EkCertificateCheck::Missing) => {
            return Err(HostError::EkCertificateRequired { name: name.into() })
        }
        (PolicyVersion::V2, false, EkCertificateCheck::Untrusted { reason }) => {
            return Err(HostError::EkCertificateUntrusted {
                name: name.into(),
                reason: reason.clone(),
            })
        }
        (PolicyVersion::V1, false, other) => {
            return Err(HostError::ForceRequired {
                name: name.into(),
                reason: match other {
                    EkCertificateCheck::Untrusted { reason } => reason.clone(),
                    _ => "no EK certificate".into(),
                },
            })
        }
        (PolicyVersion::V1, true, _) => true,
    };
    Ok(TpmHost {
        name: name.into(),
        policy_version: options.version,
        ekpub: public.bytes.to_vec(),
        ek_fingerprint: fingerprint,
        ek_key_type: key.describe(),
        ek_certificate: ek_certificate.map(<[u8]>::to_vec),
        ek_certificate_check: check,
        forced,
    })
}

impl TpmHost {
    /// Whether `ekpub` (TPM2B_PUBLIC or TPMT_PUBLIC) is this host's EK.
    pub fn has_ek(&self, ekpub: &[u8]) -> bool {
        ek_fingerprint(ekpub).is_ok_and(|f| f == self.ek_fingerprint)
    }
}
