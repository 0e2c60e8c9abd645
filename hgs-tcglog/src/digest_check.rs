//! Checks that an event's digest covers its data, for the event types whose digest the spec
//! defines as a hash of the data. A verifier must never trust the data of an event whose digest
//! does not cover it (the digest is what the TPM extended; the data is unprotected text).
//!
//! | type | digest = | accepted variants (each seen in real logs, `shared/corpus/tcglog`) |
//! |---|---|---|
//! | EV_SEPARATOR, EV_ACTION, EV_EFI_ACTION, EV_EFI_GPT_EVENT, EV_COMPACT_HASH on PCR 11, EV_EVENT_TAG outside PCR 9 | H(data) | — |
//! | EV_EFI_VARIABLE_DRIVER_CONFIG | H(UEFI_VARIABLE_DATA) | H(VariableData) (old TPM 1.2 firmware, `ga_linux_tpm12`) |
//! | EV_EFI_VARIABLE_BOOT / BOOT2 | H(VariableData) | H(UEFI_VARIABLE_DATA) (many firmwares) |
//! | EV_EFI_VARIABLE_AUTHORITY | H(UEFI_VARIABLE_DATA) | H(data minus its last byte) (shim, `ga_sb_cert_eventlog`) |
//!
//! Not checked (their digest is of something else): images, firmware blobs, POST codes, handoff
//! tables, H-CRTM, EV_IPL (GRUB hashes commands without prefix, kernels by file), EV_S_CRTM_VERSION
//! and vendor EV_COMPACT_HASH (firmware-specific), EV_NO_ACTION, and Linux EFI-stub EV_EVENT_TAG
//! on PCR 9 (digest of the initrd / load options).

use crate::alg::{HashAlg, MAX_DIGEST};
use crate::error::Result;
use crate::event::Event;
use crate::event_type::EventType;
use crate::parse::EventLog;
use crate::uefi::UefiVariable;

/// An event whose logged digest is not the hash of its data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestMismatch {
    /// Event index.
    pub event_index: u32,
    /// PCR.
    pub pcr: u32,
    /// Event type (raw).
    pub event_type: u32,
    /// Bank.
    pub alg: HashAlg,
    /// The digest in the log.
    pub logged: Vec<u8>,
    /// H(data), the digest the spec defines.
    pub computed: Vec<u8>,
}

/// Whether the digest of this event type is defined over its data (so it can be checked).
pub fn digest_covers_data(event: &Event<'_>) -> bool {
    match event.event_type {
        EventType::Separator
        | EventType::Action
        | EventType::EfiAction
        | EventType::EfiGptEvent
        | EventType::EfiVariableDriverConfig
        | EventType::EfiVariableBoot
        | EventType::EfiVariableBoot2
        | EventType::EfiVariableAuthority => true,
        EventType::CompactHash => event.pcr == 11,
        EventType::EventTag => event.pcr != 9 && event.pcr < 24,
        _ => false,
    }
}

fn eq_hash(alg: HashAlg, parts: &[&[u8]], want: &[u8]) -> bool {
    let mut out = [0u8; MAX_DIGEST];
    alg.hash_into(parts, &mut out);
    &out[..alg.digest_len()] == want
}

/// Whether `logged` (the event's digest in bank `alg`) is the hash of the event's data, as the
/// spec defines it for the event's type (with the variants the table above accepts).
fn covers(event: &Event<'_>, alg: HashAlg, logged: &[u8]) -> bool {
    let d = event.data;
    eq_hash(alg, &[d], logged)
        || match event.event_type {
            EventType::EfiVariableDriverConfig
            | EventType::EfiVariableBoot
            | EventType::EfiVariableBoot2 => {
                UefiVariable::parse(d, event.index).is_ok_and(|v| eq_hash(alg, &[v.data], logged))
            }
            EventType::EfiVariableAuthority => {
                !d.is_empty() && eq_hash(alg, &[&d[..d.len() - 1]], logged)
            }
            _ => false,
        }
}

fn mismatch(event: &Event<'_>, alg: HashAlg, logged: &[u8]) -> DigestMismatch {
    DigestMismatch {
        event_index: event.index,
        pcr: event.pcr,
        event_type: event.event_type.as_u32(),
        alg,
        logged: logged.to_vec(),
        computed: alg.hash(event.data),
    }
}

/// Checks one event in every bank it carries a digest for; `None` when it passes or is not
/// checkable. (An event that carries no digest of a known bank passes vacuously: use
/// [`check_event_in_bank`] when you know which bank your quote covers.)
pub fn check_event(event: &Event<'_>) -> Option<DigestMismatch> {
    if !digest_covers_data(event) {
        return None;
    }
    for (alg, logged) in event.digests() {
        if !covers(event, alg, logged) {
            return Some(mismatch(event, alg, logged));
        }
    }
    None
}

/// Checks one event against its digest in bank `alg` only — the bank a quote covers, so the one
/// whose digest the TPM really extended; digests of other banks are not hashed. `None` when it
/// passes or is not checkable. An event with checkable data but no `alg` digest fails (`logged`
/// empty): that bank never measured its data.
pub fn check_event_in_bank(event: &Event<'_>, alg: HashAlg) -> Option<DigestMismatch> {
    if !digest_covers_data(event) {
        return None;
    }
    match event.digest(alg) {
        Some(logged) if covers(event, alg, logged) => None,
        Some(logged) => Some(mismatch(event, alg, logged)),
        None => Some(mismatch(event, alg, &[])),
    }
}

/// Checks every event of the log; returns every mismatch (empty = all data-bearing events covered).
pub fn verify_digests(log: &EventLog<'_>) -> Result<Vec<DigestMismatch>> {
    let mut out = Vec::new();
    for e in log.events() {
        if let Some(m) = check_event(&e?) {
            out.push(m);
        }
    }
    Ok(out)
}
