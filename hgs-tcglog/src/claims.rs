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

use crate::alg::HashAlg;
use crate::error::Result;
use crate::event::Event;
use crate::event_type::EventType;
use crate::modules::{self, LoadedModules, RawModule, Text};
use crate::parse::EventLog;
use crate::sipa::{self, id, Record, SiPolicy, VsmIdk};
use crate::uefi::{Guid, UefiVariable};

pub use crate::modules::LoadedModule;

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
    pub loaded_modules: LoadedModules,
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

/// Which digests of an event claims compare with its data.
#[derive(Debug, Clone, Copy)]
enum Check<'c> {
    /// Every digest the event carries (the caller has not said which bank it trusts).
    EveryBank,
    /// Only this bank's digest, which the event must carry.
    Bank(HashAlg),
    /// Already checked in one bank over this very log: look the event up, hash nothing.
    Checked(&'c crate::digest_check::BankCheck<'c>),
}

impl Check<'_> {
    fn untrusted(self, e: &Event<'_>) -> bool {
        match self {
            Check::EveryBank => crate::digest_check::check_event(e).is_some(),
            Check::Bank(alg) => crate::digest_check::check_event_in_bank(e, alg).is_some(),
            Check::Checked(c) => c.failed(e.index),
        }
    }
}

/// State of one pass over a log.
struct Reader<'a> {
    c: BootClaims,
    transfer: Vec<(u64, Claim<()>)>,
    /// Every module record, in log order, undecoded: merged and decoded once at the end.
    modules: Vec<RawModule<'a>>,
    /// The SIPA records of the event being read (reused: no per-event allocation).
    records: Vec<Record<'a>>,
}

impl BootClaims {
    /// Derives the claims of one log (one boot or resume session), comparing each event claims
    /// read with **every** digest it carries. Use this when you do not know which bank your
    /// quote covers; an event carrying no digest of a known bank is then taken as is. When you do
    /// know (you replayed and quoted bank `alg`), [`BootClaims::from_log_with_bank`] is both
    /// stricter (the event must carry that bank's digest) and cheaper (one hash per event).
    pub fn from_log(log: &EventLog<'_>) -> Result<BootClaims> {
        BootClaims::read(log, Check::EveryBank)
    }

    /// Derives the claims of one log, taking a claim only from an event whose digest **in bank
    /// `alg`** is the hash of its data — pass the bank your quote covers and you replayed. An
    /// event that carries no `alg` digest was not measured into that bank, so it counts as
    /// untrusted (listed in [`BootClaims::untrusted_events`], ignored). Digests of other banks are
    /// neither hashed nor trusted. On logs where every event claims read carries `alg`, the result
    /// equals [`BootClaims::from_log`]'s (tested on the whole corpus).
    ///
    /// [`BootClaims::default_bank`] picks the strongest bank of a log.
    pub fn from_log_with_bank(log: &EventLog<'_>, alg: HashAlg) -> Result<BootClaims> {
        BootClaims::read(log, Check::Bank(alg))
    }

    /// [`BootClaims::from_log_with_bank`] for a log whose events were already checked in one
    /// bank by [`crate::digest_check::check_bank`]: the same claims, with no second hashing pass.
    /// A check made over other log bytes is not trusted: the events are then hashed as
    /// `from_log_with_bank(log, check.bank())` would.
    pub fn from_bank_check(
        log: &EventLog<'_>,
        check: &crate::digest_check::BankCheck<'_>,
    ) -> Result<BootClaims> {
        if check.covers_log(log) {
            BootClaims::read(log, Check::Checked(check))
        } else {
            BootClaims::read(log, Check::Bank(check.bank()))
        }
    }

    /// The strongest bank a log's header lists (SHA-512, then SHA-384, SHA-256, SM3-256, SHA-1),
    /// for [`BootClaims::from_log_with_bank`] when the caller has no quote to decide; `None` when
    /// the log lists no bank this crate knows.
    pub fn default_bank(log: &EventLog<'_>) -> Option<HashAlg> {
        let rank = |a: &HashAlg| match a {
            HashAlg::Sha1 => 0,
            HashAlg::Sm3_256 => 1,
            HashAlg::Sha256 => 2,
            HashAlg::Sha384 => 3,
            HashAlg::Sha512 => 4,
        };
        log.algorithm_table().known_banks().max_by_key(rank)
    }

    /// One pass over the events. Only the events a claim can come from are hashed: PCR 7
    /// EV_EFI_ACTIONs and the "SecureBoot" EV_EFI_VARIABLE_DRIVER_CONFIG (not db/dbx/KEK/PK,
    /// which no claim reads), and Windows' PCR 12–14 separators and, before their PCR's "WBCL"
    /// separator, SIPA records. SIPA records are walked in place into one buffer reused across
    /// events (no per-event allocation).
    fn read(log: &EventLog<'_>, check: Check<'_>) -> Result<BootClaims> {
        let mut r = Reader {
            c: BootClaims::default(),
            transfer: Vec::new(),
            modules: Vec::new(),
            records: Vec::new(),
        };
        let mut wbcl_closed = [false; 3];
        for e in log.events() {
            let e = e?;
            match (e.pcr, e.event_type) {
                (7, EventType::EfiAction) => {
                    if check.untrusted(&e) {
                        r.c.untrusted_events.push(e.index);
                    } else {
                        r.c.pcr7_action(&e);
                    }
                }
                (7, EventType::EfiVariableDriverConfig) => {
                    // The name decides whether a claim can come from this event; only then is
                    // the event hashed, and the claim taken only if its digest covers the data.
                    let Ok(v) = UefiVariable::parse(e.data, e.index) else {
                        continue;
                    };
                    if v.guid != Guid::EFI_GLOBAL_VARIABLE || v.name != "SecureBoot" {
                        continue;
                    }
                    if check.untrusted(&e) {
                        r.c.untrusted_events.push(e.index);
                    } else {
                        set(&mut r.c.secure_boot, v.data.first() == Some(&1), &e);
                    }
                }
                (12..=14, EventType::Separator) => {
                    if check.untrusted(&e) {
                        r.c.untrusted_events.push(e.index);
                    } else if e.data == b"WBCL" {
                        wbcl_closed[(e.pcr - 12) as usize] = true;
                    }
                }
                (12..=14, EventType::EventTag) => {
                    if wbcl_closed[(e.pcr - 12) as usize] {
                        continue;
                    }
                    if check.untrusted(&e) {
                        r.c.untrusted_events.push(e.index);
                        continue;
                    }
                    // A malformed SIPA payload (covered by its digest, so really measured) is
                    // skipped, not fatal: its records are gathered first (into a buffer reused
                    // across events) and read only once the whole framing has been walked.
                    let mut records = core::mem::take(&mut r.records);
                    records.clear();
                    if sipa::walk(e.data, e.index, |rec| records.push(*rec)).is_err() {
                        r.c.untrusted_events.push(e.index);
                    } else {
                        r.sipa_event(&e, &records);
                    }
                    r.records = records;
                }
                _ => {}
            }
        }
        let Reader {
            mut c,
            transfer,
            modules,
            ..
        } = r;
        c.loaded_modules = modules::merge(modules);
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

    fn pcr7_action(&mut self, e: &Event<'_>) {
        if e.data == b"UEFI Debug Mode" {
            set(&mut self.uefi_debug_mode, true, e)
        } else if e.data == b"DMA Protection Disabled" {
            set(&mut self.dma_protection, false, e)
        }
    }

    /// Claims of each log of a sequence (Windows writes one log per boot and per resume).
    pub fn from_logs(logs: &[EventLog<'_>]) -> Result<Vec<BootClaims>> {
        logs.iter().map(BootClaims::from_log).collect()
    }

    /// [`BootClaims::from_log_with_bank`] for each log of a sequence.
    pub fn from_logs_with_bank(logs: &[EventLog<'_>], alg: HashAlg) -> Result<Vec<BootClaims>> {
        logs.iter()
            .map(|l| BootClaims::from_log_with_bank(l, alg))
            .collect()
    }
}

impl<'a> Reader<'a> {
    /// Reads the SIPA records of one trusted EV_EVENT_TAG (all of them, in walk order).
    fn sipa_event(&mut self, e: &Event<'a>, records: &[Record<'a>]) {
        let mut module: Option<RawModule<'a>> = None;
        for r in records {
            self.record(r, e, &mut module);
        }
        if let Some(m) = module.take() {
            self.modules.push(m);
        }
    }

    fn record(&mut self, r: &Record<'a>, e: &Event<'a>, module: &mut Option<RawModule<'a>>) {
        if r.id == id::LOADEDMODULE_AGGREGATION {
            if let Some(m) = module.take() {
                self.modules.push(m);
            }
            *module = Some(RawModule {
                pcr: e.pcr,
                event_index: e.index,
                ..RawModule::default()
            });
            return;
        }
        if let (Some(m), 7) = (module.as_mut(), r.category()) {
            match r.id {
                id::FILEPATH => m.file_path = Some(Text::Utf16(r.data)),
                id::AUTHENTICODEHASH => m.authenticode_hash = r.data,
                id::HASHALGORITHMID => m.hash_alg = r.as_uint().map(|v| v as u32),
                id::IMAGESIZE => m.image_size = r.as_uint(),
                id::IMAGEBASE => m.image_base = r.as_uint(),
                id::AUTHORITYISSUER => m.issuer = Some(Text::Utf16(r.data)),
                id::AUTHORITYPUBLISHER => m.publisher = Some(Text::Utf16(r.data)),
                id::IMAGEVALIDATED => m.validated = r.as_bool(),
                _ => {}
            }
            return;
        }
        let c = &mut self.c;
        let b = r.as_bool();
        let u = r.as_uint();
        match (r.id, b, u) {
            (id::BOOTDEBUGGING, Some(v), _) => latch(&mut c.boot_debugging, v, e, Latch::Weakening),
            (id::OSKERNELDEBUG, Some(v), _) => {
                latch(&mut c.kernel_debugging, v, e, Latch::Weakening)
            }
            (id::HYPERVISOR_DEBUG, Some(v), _) => {
                latch(&mut c.hypervisor_debugging, v, e, Latch::Weakening)
            }
            (id::TESTSIGNING, Some(v), _) => latch(&mut c.test_signing, v, e, Latch::Weakening),
            (id::FLIGHTSIGNING, Some(v), _) => latch(&mut c.flight_signing, v, e, Latch::Weakening),
            (id::SAFEMODE, Some(v), _) => latch(&mut c.safe_mode, v, e, Latch::Weakening),
            (id::WINPE, Some(v), _) => latch(&mut c.winpe, v, e, Latch::Weakening),
            (id::CODEINTEGRITY, Some(v), _) => {
                latch(&mut c.code_integrity, v, e, Latch::Strengthening)
            }
            (id::BOOTCOUNTER, _, Some(v)) => set(&mut c.boot_counter, v, e),
            (id::TRANSFER_CONTROL, _, Some(v)) => self.transfer.push((
                v,
                Claim {
                    value: (),
                    event_index: e.index,
                    pcr: e.pcr,
                },
            )),
            (id::HYPERVISOR_LAUNCH_TYPE, _, Some(v)) => set(&mut c.hypervisor_launch_type, v, e),
            (id::VSM_LAUNCH_TYPE, _, Some(v)) => {
                set(&mut c.vsm_launch_type, v, e);
                latch(&mut c.vbs_running, v != 0, e, Latch::Strengthening);
            }
            (id::VBS_HVCI_POLICY, _, Some(v)) => {
                latch(&mut c.hvci_enforced, v != 0, e, Latch::Strengthening)
            }
            (id::VBS_IOMMU_REQUIRED, Some(v), _) => {
                latch(&mut c.iommu_required, v, e, Latch::Strengthening)
            }
            (id::HYPERVISOR_IOMMU_POLICY, _, Some(v)) if v != 0 => {
                latch(&mut c.iommu_required, true, e, Latch::Strengthening)
            }
            (id::VBS_SECUREBOOT_REQUIRED, Some(v), _) => {
                latch(&mut c.vbs_secure_boot_required, v, e, Latch::Strengthening)
            }
            (id::HYPERVISOR_BOOT_DMA_PROTECTION, Some(v), _) => {
                latch(&mut c.dma_protection, v, e, Latch::Strengthening)
            }
            (id::PAGEFILE_ENCRYPTION_ENABLED, Some(v), _) => {
                latch(&mut c.pagefile_encrypted, v, e, Latch::Strengthening)
            }
            (id::HIBERNATION_DISABLED, Some(v), _) => {
                latch(&mut c.hibernation_disabled, v, e, Latch::Strengthening)
            }
            (id::DUMPS_DISABLED, Some(v), _) => {
                latch(&mut c.dumps_disabled, v, e, Latch::Strengthening)
            }
            (id::DUMP_ENCRYPTION_ENABLED, Some(v), _) => {
                latch(&mut c.dump_encryption, v, e, Latch::Strengthening)
            }
            (id::DUMP_ENCRYPTION_KEY_DIGEST, _, _) => {
                set(&mut c.dump_encryption_key_digest, r.data.to_vec(), e)
            }
            (id::BITLOCKER_UNLOCK, _, Some(v)) => set(&mut c.bitlocker_unlock, v as u32, e),
            (id::VSM_IDK_INFO, _, _) => {
                if let Ok(k) = VsmIdk::parse(r.data, e.index) {
                    set(&mut c.vsm_idk, k, e);
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
