//! The entry point: an EK certificate's bytes, the trust store, the time, optionally the EK public
//! key the host presented → what was proven, or the one reason it was not.

use serde::Serialize;

use crate::cert::{Certificate, KeyType};
use crate::ekpub::{check_key_match, EkPublic};
use crate::error::{Error, Quirk, Result};
use crate::name::Name;
use crate::path::{self, Budget, TimeCheck};
use crate::signature::SignatureBackend;
use crate::tcg::{self, TpmInfo, TpmSpec};
use crate::time::UnixTime;
use crate::trust_store::{Slot, TrustStore};

/// Which vendor quirks are accepted. All default to accepted: every one occurs on genuine
/// certificates of the corpus; a stricter fleet can refuse them one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuirkPolicy {
    /// SHA-1 signatures anywhere on the chain.
    pub sha1: bool,
    /// id-RSAES-OAEP SubjectPublicKeyInfo on the leaf.
    pub oaep_spki: bool,
    /// TCG NV header and NV padding around the leaf's DER.
    pub nv_framing: bool,
    /// Trust anchors that are not self-signed.
    pub non_self_signed_anchor: bool,
}

impl Default for QuirkPolicy {
    fn default() -> Self {
        Self {
            sha1: true,
            oaep_spki: true,
            nv_framing: true,
            non_self_signed_anchor: true,
        }
    }
}

/// Verification settings. Build with [`Options::at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The verification time (the caller's clock, or a registration time).
    pub time: UnixTime,
    /// Accept certificates past their notAfter (EK identity outlives certificate validity on
    /// TPM 1.2-era parts). Off by default; notBefore is always checked.
    pub allow_expired: bool,
    /// Path-building limits.
    pub budget: Budget,
    /// Accepted quirks.
    pub quirks: QuirkPolicy,
    /// Which backend verifies the chain's signatures (ring by default, see
    /// [`SignatureBackend`]).
    pub backend: SignatureBackend,
}

impl Options {
    /// Defaults at time `time`: expired certificates refused, default budget, quirks accepted.
    pub fn at(time: UnixTime) -> Self {
        Self {
            time,
            allow_expired: false,
            budget: Budget::default(),
            quirks: QuirkPolicy::default(),
            backend: SignatureBackend::default(),
        }
    }
}

/// The role of a certificate in a validated chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The EK certificate.
    Leaf,
    /// An installed intermediate.
    Intermediate,
    /// An installed trust anchor.
    Anchor,
}

/// One certificate of a validated chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainLink {
    /// Role.
    pub role: Role,
    /// Subject (exact DER; RFC 4514 style text in JSON and `Display`).
    #[serde(serialize_with = "as_text")]
    pub subject: Name,
    /// Issuer (as `subject`).
    #[serde(serialize_with = "as_text")]
    pub issuer: Name,
    /// Serial number's content octets (hex in JSON).
    #[serde(serialize_with = "hgs_tpm::hex::serde::serialize")]
    pub serial: Vec<u8>,
    /// notAfter.
    pub not_after: UnixTime,
}

/// What a successful verification proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The chain, leaf first, anchor last.
    pub chain: Vec<ChainLink>,
    /// Whether the anchor is self-signed.
    pub anchor_self_signed: bool,
    /// TCG vendor ID of the TPM manufacturer (e.g. `IFX`), when the certificate names one.
    pub manufacturer: Option<String>,
    /// TPM model.
    pub model: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// All TPM fields from the SAN.
    pub tpm: Option<TpmInfo>,
    /// TPM specification attribute.
    pub tpm_spec: Option<TpmSpec>,
    /// The EK's key type.
    pub key_type: KeyType,
    /// Whether the key was matched against a presented EK public key.
    pub ekpub_matched: bool,
    /// Quirks met on the chain (leaf and CAs), each once.
    pub quirks: Vec<Quirk>,
    /// Signature verifications spent.
    pub signature_checks: u32,
}

/// Reads `cert_bytes` and verifies it: see [`verify_certificate`].
pub fn verify_chain(
    cert_bytes: &[u8],
    store: &TrustStore,
    ekpub: Option<&EkPublic>,
    options: &Options,
) -> Result<Verified> {
    let cert = Certificate::from_bytes(cert_bytes)?;
    verify_certificate(&cert, store, ekpub, options)
}

fn refuse(options: &Options, quirks: &[Quirk]) -> Result<()> {
    for q in quirks {
        let allowed = match q {
            Quirk::Sha1Signature => options.quirks.sha1,
            Quirk::OaepSpki => options.quirks.oaep_spki,
            Quirk::NvHeader | Quirk::TrailingPadding { .. } => options.quirks.nv_framing,
            Quirk::NonSelfSignedAnchor => options.quirks.non_self_signed_anchor,
            _ => true,
        };
        if !allowed {
            return Err(Error::QuirkRefused(*q));
        }
    }
    Ok(())
}

/// Verifies an EK certificate, in this order: quirk policy on the leaf, EK profile
/// ([`tcg::check_ek_profile`]), leaf validity, a path to an installed anchor, quirk policy on the
/// chain, and — when `ekpub` is given — that the certificate's key is that EK.
pub fn verify_certificate(
    cert: &Certificate,
    store: &TrustStore,
    ekpub: Option<&EkPublic>,
    options: &Options,
) -> Result<Verified> {
    refuse(options, &cert.quirks)?;
    refuse_unknown_critical(cert, 0)?;
    tcg::check_ek_profile(cert)?;
    let time = TimeCheck {
        at: options.time,
        allow_expired: options.allow_expired,
    };
    time.check(cert, 0)?;
    let found = path::build(store, cert, time, options.budget, options.backend)?;

    let mut quirks: Vec<Quirk> = Vec::new();
    let mut add = |q: &Quirk| {
        if !quirks.contains(q) {
            quirks.push(*q);
        }
    };
    cert.quirks.iter().for_each(&mut add);
    tcg::profile_quirks(cert).iter().for_each(&mut add);
    let mut chain = vec![link(cert, Role::Leaf)];
    let mut anchor_self_signed = false;
    for (i, slot) in found.path.iter().enumerate() {
        let c = store.get(*slot);
        refuse_unknown_critical(c, i + 1)?;
        for q in c
            .quirks
            .iter()
            .filter(|q| matches!(q, Quirk::Sha1Signature))
        {
            add(q);
        }
        let role = match slot {
            Slot::Anchor(_) => {
                anchor_self_signed = c.is_self_signed();
                if !anchor_self_signed {
                    add(&Quirk::NonSelfSignedAnchor);
                }
                Role::Anchor
            }
            Slot::Intermediate(_) => Role::Intermediate,
        };
        chain.push(link(c, role));
    }
    refuse(options, &quirks)?;
    if let Some(ek) = ekpub {
        check_key_match(cert, ek)?;
    }
    let tpm = cert.extensions.tpm.clone();
    Ok(Verified {
        chain,
        anchor_self_signed,
        manufacturer: tpm.as_ref().and_then(|t| t.manufacturer.clone()),
        model: tpm.as_ref().and_then(|t| t.model.clone()),
        firmware: tpm.as_ref().and_then(|t| t.firmware.clone()),
        tpm,
        tpm_spec: cert.extensions.tpm_spec.clone(),
        key_type: cert.key.key_type(),
        ekpub_matched: ekpub.is_some(),
        quirks,
        signature_checks: found.signature_checks,
    })
}

/// RFC 5280 §4.2: a certificate with a critical extension the verifier does not process must be
/// rejected. The extensions this crate processes are listed in [`crate::cert`]; any other critical
/// one, at any depth, is refused.
fn refuse_unknown_critical(c: &Certificate, depth: usize) -> Result<()> {
    match c.extensions.unhandled_critical.first() {
        Some(oid) => Err(Error::UnknownCriticalExtension {
            depth,
            subject: Box::new(c.subject.clone()),
            oid: oid.clone(),
        }),
        None => Ok(()),
    }
}

/// A [`Name`] in JSON: its RFC 4514 style text (a report, not a round-trip encoding).
fn as_text<S: serde::Serializer>(name: &Name, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(name)
}

fn link(c: &Certificate, role: Role) -> ChainLink {
    ChainLink {
        role,
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        serial: c.serial.clone(),
        not_after: c.not_after,
    }
}
