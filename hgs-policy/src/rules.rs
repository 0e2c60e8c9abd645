//! The built-in `Hgs_*` attestation policies: names, states (Enabled / Disabled / Locked),
//! Microsoft's defaults, and their evaluation from a log's boot claims.
//!
//! Pass rule (HGS, "Managing the Host Guardian Service"): a host must pass every *enabled* or
//! *locked* `Hgs_*` policy, and match at least one TPM identifier, TPM baseline and CI policy.
//! `Hgs_SecureBootSettings` and `Hgs_CiPolicy` are the "negative" policies that stand for the
//! baseline and CI-policy matches; Microsoft says some policies are locked without naming them, so
//! the locked set is configuration here, defaulting to those two (inferred).
//!
//! A claim the log does not make counts against the host: a missing measurement is never evidence
//! of a secure setting. Debugging flags are the exception: their absence means "not enabled".

use std::collections::BTreeMap;

use hgs_tcglog::{BootClaims, Claim};
use hgs_tpm::PcrSet;

/// A built-in attestation policy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum HgsPolicy {
    /// `Hgs_SecureBootEnabled`: UEFI Secure Boot is on.
    #[serde(rename = "Hgs_SecureBootEnabled")]
    SecureBootEnabled,
    /// `Hgs_UefiDebugDisabled`: no boot, kernel or hypervisor debugger, no UEFI debug mode.
    #[serde(rename = "Hgs_UefiDebugDisabled")]
    UefiDebugDisabled,
    /// `Hgs_SecureBootSettings`: the host matches a registered TPM baseline.
    #[serde(rename = "Hgs_SecureBootSettings")]
    SecureBootSettings,
    /// `Hgs_CiPolicy`: the host runs a registered CI policy.
    #[serde(rename = "Hgs_CiPolicy")]
    CiPolicy,
    /// `Hgs_HypervisorEnforcedCiPolicy`: HVCI enforced.
    #[serde(rename = "Hgs_HypervisorEnforcedCiPolicy")]
    HypervisorEnforcedCiPolicy,
    /// `Hgs_FullBoot`: not resumed from sleep or hibernation.
    #[serde(rename = "Hgs_FullBoot")]
    FullBoot,
    /// `Hgs_VsmIdkPresent`: VBS running and its identity key measured.
    #[serde(rename = "Hgs_VsmIdkPresent")]
    VsmIdkPresent,
    /// `Hgs_PageFileEncryptionEnabled`: pagefile encrypted.
    #[serde(rename = "Hgs_PageFileEncryptionEnabled")]
    PageFileEncryptionEnabled,
    /// `Hgs_BitLockerEnabled`: the OS volume was unlocked by BitLocker. Disabled by default.
    #[serde(rename = "Hgs_BitLockerEnabled")]
    BitLockerEnabled,
    /// `Hgs_IommuEnabled`: an IOMMU is required (DMA protection).
    #[serde(rename = "Hgs_IommuEnabled")]
    IommuEnabled,
    /// `Hgs_NoHibernation`: hibernation disabled.
    #[serde(rename = "Hgs_NoHibernation")]
    NoHibernation,
    /// `Hgs_NoDumps`: crash dumps disabled.
    #[serde(rename = "Hgs_NoDumps")]
    NoDumps,
    /// `Hgs_DumpEncryption`: if dumps are enabled, they are encrypted.
    #[serde(rename = "Hgs_DumpEncryption")]
    DumpEncryption,
    /// `Hgs_DumpEncryptionKey`: the dump-encryption key is a registered one.
    #[serde(rename = "Hgs_DumpEncryptionKey")]
    DumpEncryptionKey,
}

/// The state of a policy (`Get-HgsAttestationPolicy -State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PolicyState {
    /// Evaluated; can be disabled.
    Enabled,
    /// Not evaluated.
    Disabled,
    /// Evaluated; cannot be disabled.
    Locked,
}

/// The sub-status HGS reports for an insecure host (`AttestationSubStatus`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum SubStatus {
    /// BitLocker.
    BitLocker,
    /// The CI policy is not a registered one.
    CodeIntegrityPolicy,
    /// Dumps enabled.
    DumpsEnabled,
    /// Dumps not encrypted.
    DumpEncryption,
    /// Dump key not registered.
    DumpEncryptionKey,
    /// Resumed rather than booted.
    FullBoot,
    /// Hibernation enabled.
    HibernationEnabled,
    /// HVCI not enforced.
    HypervisorEnforcedCodeIntegrityPolicy,
    /// No IOMMU.
    Iommu,
    /// Pagefile not encrypted.
    PagefileEncryption,
    /// Secure Boot off, or a debugger on.
    SecureBoot,
    /// No TPM baseline matches.
    SecureBootSettings,
    /// The log cannot be verified (replay, digests).
    TcgLogVerification,
    /// VBS not running or no IDK.
    VirtualSecureMode,
}

impl HgsPolicy {
    /// Every policy, in Microsoft's table order.
    pub const ALL: [HgsPolicy; 14] = [
        HgsPolicy::SecureBootEnabled,
        HgsPolicy::UefiDebugDisabled,
        HgsPolicy::SecureBootSettings,
        HgsPolicy::CiPolicy,
        HgsPolicy::HypervisorEnforcedCiPolicy,
        HgsPolicy::FullBoot,
        HgsPolicy::VsmIdkPresent,
        HgsPolicy::PageFileEncryptionEnabled,
        HgsPolicy::BitLockerEnabled,
        HgsPolicy::IommuEnabled,
        HgsPolicy::NoHibernation,
        HgsPolicy::NoDumps,
        HgsPolicy::DumpEncryption,
        HgsPolicy::DumpEncryptionKey,
    ];

    /// The policy's name, e.g. `Hgs_SecureBootEnabled`.
    pub fn name(self) -> &'static str {
        match self {
            HgsPolicy::SecureBootEnabled => "Hgs_SecureBootEnabled",
            HgsPolicy::UefiDebugDisabled => "Hgs_UefiDebugDisabled",
            HgsPolicy::SecureBootSettings => "Hgs_SecureBootSettings",
            HgsPolicy::CiPolicy => "Hgs_CiPolicy",
            HgsPolicy::HypervisorEnforcedCiPolicy => "Hgs_HypervisorEnforcedCiPolicy",
            HgsPolicy::FullBoot => "Hgs_FullBoot",
            HgsPolicy::VsmIdkPresent => "Hgs_VsmIdkPresent",
            HgsPolicy::PageFileEncryptionEnabled => "Hgs_PageFileEncryptionEnabled",
            HgsPolicy::BitLockerEnabled => "Hgs_BitLockerEnabled",
            HgsPolicy::IommuEnabled => "Hgs_IommuEnabled",
            HgsPolicy::NoHibernation => "Hgs_NoHibernation",
            HgsPolicy::NoDumps => "Hgs_NoDumps",
            HgsPolicy::DumpEncryption => "Hgs_DumpEncryption",
            HgsPolicy::DumpEncryptionKey => "Hgs_DumpEncryptionKey",
        }
    }

    /// By name (`Hgs_FullBoot`), or by the cmdlet's policy type (`FullBoot`), case-insensitively.
    pub fn from_name(name: &str) -> Option<HgsPolicy> {
        let bare = name
            .strip_prefix("Hgs_")
            .or_else(|| name.strip_prefix("hgs_"))
            .unwrap_or(name);
        HgsPolicy::ALL.into_iter().find(|p| {
            p.name()[4..].eq_ignore_ascii_case(bare)
                || (matches!(p, HgsPolicy::PageFileEncryptionEnabled)
                    && bare.eq_ignore_ascii_case("PagefileEncryptionEnabled"))
        })
    }

    /// Microsoft's default state (with the inferred lock set).
    pub fn default_state(self) -> PolicyState {
        match self {
            HgsPolicy::SecureBootSettings | HgsPolicy::CiPolicy => PolicyState::Locked,
            HgsPolicy::BitLockerEnabled => PolicyState::Disabled,
            _ => PolicyState::Enabled,
        }
    }

    /// The PCRs this policy's decision is read from; a quote that does not cover them cannot
    /// attest it. PCR 7: the UEFI Secure Boot configuration. PCRs 12–14: Windows' SIPA records
    /// (boot configuration, boot modules, boot authorities and CI policy). PCR 11: BitLocker.
    /// `Hgs_SecureBootSettings` needs PCR 7 plus whatever the registered baselines' profiles
    /// compare ([`crate::required_pcrs`] takes those into account).
    pub fn pcrs(self) -> PcrSet {
        const SIPA: PcrSet = PcrSet::of(&[12, 13, 14]);
        match self {
            HgsPolicy::SecureBootEnabled | HgsPolicy::SecureBootSettings => PcrSet::of(&[7]),
            HgsPolicy::UefiDebugDisabled => PcrSet::of(&[7, 12, 13, 14]),
            HgsPolicy::BitLockerEnabled => PcrSet::of(&[11, 12, 13, 14]),
            HgsPolicy::CiPolicy
            | HgsPolicy::HypervisorEnforcedCiPolicy
            | HgsPolicy::FullBoot
            | HgsPolicy::VsmIdkPresent
            | HgsPolicy::PageFileEncryptionEnabled
            | HgsPolicy::IommuEnabled
            | HgsPolicy::NoHibernation
            | HgsPolicy::NoDumps
            | HgsPolicy::DumpEncryption
            | HgsPolicy::DumpEncryptionKey => SIPA,
        }
    }

    /// The sub-status a failure of this policy reports.
    pub fn sub_status(self) -> SubStatus {
        match self {
            HgsPolicy::SecureBootEnabled | HgsPolicy::UefiDebugDisabled => SubStatus::SecureBoot,
            HgsPolicy::SecureBootSettings => SubStatus::SecureBootSettings,
            HgsPolicy::CiPolicy => SubStatus::CodeIntegrityPolicy,
            HgsPolicy::HypervisorEnforcedCiPolicy => {
                SubStatus::HypervisorEnforcedCodeIntegrityPolicy
            }
            HgsPolicy::FullBoot => SubStatus::FullBoot,
            HgsPolicy::VsmIdkPresent => SubStatus::VirtualSecureMode,
            HgsPolicy::PageFileEncryptionEnabled => SubStatus::PagefileEncryption,
            HgsPolicy::BitLockerEnabled => SubStatus::BitLocker,
            HgsPolicy::IommuEnabled => SubStatus::Iommu,
            HgsPolicy::NoHibernation => SubStatus::HibernationEnabled,
            HgsPolicy::NoDumps => SubStatus::DumpsEnabled,
            HgsPolicy::DumpEncryption => SubStatus::DumpEncryption,
            HgsPolicy::DumpEncryptionKey => SubStatus::DumpEncryptionKey,
        }
    }
}

impl core::fmt::Display for HgsPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a policy state cannot be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyStateError {
    /// Locked policies cannot be disabled (or enabled: they already are).
    #[error("{0} is locked and cannot be changed")]
    Locked(HgsPolicy),
    /// No policy has that name.
    #[error("no attestation policy is named {0:?}")]
    UnknownPolicy(String),
}

/// Policy states and the registered dump-encryption keys: the configuration of the `Hgs_*` rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicySettings {
    /// State of every policy (missing entries take their default).
    #[serde(default)]
    pub states: BTreeMap<HgsPolicy, PolicyState>,
    /// Digests (hex) of dump-encryption keys registered with `Add-HgsAttestationDumpPolicy`.
    #[serde(default)]
    pub dump_keys: Vec<String>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            states: HgsPolicy::ALL
                .into_iter()
                .map(|p| (p, p.default_state()))
                .collect(),
            dump_keys: Vec::new(),
        }
    }
}

impl PolicySettings {
    /// The state of a policy.
    pub fn state(&self, policy: HgsPolicy) -> PolicyState {
        self.states
            .get(&policy)
            .copied()
            .unwrap_or(policy.default_state())
    }

    /// Whether a policy is evaluated (enabled or locked).
    pub fn is_active(&self, policy: HgsPolicy) -> bool {
        self.state(policy) != PolicyState::Disabled
    }

    /// `Enable-HgsAttestationPolicy`.
    pub fn enable(&mut self, policy: HgsPolicy) -> Result<(), PolicyStateError> {
        self.set(policy, PolicyState::Enabled)
    }

    /// `Disable-HgsAttestationPolicy`. Locked policies refuse.
    pub fn disable(&mut self, policy: HgsPolicy) -> Result<(), PolicyStateError> {
        self.set(policy, PolicyState::Disabled)
    }

    fn set(&mut self, policy: HgsPolicy, state: PolicyState) -> Result<(), PolicyStateError> {
        if self.state(policy) == PolicyState::Locked {
            return Err(PolicyStateError::Locked(policy));
        }
        self.states.insert(policy, state);
        Ok(())
    }
}

/// The log event a rule's outcome rests on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimEvidence {
    /// The boot claim, e.g. `secure_boot`, `kernel_debugging`.
    pub claim: String,
    /// Its value, or `None` when the log does not make the claim.
    pub value: Option<ClaimValue>,
    /// Event index of the deciding event.
    pub event_index: Option<u32>,
    /// PCR of the deciding event.
    pub pcr: Option<u32>,
}

/// The value of a boot claim: JSON `true`, a number, or hex for bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ClaimValue {
    /// A flag (Secure Boot on, a debugger enabled, ...).
    Bool(bool),
    /// A number (a launch type, BitLocker's unlock method, ...).
    Number(u64),
    /// A digest (hex in JSON).
    Bytes(#[serde(with = "hgs_tpm::hex::serde")] Vec<u8>),
    /// An RSA public key, by size (the VSM identity key): `{"rsa_bits": 2048}`.
    RsaKey {
        /// Modulus size in bits.
        rsa_bits: u32,
    },
}

impl From<bool> for ClaimValue {
    fn from(v: bool) -> ClaimValue {
        ClaimValue::Bool(v)
    }
}

impl From<u64> for ClaimValue {
    fn from(v: u64) -> ClaimValue {
        ClaimValue::Number(v)
    }
}

impl From<u32> for ClaimValue {
    fn from(v: u32) -> ClaimValue {
        ClaimValue::Number(u64::from(v))
    }
}

impl core::fmt::Display for ClaimValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClaimValue::Bool(b) => write!(f, "{b}"),
            ClaimValue::Number(n) => write!(f, "{n}"),
            ClaimValue::Bytes(b) => f.write_str(&hgs_tpm::hex::encode(b)),
            ClaimValue::RsaKey { rsa_bits } => write!(f, "RSA-{rsa_bits}"),
        }
    }
}

impl ClaimEvidence {
    fn of<T: Copy + Into<ClaimValue>>(claim: &str, c: &Option<Claim<T>>) -> ClaimEvidence {
        ClaimEvidence {
            claim: claim.into(),
            value: c.as_ref().map(|c| c.value.into()),
            event_index: c.as_ref().map(|c| c.event_index),
            pcr: c.as_ref().map(|c| c.pcr),
        }
    }

    fn hex(claim: &str, c: &Option<Claim<Vec<u8>>>) -> ClaimEvidence {
        ClaimEvidence {
            claim: claim.into(),
            value: c.as_ref().map(|c| ClaimValue::Bytes(c.value.clone())),
            event_index: c.as_ref().map(|c| c.event_index),
            pcr: c.as_ref().map(|c| c.pcr),
        }
    }
}

impl core::fmt::Display for ClaimEvidence {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (&self.value, self.event_index, self.pcr) {
            (Some(v), Some(i), Some(p)) => write!(f, "{} = {v} (event {i}, PCR {p})", self.claim),
            (Some(v), _, _) => write!(f, "{} = {v}", self.claim),
            _ => write!(f, "{} not measured", self.claim),
        }
    }
}

/// Why one `Hgs_*` policy failed. Each reason is its own variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RuleFailure {
    /// Secure Boot is off.
    SecureBootOff,
    /// The log does not measure the Secure Boot state.
    SecureBootNotMeasured,
    /// A debugger (or UEFI debug mode) is enabled.
    DebuggerEnabled,
    /// HVCI is not enforced, or not measured.
    HvciNotEnforced,
    /// The host resumed from sleep or hibernation.
    ResumedFromHibernation,
    /// The log does not say whether this was a full boot.
    BootTypeNotMeasured,
    /// VBS is not running.
    VbsNotRunning,
    /// VBS runs but its identity key is not measured.
    VsmIdkMissing,
    /// The pagefile is not encrypted (or not measured).
    PagefileNotEncrypted,
    /// The OS volume was not unlocked by BitLocker.
    BitLockerNotUsed,
    /// No IOMMU is required.
    IommuNotRequired,
    /// Hibernation is enabled (or not measured as disabled).
    HibernationEnabled,
    /// Crash dumps are enabled (or not measured as disabled).
    DumpsEnabled,
    /// Dumps are enabled and not encrypted.
    DumpsNotEncrypted,
    /// The dump-encryption key is not a registered one.
    DumpKeyNotRegistered,
}

impl RuleFailure {
    /// One-line explanation.
    pub fn describe(&self) -> &'static str {
        match self {
            RuleFailure::SecureBootOff => "Secure Boot is off",
            RuleFailure::SecureBootNotMeasured => "the log does not measure Secure Boot",
            RuleFailure::DebuggerEnabled => "a debugger is enabled",
            RuleFailure::HvciNotEnforced => "hypervisor-enforced code integrity is not on",
            RuleFailure::ResumedFromHibernation => "the host resumed instead of booting",
            RuleFailure::BootTypeNotMeasured => "the log does not say how the OS was started",
            RuleFailure::VbsNotRunning => "virtualization-based security is not running",
            RuleFailure::VsmIdkMissing => "the VSM identity key is not measured",
            RuleFailure::PagefileNotEncrypted => "the pagefile is not encrypted",
            RuleFailure::BitLockerNotUsed => "the OS volume was not unlocked by BitLocker",
            RuleFailure::IommuNotRequired => "no IOMMU is required",
            RuleFailure::HibernationEnabled => "hibernation is enabled",
            RuleFailure::DumpsEnabled => "crash dumps are enabled",
            RuleFailure::DumpsNotEncrypted => "crash dumps are not encrypted",
            RuleFailure::DumpKeyNotRegistered => "the dump-encryption key is not registered",
        }
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RuleResult {
    /// Passed.
    Passed,
    /// Failed.
    Failed {
        /// Why.
        #[serde(flatten)]
        failure: RuleFailure,
    },
    /// Disabled by the admin: not evaluated.
    Disabled,
    /// Does not apply (e.g. dump encryption when dumps are disabled).
    NotApplicable {
        /// Why.
        why: String,
    },
    /// Active, but the PCRs it is read from were not quoted: nothing attests it. Fails.
    NotAttested {
        /// The policy's PCRs that no quote covered.
        missing: PcrSet,
    },
}

/// One `Hgs_*` policy evaluated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleOutcome {
    /// The policy.
    pub policy: HgsPolicy,
    /// Its state.
    pub state: PolicyState,
    /// The result.
    #[serde(flatten)]
    pub result: RuleResult,
    /// The claims it rests on.
    pub evidence: Vec<ClaimEvidence>,
}

fn is_true(c: &Option<Claim<bool>>) -> bool {
    c.as_ref().is_some_and(|c| c.value)
}

fn outcome(fail: Option<RuleFailure>) -> RuleResult {
    match fail {
        None => RuleResult::Passed,
        Some(failure) => RuleResult::Failed { failure },
    }
}

/// Evaluates one claim-based policy (every policy except `Hgs_SecureBootSettings` and
/// `Hgs_CiPolicy`, whose outcome is the baseline / CI-policy match) regardless of its state.
pub fn evaluate_rule(
    policy: HgsPolicy,
    claims: &BootClaims,
    settings: &PolicySettings,
) -> (RuleResult, Vec<ClaimEvidence>) {
    let ev = ClaimEvidence::of;
    match policy {
        HgsPolicy::SecureBootEnabled => {
            let fail = match &claims.secure_boot {
                None => Some(RuleFailure::SecureBootNotMeasured),
                Some(c) if !c.value => Some(RuleFailure::SecureBootOff),
                Some(_) => None,
            };
            (
                outcome(fail),
                vec![
                    ev("secure_boot", &claims.secure_boot),
                    ev("vbs_secure_boot_required", &claims.vbs_secure_boot_required),
                ],
            )
        }
        HgsPolicy::UefiDebugDisabled => {
            let all = [
                ev("boot_debugging", &claims.boot_debugging),
                ev("kernel_debugging", &claims.kernel_debugging),
                ev("hypervisor_debugging", &claims.hypervisor_debugging),
                ev("uefi_debug_mode", &claims.uefi_debug_mode),
            ];
            let on: Vec<ClaimEvidence> = [
                (&claims.boot_debugging, &all[0]),
                (&claims.kernel_debugging, &all[1]),
                (&claims.hypervisor_debugging, &all[2]),
                (&claims.uefi_debug_mode, &all[3]),
            ]
            .into_iter()
            .filter(|(c, _)| is_true(c))
            .map(|(_, e)| e.clone())
            .collect();
            if on.is_empty() {
                (RuleResult::Passed, all.to_vec())
            } else {
                (outcome(Some(RuleFailure::DebuggerEnabled)), on)
            }
        }
        HgsPolicy::HypervisorEnforcedCiPolicy => (
            outcome((!is_true(&claims.hvci_enforced)).then_some(RuleFailure::HvciNotEnforced)),
            vec![ev("hvci_enforced", &claims.hvci_enforced)],
        ),
        HgsPolicy::FullBoot => {
            let fail = match &claims.full_boot {
                None => Some(RuleFailure::BootTypeNotMeasured),
                Some(c) if !c.value => Some(RuleFailure::ResumedFromHibernation),
                Some(_) => None,
            };
            (outcome(fail), vec![ev("full_boot", &claims.full_boot)])
        }
        HgsPolicy::VsmIdkPresent => {
            let fail = if !is_true(&claims.vbs_running) {
                Some(RuleFailure::VbsNotRunning)
            } else if claims.vsm_idk.is_none() {
                Some(RuleFailure::VsmIdkMissing)
            } else {
                None
            };
            let idk = ClaimEvidence {
                claim: "vsm_idk".into(),
                value: claims.vsm_idk.as_ref().map(|c| ClaimValue::RsaKey {
                    rsa_bits: c.value.bits,
                }),
                event_index: claims.vsm_idk.as_ref().map(|c| c.event_index),
                pcr: claims.vsm_idk.as_ref().map(|c| c.pcr),
            };
            (
                outcome(fail),
                vec![ev("vbs_running", &claims.vbs_running), idk],
            )
        }
        HgsPolicy::PageFileEncryptionEnabled => (
            outcome(
                (!is_true(&claims.pagefile_encrypted)).then_some(RuleFailure::PagefileNotEncrypted),
            ),
            vec![ev("pagefile_encrypted", &claims.pagefile_encrypted)],
        ),
        HgsPolicy::BitLockerEnabled => (
            outcome(
                claims
                    .bitlocker_unlock
                    .as_ref()
                    .is_none_or(|c| c.value == 0)
                    .then_some(RuleFailure::BitLockerNotUsed),
            ),
            vec![ClaimEvidence::of(
                "bitlocker_unlock",
                &claims.bitlocker_unlock,
            )],
        ),
        HgsPolicy::IommuEnabled => (
            outcome((!is_true(&claims.iommu_required)).then_some(RuleFailure::IommuNotRequired)),
            vec![
                ev("iommu_required", &claims.iommu_required),
                ev("dma_protection", &claims.dma_protection),
            ],
        ),
        HgsPolicy::NoHibernation => (
            outcome(
                (!is_true(&claims.hibernation_disabled)).then_some(RuleFailure::HibernationEnabled),
            ),
            vec![ev("hibernation_disabled", &claims.hibernation_disabled)],
        ),
        HgsPolicy::NoDumps => (
            outcome((!is_true(&claims.dumps_disabled)).then_some(RuleFailure::DumpsEnabled)),
            vec![ev("dumps_disabled", &claims.dumps_disabled)],
        ),
        HgsPolicy::DumpEncryption => {
            let evidence = vec![
                ev("dumps_disabled", &claims.dumps_disabled),
                ev("dump_encryption", &claims.dump_encryption),
            ];
            if is_true(&claims.dumps_disabled) {
                return (
                    RuleResult::NotApplicable {
                        why: "crash dumps are disabled".into(),
                    },
                    evidence,
                );
            }
            (
                outcome(
                    (!is_true(&claims.dump_encryption)).then_some(RuleFailure::DumpsNotEncrypted),
                ),
                evidence,
            )
        }
        HgsPolicy::DumpEncryptionKey => {
            let evidence = vec![ClaimEvidence::hex(
                "dump_encryption_key_digest",
                &claims.dump_encryption_key_digest,
            )];
            if is_true(&claims.dumps_disabled) {
                return (
                    RuleResult::NotApplicable {
                        why: "crash dumps are disabled".into(),
                    },
                    evidence,
                );
            }
            if !settings.is_active(HgsPolicy::DumpEncryption) {
                return (
                    RuleResult::NotApplicable {
                        why: "Hgs_DumpEncryption is disabled".into(),
                    },
                    evidence,
                );
            }
            let registered = claims.dump_encryption_key_digest.as_ref().is_some_and(|c| {
                let d = hgs_tpm::hex::encode(&c.value);
                settings
                    .dump_keys
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&d))
            });
            (
                outcome((!registered).then_some(RuleFailure::DumpKeyNotRegistered)),
                evidence,
            )
        }
        // Decided by the baseline and CI-policy matchers, not by claims.
        HgsPolicy::SecureBootSettings | HgsPolicy::CiPolicy => (
            RuleResult::NotApplicable {
                why: "decided by artifact matching".into(),
            },
            Vec::new(),
        ),
    }
}

/// Evaluates every claim-based `Hgs_*` policy in its configured state (disabled ones are listed
/// as [`RuleResult::Disabled`]). `Hgs_SecureBootSettings` and `Hgs_CiPolicy` are not included.
///
/// `quoted` is the set of PCRs the claims' quote covers: an active policy whose
/// [`HgsPolicy::pcrs`] are not all quoted is [`RuleResult::NotAttested`] — never passed, even
/// when the absence of a claim would pass it (no debugger measured is not "no debugger" when
/// nobody quoted the PCRs a debugger would be measured in).
pub fn evaluate_rules(
    claims: &BootClaims,
    settings: &PolicySettings,
    quoted: PcrSet,
) -> Vec<RuleOutcome> {
    HgsPolicy::ALL
        .into_iter()
        .filter(|p| !matches!(p, HgsPolicy::SecureBootSettings | HgsPolicy::CiPolicy))
        .map(|policy| {
            let state = settings.state(policy);
            let missing = policy.pcrs().minus(quoted);
            let (result, evidence) = if state == PolicyState::Disabled {
                (RuleResult::Disabled, Vec::new())
            } else if !missing.is_empty() {
                (RuleResult::NotAttested { missing }, Vec::new())
            } else {
                evaluate_rule(policy, claims, settings)
            };
            RuleOutcome {
                policy,
                state,
                result,
                evidence,
            }
        })
        .collect()
}

#[cfg(test)]
mod claim_value_tests {
    #![allow(clippy::unwrap_used)]
    use super::ClaimValue;

    #[test]
    fn claim_values_are_json_booleans_numbers_hex_and_key_sizes_and_read_back() {
        for (v, json, shown) in [
            (ClaimValue::Bool(true), "true", "true"),
            (ClaimValue::Number(2), "2", "2"),
            (ClaimValue::Bytes(vec![0xab, 0x01]), "\"ab01\"", "ab01"),
            (
                ClaimValue::RsaKey { rsa_bits: 2048 },
                r#"{"rsa_bits":2048}"#,
                "RSA-2048",
            ),
        ] {
            assert_eq!(serde_json::to_string(&v).unwrap(), json);
            assert_eq!(serde_json::from_str::<ClaimValue>(json).unwrap(), v);
            assert_eq!(v.to_string(), shown);
        }
    }
}
