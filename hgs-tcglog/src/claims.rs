//! Boot claims: what a log says about one boot (or resume) of a Windows host, each claim with the
//! event it came from.
//!
//! Claims are read from a [`QuotedLog`] only (or, for capture and registration, a
//! [`ReferenceLog`]): events on quoted PCRs, data covered by its digest in the quoted bank. What
//! claims would read but cannot trust, and event types no healthy boot puts on PCR 7 or 12–14, are
//! [`LogAnomaly`]s, each of which fails attestation. Secure Boot is read from PCR 7 before its
//! separator only. SIPA records count only on PCRs 12–14 before that PCR's "WBCL" separator. Latching, as
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
use crate::event_type::EventType;
use crate::modules::{self, LoadedModules, RawModule, Text};
use crate::parse::EventLog;
use crate::quoted::{QuotedEvent, QuotedLog, ReferenceLog};
use crate::sipa::{self, id, Record, SiPolicy, VsmIdk};
use crate::uefi::UefiVariable;

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
    #[serde(with = "hgs_tpm::hex::serde")]
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
    /// VSM identity key (the last one read).
    pub vsm_idk: Option<Claim<VsmIdk>>,
    /// How many VSM_IDK_INFO records the events read carry, parsed or not. A healthy boot has
    /// one; with more, which key the host's VSM holds is not known, so none may be trusted as
    /// the key to encrypt to.
    #[serde(default)]
    pub vsm_idk_records: u32,
    /// Code integrity policies measured.
    pub si_policies: Vec<SiPolicyClaim>,
    /// Boot modules loaded.
    pub loaded_modules: LoadedModules,
    /// Events no healthy boot has, or that claims would read but cannot trust. Each fails
    /// attestation (and capture validation).
    pub anomalies: Vec<LogAnomaly>,
}

enum Latch {
    /// True if ever true.
    Weakening,
    /// False if ever false.
    Strengthening,
}

fn latch(slot: &mut Option<Claim<bool>>, value: bool, e: At, kind: Latch) {
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

fn set<T>(slot: &mut Option<Claim<T>>, value: T, e: At) {
    *slot = Some(Claim {
        value,
        event_index: e.index,
        pcr: e.pcr,
    });
}

/// Something in the quoted events that a healthy boot never shows. Each one fails attestation:
/// a retyped, re-ordered or unverifiable event is how a host hides what it measured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "anomaly", rename_all = "snake_case")]
pub enum LogAnomaly {
    /// An event of a type this PCR does not carry on a healthy boot (PCR 7: UEFI variables,
    /// authorities, EFI actions and the separator; PCRs 12–14: SIPA event tags and separators).
    /// Retyping an event to a type the claims do not read would otherwise hide its data.
    UnexpectedEventType {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
        /// Raw event type.
        event_type: u32,
    },
    /// An event the claims read whose data its digest in the trusted bank does not cover (or
    /// which carries no digest in that bank).
    UntrustedData {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
    },
    /// A SIPA event whose (untrusted) records carry an SI_POLICY record but whose data its
    /// digest in the trusted bank does not cover: a code integrity policy event altered after it
    /// was measured. Reported in place of [`LogAnomaly::UntrustedData`] so that the reason no
    /// policy counts is this event; its records are never read as claims.
    UncoveredCiPolicy {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
    },
    /// The SecureBoot variable measured after PCR 7's separator: firmware measures it before,
    /// so a later one was extended by someone else.
    SecureBootAfterSeparator {
        /// Event index.
        event_index: u32,
    },
    /// The SecureBoot variable in an event whose type is not EV_EFI_VARIABLE_DRIVER_CONFIG.
    SecureBootMistyped {
        /// Event index.
        event_index: u32,
        /// Raw event type.
        event_type: u32,
    },
    /// A PCR 7 variable event whose (covered) data is not a UEFI_VARIABLE_DATA.
    MalformedVariable {
        /// Event index.
        event_index: u32,
    },
    /// A separator whose data is not the PCR's separator value (PCR 7: four zero bytes; PCRs
    /// 12–14: "WBCL"), e.g. an error separator or a retyped event.
    UnexpectedSeparator {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
    },
    /// A covered SIPA event (before its PCR's WBCL separator) whose records do not parse.
    MalformedSipa {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
    },
}

impl core::fmt::Display for LogAnomaly {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LogAnomaly::UnexpectedEventType {
                event_index,
                pcr,
                event_type,
            } => write!(
                f,
                "event {event_index} on PCR {pcr} has type {} (0x{event_type:08x}), which that PCR does not carry",
                EventType::from_u32(*event_type).name()
            ),
            LogAnomaly::UntrustedData { event_index, pcr } => write!(
                f,
                "event {event_index} on PCR {pcr}: its data is not covered by its digest in the quoted bank"
            ),
            LogAnomaly::UncoveredCiPolicy { event_index, pcr } => write!(
                f,
                "event {event_index} on PCR {pcr} carries a code integrity policy record, but its data is not covered by its digest in the quoted bank"
            ),
            LogAnomaly::SecureBootAfterSeparator { event_index } => write!(
                f,
                "event {event_index}: the SecureBoot variable is measured after PCR 7's separator"
            ),
            LogAnomaly::SecureBootMistyped {
                event_index,
                event_type,
            } => write!(
                f,
                "event {event_index}: the SecureBoot variable is in a {} event",
                EventType::from_u32(*event_type).name()
            ),
            LogAnomaly::MalformedVariable { event_index } => {
                write!(f, "event {event_index}: PCR 7 variable data does not parse")
            }
            LogAnomaly::UnexpectedSeparator { event_index, pcr } => write!(
                f,
                "event {event_index}: PCR {pcr} separator does not carry that PCR's separator value"
            ),
            LogAnomaly::MalformedSipa { event_index, pcr } => write!(
                f,
                "event {event_index} on PCR {pcr}: SIPA records do not parse"
            ),
        }
    }
}

/// Where a claim came from (index and PCR of a quoted event).
#[derive(Debug, Clone, Copy)]
struct At {
    index: u32,
    pcr: u32,
}

impl From<&QuotedEvent<'_>> for At {
    fn from(e: &QuotedEvent<'_>) -> At {
        At {
            index: e.index,
            pcr: e.pcr,
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

/// PCR 7's separator value (TCG PFP: 4 bytes of zero; 0x00000001/0xFFFFFFFF signal errors).
const SEPARATOR_OK: [u8; 4] = [0; 4];

impl BootClaims {
    /// Derives the claims of one boot from a log bound to its quotes: only events on quoted
    /// PCRs, only data covered by its digest in the quoted bank. Events claims would read but
    /// cannot trust, and events no healthy boot has, are listed in [`BootClaims::anomalies`].
    pub fn from_quoted(log: &QuotedLog<'_>) -> BootClaims {
        BootClaims::read(log.events())
    }

    /// The same reading of an administrator's reference log (baseline capture, CI-policy
    /// registration): every PCR, in the strongest bank the log declares.
    pub fn from_reference(log: &ReferenceLog<'_>) -> BootClaims {
        BootClaims::read(log.events())
    }

    /// One pass over the events.
    ///
    /// PCR 7: Secure Boot only from the SecureBoot variable before the PCR 7 separator (false if
    /// ever false); the UEFI debug-mode and DMA actions. PCRs 12–14: SIPA records before their
    /// PCR's "WBCL" separator, walked in place into one buffer reused across events. Any event of
    /// another type on those PCRs, or whose data is not covered, is an anomaly.
    fn read<'a>(events: impl Iterator<Item = QuotedEvent<'a>>) -> BootClaims {
        let mut r = Reader {
            c: BootClaims::default(),
            transfer: Vec::new(),
            modules: Vec::new(),
            records: Vec::new(),
        };
        let mut pcr7_separated = false;
        let mut wbcl_closed = [false; 3];
        let mut policies = Vec::new();
        for e in events {
            let at = At::from(&e);
            let untrusted = |c: &mut BootClaims| {
                c.anomalies.push(LogAnomaly::UntrustedData {
                    event_index: e.index,
                    pcr: e.pcr,
                })
            };
            match (e.pcr, e.event_type) {
                (7, EventType::EfiVariableDriverConfig | EventType::EfiVariableAuthority) => {
                    let Some(data) = e.data() else {
                        untrusted(&mut r.c);
                        continue;
                    };
                    let Ok(v) = UefiVariable::parse(data, e.index) else {
                        r.c.anomalies.push(LogAnomaly::MalformedVariable {
                            event_index: e.index,
                        });
                        continue;
                    };
                    if v.guid != crate::uefi::EFI_GLOBAL_VARIABLE || v.name != "SecureBoot" {
                        continue;
                    }
                    if e.event_type != EventType::EfiVariableDriverConfig {
                        r.c.anomalies.push(LogAnomaly::SecureBootMistyped {
                            event_index: e.index,
                            event_type: e.event_type.as_u32(),
                        });
                    } else if pcr7_separated {
                        r.c.anomalies.push(LogAnomaly::SecureBootAfterSeparator {
                            event_index: e.index,
                        });
                    } else {
                        let on = v.data.first() == Some(&1);
                        latch(&mut r.c.secure_boot, on, at, Latch::Strengthening);
                    }
                }
                (7, EventType::EfiAction) => match e.data() {
                    Some(data) => r.c.pcr7_action(data, at),
                    None => untrusted(&mut r.c),
                },
                (7, EventType::Separator) => match e.data() {
                    Some(data) if data == SEPARATOR_OK => pcr7_separated = true,
                    Some(_) => r.c.anomalies.push(LogAnomaly::UnexpectedSeparator {
                        event_index: e.index,
                        pcr: 7,
                    }),
                    None => untrusted(&mut r.c),
                },
                (12..=14, EventType::Separator) => match e.data() {
                    Some(b"WBCL") => wbcl_closed[(e.pcr - 12) as usize] = true,
                    Some(_) => r.c.anomalies.push(LogAnomaly::UnexpectedSeparator {
                        event_index: e.index,
                        pcr: e.pcr,
                    }),
                    None => untrusted(&mut r.c),
                },
                (12..=14, EventType::EventTag) => {
                    if wbcl_closed[(e.pcr - 12) as usize] {
                        continue;
                    }
                    let Some(data) = e.data() else {
                        // Untrusted data is never a claim; it only names the reason here.
                        if names_si_policy(e.unverified_data(), e.index) {
                            r.c.anomalies.push(LogAnomaly::UncoveredCiPolicy {
                                event_index: e.index,
                                pcr: e.pcr,
                            });
                        } else {
                            untrusted(&mut r.c);
                        }
                        continue;
                    };
                    // Records are gathered first (into a buffer reused across events) and read
                    // only once the whole framing has been walked.
                    let mut records = core::mem::take(&mut r.records);
                    records.clear();
                    if sipa::walk(data, e.index, |rec| records.push(*rec)).is_err() {
                        r.c.anomalies.push(LogAnomaly::MalformedSipa {
                            event_index: e.index,
                            pcr: e.pcr,
                        });
                    } else {
                        r.sipa_event(at, &records, &mut policies);
                    }
                    r.records = records;
                }
                (7 | 12..=14, t) => r.c.anomalies.push(LogAnomaly::UnexpectedEventType {
                    event_index: e.index,
                    pcr: e.pcr,
                    event_type: t.as_u32(),
                }),
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
        c.si_policies = distinct_policies(policies);
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
        c
    }

    fn pcr7_action(&mut self, data: &[u8], at: At) {
        if data == b"UEFI Debug Mode" {
            set(&mut self.uefi_debug_mode, true, at)
        } else if data == b"DMA Protection Disabled" {
            set(&mut self.dma_protection, false, at)
        }
    }
}

/// Whether the (unverified) SIPA data of an event has an SI_POLICY record: for naming why an
/// uncovered event matters ([`LogAnomaly::UncoveredCiPolicy`]), never for reading a claim.
fn names_si_policy(data: &[u8], index: u32) -> bool {
    let mut found = false;
    let _ = sipa::walk(data, index, |rec| found |= rec.id == id::SI_POLICY);
    found
}

/// Windows measures the same policy more than once: keep the first measurement of each distinct
/// (name, digest algorithm, digest), in log order. Sorting makes this O(n log n) whatever a
/// hostile log repeats.
fn distinct_policies(mut all: Vec<SiPolicyClaim>) -> Vec<SiPolicyClaim> {
    all.sort_by(|a, b| {
        (&a.name, a.hash_alg, &a.digest, a.event_index).cmp(&(
            &b.name,
            b.hash_alg,
            &b.digest,
            b.event_index,
        ))
    });
    all.dedup_by(|later, first| {
        later.name == first.name && later.hash_alg == first.hash_alg && later.digest == first.digest
    });
    all.sort_by_key(|p| p.event_index);
    all
}

impl<'a> Reader<'a> {
    /// Reads the SIPA records of one trusted EV_EVENT_TAG (all of them, in walk order).
    fn sipa_event(&mut self, e: At, records: &[Record<'a>], policies: &mut Vec<SiPolicyClaim>) {
        let mut module: Option<RawModule<'a>> = None;
        for r in records {
            self.record(r, e, &mut module, policies);
        }
        if let Some(m) = module.take() {
            self.modules.push(m);
        }
    }

    fn record(
        &mut self,
        r: &Record<'a>,
        e: At,
        module: &mut Option<RawModule<'a>>,
        policies: &mut Vec<SiPolicyClaim>,
    ) {
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
                id::HASHALGORITHMID => m.hash_alg = r.as_uint().and_then(|v| u32::try_from(v).ok()),
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
            // A value wider than the 32-bit unlock flags is not a claim (the rule then fails).
            (id::BITLOCKER_UNLOCK, _, Some(v)) => {
                if let Ok(v) = u32::try_from(v) {
                    set(&mut c.bitlocker_unlock, v, e)
                }
            }
            (id::VSM_IDK_INFO, _, _) => {
                c.vsm_idk_records = c.vsm_idk_records.saturating_add(1);
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
                    policies.push(claim);
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
