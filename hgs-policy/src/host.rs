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

use crate::name::{Name, NameError};
use crate::version::PolicyVersion;

/// What the EK certificate check found, as `hgs-ekcert` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EkCertificateCheck {
    /// The platform identifier carries no EK certificate (common with firmware TPMs).
    Missing,
    /// The certificate chains to an installed TPM root and its key is the EKpub.
    Trusted(EkIdentity),
    /// The certificate is present but not trusted.
    Untrusted {
        /// Why, as data (untrusted root, key mismatch, expired, ...).
        #[serde(default)]
        why: EkDistrust,
        /// The validator's own message, for people (e.g. the chain's subjects and issuers).
        reason: String,
    },
}

/// Why an EK certificate is not trusted: the validator's verdict as data, so that an embedder can
/// tell an untrusted root (install the vendor's certificates) from a key mismatch (the certificate
/// belongs to another TPM) without reading text. Messages say what is wrong, not what to do.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EkDistrust {
    /// No installed root or intermediate issued a certificate of the chain.
    UntrustedRoot {
        /// The certificate nobody installed vouches for.
        subject: String,
        /// Its issuer, which is not installed.
        issuer: String,
    },
    /// The certificate's key is not the host's EKpub: it belongs to another TPM.
    KeyMismatch,
    /// A certificate of the chain had expired at the time of the check.
    Expired {
        /// The expired certificate.
        subject: String,
    },
    /// A certificate of the chain was not yet valid at the time of the check.
    NotYetValid {
        /// The certificate.
        subject: String,
    },
    /// CAs named like a certificate's issuer are installed, but none of their keys signed it: a
    /// look-alike CA (same name, another key), a CA the vendor re-keyed, or an altered
    /// certificate. Not a missing root: installing "the" CA of that name again changes nothing.
    IssuerSignatureMismatch {
        /// The certificate no installed CA of that name signed.
        subject: String,
        /// Its issuer name, which the installed CAs carry.
        issuer: String,
        /// How many installed CAs have that name.
        candidates: usize,
    },
    /// A signature of the chain does not verify (recorded by versions that did not yet tell an
    /// [`EkDistrust::IssuerSignatureMismatch`] apart).
    BadSignature,
    /// The EKpub the certificate was checked against is unusable.
    UnusableEkpub,
    /// The certificate cannot be read, or is not an EK certificate.
    Malformed,
    /// Refused for another reason (chain structure, budgets, an unknown critical extension, a
    /// quirk the policy refuses), or recorded before the reason was kept as data.
    #[default]
    Other,
}

impl core::fmt::Display for EkDistrust {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EkDistrust::UntrustedRoot { subject, issuer } => write!(
                f,
                "no installed TPM root or intermediate issued `{subject}` (issuer `{issuer}`)"
            ),
            EkDistrust::KeyMismatch => {
                f.write_str("the certificate is for another key than the EKpub")
            }
            EkDistrust::Expired { subject } => write!(f, "`{subject}` has expired"),
            EkDistrust::NotYetValid { subject } => write!(f, "`{subject}` is not yet valid"),
            EkDistrust::IssuerSignatureMismatch {
                subject,
                issuer,
                candidates,
            } => write!(
                f,
                "a CA named `{issuer}` is installed but did not sign `{subject}` ({candidates} \
                 installed certificate(s) of that name: a look-alike or re-keyed CA, or an \
                 altered certificate)"
            ),
            EkDistrust::BadSignature => f.write_str("a signature of the chain does not verify"),
            EkDistrust::UnusableEkpub => f.write_str("the EKpub is unusable"),
            EkDistrust::Malformed => {
                f.write_str("the certificate is malformed or not an EK certificate")
            }
            EkDistrust::Other => f.write_str("the certificate is not trusted"),
        }
    }
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
    pub name: Name,
    /// Version it was registered under.
    pub policy_version: PolicyVersion,
    /// The EK public area as TPMT_PUBLIC (what credentials are encrypted to).
    #[serde(with = "hgs_tpm::hex::serde")]
    pub ekpub: Vec<u8>,
    /// [`ek_fingerprint`] of the EK: SHA-256 over its key (hex in JSON). Two encodings of one
    /// key agree.
    pub ek_fingerprint: EkFingerprint,
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

/// Why a host cannot be registered. Messages say what is wrong; a program adds what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The EKpub is not a TPM public area of an RSA or ECC key.
    #[error("the EKpub is not a TPM2B_PUBLIC/TPMT_PUBLIC of an RSA or ECC key")]
    MalformedEkpub(#[source] hgs_tpm::Error),
    /// v2 without an EK certificate.
    #[error("host {name}: no EK certificate, and policy v2 requires a trusted one")]
    EkCertificateRequired {
        /// Host name.
        name: String,
    },
    /// v2 with a certificate that does not validate.
    #[error("host {name}: the EK certificate is not trusted under policy v2: {reason}")]
    EkCertificateUntrusted {
        /// Host name.
        name: String,
        /// Why, as data.
        why: EkDistrust,
        /// The validator's message.
        reason: String,
    },
    /// v1 without a trusted certificate and without force.
    #[error(
        "host {name}: no trusted EK certificate ({reason}); policy v1 accepts it only when forced"
    )]
    ForceRequired {
        /// Host name.
        name: String,
        /// Why the certificate is not trusted; `None` when there is none.
        why: Option<EkDistrust>,
        /// `no EK certificate`, or the validator's message.
        reason: String,
    },
    /// `force` with v2.
    #[error("force applies to policy v1 only")]
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
    /// The name breaks the naming rule ([`Name`]).
    #[error("invalid host name: {0}")]
    InvalidName(#[from] NameError),
}

/// An EK fingerprint: SHA-256 over a canonical encoding of the key ([`key_fingerprint`]).
///
/// Bytes in the type; 64 lower-case hex digits in JSON, in [`Display`](core::fmt::Display) and
/// in [`FromStr`](core::str::FromStr) (which accepts nothing else, so one key has one spelling).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EkFingerprint([u8; 32]);

impl EkFingerprint {
    /// From the 32 digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> EkFingerprint {
        EkFingerprint(bytes)
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Display for EkFingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hgs_tpm::hex::encode(&self.0))
    }
}

impl core::fmt::Debug for EkFingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EkFingerprint({self})")
    }
}

/// A string that is not an [`EkFingerprint`] (64 lower-case hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an EK fingerprint is 64 lower-case hex digits")]
pub struct BadEkFingerprint;

impl core::str::FromStr for EkFingerprint {
    type Err = BadEkFingerprint;

    fn from_str(s: &str) -> Result<EkFingerprint, BadEkFingerprint> {
        if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(BadEkFingerprint);
        }
        hgs_tpm::hex::decode(s)
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .map(EkFingerprint)
            .ok_or(BadEkFingerprint)
    }
}

impl serde::Serialize for EkFingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EkFingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EkFingerprint, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// SHA-256 over a canonical encoding of the key: `"RSA" || e (u32 BE) || n` or
/// `"ECC" || curve (u16 BE) || x || y`. Independent of the public area's other fields and of
/// TPM2B vs TPMT framing.
pub fn key_fingerprint(key: &PublicKey) -> EkFingerprint {
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
    EkFingerprint(h.finalize().into())
}

/// The EK fingerprint of a TPM2B_PUBLIC or TPMT_PUBLIC (see [`key_fingerprint`]).
pub fn ek_fingerprint(ekpub: &[u8]) -> Result<EkFingerprint, HostError> {
    let public = Public::parse(ekpub).map_err(HostError::MalformedEkpub)?;
    let key = public.key().map_err(HostError::MalformedEkpub)?;
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
    let name = Name::new(name)?;
    let public = Public::parse(ekpub).map_err(HostError::MalformedEkpub)?;
    let key = public.key().map_err(HostError::MalformedEkpub)?;
    let fingerprint = key_fingerprint(&key);
    if let Some(h) = existing.iter().find(|h| h.name == name) {
        return Err(HostError::DuplicateName(h.name.to_string()));
    }
    if let Some(h) = existing.iter().find(|h| h.ek_fingerprint == fingerprint) {
        return Err(HostError::DuplicateEkpub {
            name: name.into(),
            existing: h.name.to_string(),
        });
    }
    let forced = match (options.version, options.force, &check) {
        (PolicyVersion::V2, true, _) => return Err(HostError::ForceNotApplicableToV2),
        (_, _, EkCertificateCheck::Trusted(_)) => false,
        (PolicyVersion::V2, false, EkCertificateCheck::Missing) => {
            return Err(HostError::EkCertificateRequired { name: name.into() })
        }
        (PolicyVersion::V2, false, EkCertificateCheck::Untrusted { why, reason }) => {
            return Err(HostError::EkCertificateUntrusted {
                name: name.into(),
                why: why.clone(),
                reason: reason.clone(),
            })
        }
        (PolicyVersion::V1, false, other) => {
            let (why, reason) = match other {
                EkCertificateCheck::Untrusted { why, reason } => {
                    (Some(why.clone()), reason.clone())
                }
                _ => (None, "no EK certificate".into()),
            };
            return Err(HostError::ForceRequired {
                name: name.into(),
                why,
                reason,
            });
        }
        (PolicyVersion::V1, true, _) => true,
    };
    Ok(TpmHost {
        name,
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
