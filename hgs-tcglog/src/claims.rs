//! Boot claims: what a log says about one boot (or resume) of a Windows host, each claim with the
//! event it came from.
//!
//! Only data covered by its event's digest is used (events failing
//! [`crate::digest_check::check_event`] are listed in [`BootClaims::untrusted_events`] and ignored).
//! SIPA records count only on PCRs 12–14 before that PCR's "WBCL" separator. Latching, as
//! go-attestation does and extended to every flag: *weakening* flags (debugging, test signing,
//! safe mode, WinPE, flight signing) are true if ever true; *strengthening* ones (HVCI, IOMMU, DMA
//! protection, pagefile encryption, hibernation/dumps disabled, dump encryption, VBS) are false
//! if ever false. The claim keeps the event that decided it.
//!
//! Inferred (Microsoft does not document it): `full_boot` is true when TRANSFER_CONTROL says 1
//! (OS loader) and never 2 (resume) — VBS machines also log 5, which is not a resume; `hvci_enforced`
//! is VBS_HVCI_POLICY ≠ 0; `vbs_running` is VSM_LAUNCH_TYPE ≠ 0; `iommu_required` is
//! VBS_IOMMU_REQUIRED, or a non-zero HYPERVISOR_IOMMU_POLICY.

use crate::error::Result;
use crate::event::Event;
use crate::event_type::EventType;
use crate::parse::EventLog;
use crate::sipa::{self, id, SiPolicy, VsmIdk};
use crate::uefi::{Guid, UefiVariable};

/// A claimed value and the event it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Claim<T> {
    /// The value.
    pub value: T,
    /// Index of the deciding event in its log.
    pub event_index: u32,
    /// Its PCR.
    pub pcr: u32,
}

/// The SI (code integrity) policy Windows measured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiPolicyClaim {
    /// Policy file name, e.g. "SiPolicy.p7b".
    pub name: String,
    /// Version as a u64 of four u16.
    pub version: u64,
    /// Digest algorithm (TPM_ALG_ID).
    pub hash_alg: u16,
    /// Digest.
    #[serde(with = "crate::owned::hex_bytes")]
    pub digest: Vec<u8>,
    /// PCR.
    pub pcr: u32,
    /// Event index.
    pub event_index: u32,
}

/// One boot module Windows loaded (a LOADEDMODULE_AGGREGATION).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoadedModule {
    /// File path.
    pub file_path: String,
    /// Authenticode digest.
    #[serde(with = "crate::owned::hex_bytes")]
    pub authenticode_hash: Vec<u8>,
    /// CAPI hash algorithm id (CALG_*).
    pub hash_alg: Option<u32>,
    /// Image size.
    pub image_size: Option<u64>,
    /// Image base.
    pub image_base: Option<u64>,
    /// Signing authority issuer.
    pub issuer: Option<String>,
    /// Signing authority publisher.
    pub publisher: Option<String>,
    /// Whether Windows validated the image.
    pub validated: Option<bool>,
    /// PCR.
    pub pcr: u32,
    /// Event index.
    pub event_index: u32,
}

/// What one log says about its boot. `None` = the log does not say.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BootClaims {
    /// UEFI Secure Boot, from the PCR 7 "SecureBoot" variable.
    pub secure_boot: Option<Claim<bool>>,
    /// VBS requires Secure Boot (SIPA VBS_SECUREBOOT_REQUIRED).
    pub vbs_secure_boot_required: Option<Claim<bool>>,
    /// UEFI debug mode (PCR 7 EV_EFI_ACTION "UEFI Debug Mode").
    pub uefi_debug_mode: Option<Claim<bool>>,
    /// Boot debugging (BOOTDEBUGGING).
    pub boot_debugging: Option<Claim<bool>>,
    /// Kernel debugging (OSKERNELDEBUG).
    pub kernel_debugging: Option<Claim<bool>>,
    /// Hypervisor debugging (HYPERVISOR_DEBUG).
    pub hypervisor_debugging: Option<Claim<bool>>,
    /// Test signing (TESTSIGNING).
    pub test_signing: Option<Claim<bool>>,
    /// Flight signing (FLIGHTSIGNING).
    pub flight_signing: Option<Claim<bool>>,
    /// Safe mode (SAFEMODE).
    pub safe_mode: Option<Claim<bool>>,
    /// Windows PE (WINPE).
    pub winpe: Option<Claim<bool>>,
    /// Code integrity on (CODEINTEGRITY).
    pub code_integrity: Option<Claim<bool>>,
    /// Full boot (true) or resume (false), from TRANSFER_CONTROL.
    pub full_boot: Option<Claim<bool>>,
    /// Boot counter (BOOTCOUNTER).
    pub boot_counter: Option<Claim<u64>>,
    /// Hypervisor launch type.
    pub hypervisor_launch_type: Option<Claim<u64>>,
    /// VSM launch type.
    pub vsm_launch_type: Option<Claim<u64>>,
    /// VBS running (VSM launch type ≠ 0).
    pub vbs_running: Option<Claim<bool>>,
    /// HVCI enforced (VBS_HVCI_POLICY ≠ 0).
    pub hvci_enforced: Option<Claim<bool>>,
    /// IOMMU required.
    pub iommu_required: Option<Claim<bool>>,
    /// Boot DMA protection.
    pub dma_protection: Option<Claim<bool>>,
    /// Pagefile encryption.
    pub pagefile_encrypted: Option<Claim<bool>>,
    /// Hibernation disabled.
    pub hibernation_disabled: Option<Claim<bool>>,
    /// Crash dumps disabled.
    pub dumps_disabled: Option<Claim<bool>>,
    /// Dump encryption enabled.
    pub dump_encryption: Option<Claim<bool>>,
    /// Digest of the dump-encryption key.
    pub dump_encryption_key_digest: Option<Claim<Vec<u8>>>,
    /// BitLocker unlock flags (FVEB_UNLOCK_FLAG_*; 0 = not unlocked by BitLocker). Last value.
    pub bitlocker_unlock: Option<Claim<u32>>,
    /// VSM identity key.
    pub vsm_idk: Option<Claim<VsmIdk>>,
    /// Code integrity policies measured.
    pub si_policies: Vec<SiPolicyClaim>,
    /// Boot modules loaded.
    pub loaded_modules: Vec<LoadedModule>,
    /// Events whose digest does not cover their data (ignored).
    pub untrusted_events: Vec<u32>,
}

enum Latch {
    /// True if ever true.
    Weakening,
    /// False if ever false.
    Strengthening,
}

fn latch(slot: &mut Option<Claim<bool>>, value: bool, e: &Event<'_>, kind: Latch) {
    let decisive = match kind {
        Latch::Weakening => value,
        Latch::Strengthening => !value,
    };
    match slot {
        Some(c) if c.value != value && !decisive => {}
        Some(c) if c.value == value => {}
        _ => {
            *slot = Some(Claim {
                value,
                event_index: e.index,
                pcr: e.pcr,
            })
        }
    }
}

fn set<T>(slot: &mut Option<Claim<T>>, value: T, e: &Event<'_>) {
    *slot = Some(Claim {
        value,
        event_index: e.index,
        pcr: e.pcr,
    });
}

impl BootClaims {
    /// Derives the claims of one log (one boot or resume session).
    pub fn from_log(log: &EventLog<'_>) -> Result<BootClaims> {
        let mut c = BootClaims::default();
        let mut wbcl_closed = [false; 3];
        let mut transfer: Vec<(u64, Claim<()>)> = Vec::new();
        for e in log.events() {
            let e = e?;
            // Only the events claims read are hashed: PCR 7 Secure Boot variables and actions, and
            // Windows' PCR 12-14 records. Every one of those must have a digest covering its data.
            let used = match e.pcr {
                7 => matches!(
                    e.event_type,
                    EventType::EfiVariableDriverConfig | EventType::EfiAction
                ),
                12..=14 => matches!(e.event_type, EventType::EventTag | EventType::Separator),
                _ => false,
            };
            if !used {
                continue;
            }
            if crate::digest_check::check_event(&e).is_some() {
                c.untrusted_events.push(e.index);
                continue;
            }
            if e.pcr == 7 {
                c.pcr7(&e);
            }
            if (12..=14).contains(&e.pcr)
                && e.event_type == EventType::Separator
                && e.data == b"WBCL"
            {
                wbcl_closed[(e.pcr - 12) as usize] = true;
                continue;
            }
            if !(12..=14).contains(&e.pcr)
                || e.event_type != EventType::EventTag
                || wbcl_closed[(e.pcr - 12) as usize]
            {
                continue;
            }
            let mut module: Option<LoadedModule> = None;
            let mut records = Vec::new();
            // A malformed SIPA payload (covered by its digest, so really measured) is skipped, not fatal.
            if sipa::walk(e.data, e.index, |r| records.push(*r)).is_err() {
                c.untrusted_events.push(e.index);
                continue;
            }
            for r in &records {
                if r.id == id::LOADEDMODULE_AGGREGATION {
                    if let Some(m) = module.take() {
                        c.push_module(m);
                    }
                    module = Some(LoadedModule {
                        pcr: e.pcr,
                        event_index: e.index,
                        ..LoadedModule::default()
                    });
                    continue;
                }
                if let (Some(m), 7) = (module.as_mut(), r.category()) {
                    match r.id {
                        id::FILEPATH => m.file_path = r.as_utf16(),
                        id::AUTHENTICODEHASH => m.authenticode_hash = r.data.to_vec(),
                        id::HASHALGORITHMID => m.hash_alg = r.as_uint().map(|v| v as u32),
                        id::IMAGESIZE => m.image_size = r.as_uint(),
                        id::IMAGEBASE => m.image_base = r.as_uint(),
                        id::AUTHORITYISSUER => m.issuer = Some(r.as_utf16()),
                        id::AUTHORITYPUBLISHER => m.publisher = Some(r.as_utf16()),
                        id::IMAGEVALIDATED => m.validated = r.as_bool(),
                        _ => {}
                    }
                    continue;
                }
                let b = r.as_bool();
                let u = r.as_uint();
                match (r.id, b, u) {
                    (id::BOOTDEBUGGING, Some(v), _) => {
                        latch(&mut c.boot_debugging, v, &e, Latch::Weakening)
                    }
                    (id::OSKERNELDEBUG, Some(v), _) => {
                        latch(&mut c.kernel_debugging, v, &e, Latch::Weakening)
                    }
                    (id::HYPERVISOR_DEBUG, Some(v), _) => {
                        latch(&mut c.hypervisor_debugging, v, &e, Latch::Weakening)
                    }
                    (id::TESTSIGNING, Some(v), _) => {
                        latch(&mut c.test_signing, v, &e, Latch::Weakening)
                    }
                    (id::FLIGHTSIGNING, Some(v), _) => {
                        latch(&mut c.flight_signing, v, &e, Latch::Weakening)
                    }
                    (id::SAFEMODE, Some(v), _) => latch(&mut c.safe_mode, v, &e, Latch::Weakening),
                    (id::WINPE, Some(v), _) => latch(&mut c.winpe, v, &e, Latch::Weakening),
                    (id::CODEINTEGRITY, Some(v), _) => {
                        latch(&mut c.code_integrity, v, &e, Latch::Strengthening)
                    }
                    (id::BOOTCOUNTER, _, Some(v)) => set(&mut c.boot_counter, v, &e),
                    (id::TRANSFER_CONTROL, _, Some(v)) => transfer.push((
                        v,
                        Claim {
                            value: (),
                            event_index: e.index,
                            pcr: e.pcr,
                        },
                    )),
                    (id::HYPERVISOR_LAUNCH_TYPE, _, Some(v)) => {
                        set(&mut c.hypervisor_launch_type, v, &e)
                    }
                    (id::VSM_LAUNCH_TYPE, _, Some(v)) => {
                        set(&mut c.vsm_launch_type, v, &e);
                        latch(&mut c.vbs_running, v != 0, &e, Latch::Strengthening);
                    }
                    (id::VBS_HVCI_POLICY, _, Some(v)) => {
                        latch(&mut c.hvci_enforced, v != 0, &e, Latch::Strengthening)
                    }
                    (id::VBS_IOMMU_REQUIRED, Some(v), _) => {
                        latch(&mut c.iommu_required, v, &e, Latch::Strengthening)
                    }
                    (id::HYPERVISOR_IOMMU_POLICY, _, Some(v)) if v != 0 => {
                        latch(&mut c.iommu_required, true, &e, Latch::Strengthening)
                    }
                    (id::VBS_SECUREBOOT_REQUIRED, Some(v), _) => {
                        latch(&mut c.vbs_secure_boot_required, v, &e, Latch::Strengthening)
                    }
                    (id::HYPERVISOR_BOOT_DMA_PROTECTION, Some(v), _) => {
                        latch(&mut c.dma_protection, v, &e, Latch::Strengthening)
                    }
                    (id::PAGEFILE_ENCRYPTION_ENABLED, Some(v), _) => {
                        latch(&mut c.pagefile_encrypted, v, &e, Latch::Strengthening)
                    }
                    (id::HIBERNATION_DISABLED, Some(v), _) => {
                        latch(&mut c.hibernation_disabled, v, &e, Latch::Strengthening)
                    }
                    (id::DUMPS_DISABLED, Some(v), _) => {
                        latch(&mut c.dumps_disabled, v, &e, Latch::Strengthening)
                    }
                    (id::DUMP_ENCRYPTION_ENABLED, Some(v), _) => {
                        latch(&mut c.dump_encryption, v, &e, Latch::Strengthening)
                    }
                    (id::DUMP_ENCRYPTION_KEY_DIGEST, _, _) => {
                        set(&mut c.dump_encryption_key_digest, r.data.to_vec(), &e)
                    }
                    (id::BITLOCKER_UNLOCK, _, Some(v)) => {
                        set(&mut c.bitlocker_unlock, v as u32, &e)
                    }
                    (id::VSM_IDK_INFO, _, _) => {
                        if let Ok(k) = VsmIdk::parse(r.data, e.index) {
                            set(&mut c.vsm_idk, k, &e);
                        }
                    }
                    (id::SI_POLICY, _, _) => {
                        if let Ok(p) = SiPolicy::parse(r.data, e.index) {
                            let claim = SiPolicyClaim {
                                name: p.name,
                                version: p.version,
                                hash_alg: p.hash_alg,
                                digest: p.digest,
                                pcr: e.pcr,
                                event_index: e.index,
                            };
                            // Windows measures the same policy more than once; keep distinct ones.
                            if !c
                                .si_policies
                                .iter()
                                .any(|s| s.digest == claim.digest && s.name == claim.name)
                            {
                                c.si_policies.push(claim);
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(m) = module.take() {
                c.push_module(m);
            }
        }
        // Full boot: some TRANSFER_CONTROL = 1 (OS loader) and none = 2 (resume).
        if let Some((_, at)) = transfer.iter().find(|(v, _)| *v == 2) {
            c.full_boot = Some(Claim {
                value: false,
                event_index: at.event_index,
                pcr: at.pcr,
            });
        } else if let Some((_, at)) = transfer.iter().find(|(v, _)| *v == 1) {
            c.full_boot = Some(Claim {
                value: true,
                event_index: at.event_index,
                pcr: at.pcr,
            });
        }
        Ok(c)
    }

    /// Windows records a module on PCR 12 (short form: Authenticode digest and image base) and on
    /// PCR 13 (full form: path, size, signer, ...). Records with the same Authenticode digest are
    /// merged, keyed by that digest as go-attestation does; the first event stays the reference.
    fn push_module(&mut self, m: LoadedModule) {
        if let Some(k) = self
            .loaded_modules
            .iter_mut()
            .find(|k| !m.authenticode_hash.is_empty() && k.authenticode_hash == m.authenticode_hash)
        {
            if k.file_path.is_empty() {
                k.file_path = m.file_path;
            }
            k.hash_alg = k.hash_alg.or(m.hash_alg);
            k.image_size = k.image_size.or(m.image_size);
            k.image_base = k.image_base.or(m.image_base);
            k.issuer = k.issuer.take().or(m.issuer);
            k.publisher = k.publisher.take().or(m.publisher);
            k.validated = k.validated.or(m.validated);
        } else {
            self.loaded_modules.push(m);
        }
    }

    fn pcr7(&mut self, e: &Event<'_>) {
        match e.event_type {
            EventType::EfiVariableDriverConfig => {
                if let Ok(v) = UefiVariable::parse(e.data, e.index) {
                    if v.guid == Guid::EFI_GLOBAL_VARIABLE && v.name == "SecureBoot" {
                        set(&mut self.secure_boot, v.data.first() == Some(&1), e);
                    }
                }
            }
            EventType::EfiAction if e.data == b"UEFI Debug Mode" => {
                set(&mut self.uefi_debug_mode, true, e)
            }
            EventType::EfiAction if e.data == b"DMA Protection Disabled" => {
                set(&mut self.dma_protection, false, e)
            }
            _ => {}
        }
    }

    /// Claims of each log of a sequence (Windows writes one log per boot and per resume).
    pub fn from_logs(logs: &[EventLog<'_>]) -> Result<Vec<BootClaims>> {
        logs.iter().map(BootClaims::from_log).collect()
    }
}

/// Which log of a sequence replays to the given PCR values (bank `bank`, the given PCRs): the
/// index of the first that matches, or `None`. Only the current session's log matches a quote.
pub fn matching_log<'v>(
    logs: &[EventLog<'_>],
    bank: crate::alg::HashAlg,
    pcrs: &[u32],
    expected: impl Fn(u32) -> Option<&'v [u8]>,
) -> Result<Option<usize>> {
    for (i, log) in logs.iter().enumerate() {
        let replayed = crate::replay::replay_banks(log, &[bank])?;
        if pcrs
            .iter()
            .all(|p| expected(*p).is_some_and(|want| replayed.get(bank, *p) == Some(want)))
        {
            return Ok(Some(i));
        }
    }
    Ok(None)
}
