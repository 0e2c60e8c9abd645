//! TPM baselines (`Get-HgsAttestationBaselinePolicy` + `Add-HgsAttestationTpmPolicy`): what must be
//! identical across hosts of one hardware class, and the event-by-event matcher.
//!
//! **Inferred model** (Microsoft does not document which events HGS compares; see
//! `shared/research/hgs.md` §6). The documented causes of a `SecureBootSettings` failure are changes
//! to "UEFI launch authorities, DBX variable, debug flag, or custom Secure Boot policies": exactly the
//! PCR 7 Secure Boot configuration events (SecureBoot, PK, KEK, db, dbx, the authorities used to
//! verify loaded images, the debug-mode action). So the default profile compares every measured
//! PCR 7 event of the host with the baseline's, in order, digest by digest. The
//! [`BaselineProfile::Strict`] profile also compares PCRs 0, 2 and 4 (firmware, option ROMs, boot
//! applications). The matcher sits behind [`BaselineMatcher`] so that a service can replace the
//! inference without touching the rest.
//!
//! Capture validation: a reference host must have Secure Boot on, an IOMMU required, VBS running and
//! a code integrity policy applied. `skip_validation` turns those errors into warnings and does not
//! change the baseline produced.

use std::collections::BTreeMap;

use hgs_tcglog::{
    BootClaims, Event, EventLog, EventType, LogAnomaly, QuotedEvent, QuotedLog, ReferenceLog,
};

use hgs_tpm::HashAlg;

use crate::name::{Name, NameError};
use crate::version::PolicyVersion;

/// Which PCRs a baseline compares event by event.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BaselineProfile {
    /// PCR 7 only: the Secure Boot configuration (the documented causes of SecureBootSettings).
    #[default]
    SecureBootConfiguration,
    /// PCRs 0, 2, 4 and 7: also firmware, option ROMs and boot applications.
    Strict,
}

impl BaselineProfile {
    /// The PCRs compared.
    pub fn pcrs(self) -> &'static [u32] {
        match self {
            BaselineProfile::SecureBootConfiguration => &[7],
            BaselineProfile::Strict => &[0, 2, 4, 7],
        }
    }
}

/// One measured event of the reference log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BaselineEvent {
    /// PCR.
    pub pcr: u32,
    /// Index of the event in the reference log.
    pub event_index: u32,
    /// Event type (raw TCG value).
    pub event_type: u32,
    /// Digest per bank (`sha1`, `sha256`, ...), hex.
    pub digests: BTreeMap<String, String>,
    /// Human description: event type and, for UEFI variables, the variable name.
    pub description: String,
}

/// A registered TPM baseline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TpmBaseline {
    /// Name the admin gave (the hardware class).
    pub name: Name,
    /// Version it was registered under.
    pub policy_version: PolicyVersion,
    /// Which PCRs are compared.
    pub profile: BaselineProfile,
    /// The reference events, in log order.
    pub events: Vec<BaselineEvent>,
    /// What capture validation found on the reference host (empty when it was healthy).
    #[serde(default)]
    pub capture_warnings: Vec<CaptureProblem>,
}

/// A reason the reference host is not configured as HGS requires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum CaptureProblem {
    /// Secure Boot is off or not measured.
    SecureBootOff {
        /// Deciding event, if the log says.
        event_index: Option<u32>,
    },
    /// No IOMMU is required (VBS_IOMMU_REQUIRED off or absent).
    IommuNotRequired {
        /// Deciding event, if the log says.
        event_index: Option<u32>,
    },
    /// VBS is not running.
    VbsNotRunning {
        /// Deciding event, if the log says.
        event_index: Option<u32>,
    },
    /// No code integrity policy was measured (and no CI policy event is uncovered: that is its
    /// [`LogAnomaly::UncoveredCiPolicy`]).
    NoCiPolicy,
    /// The reference log has an event no healthy boot has, or one whose data its digest does not
    /// cover: it would be refused at attestation.
    LogAnomaly {
        /// What.
        anomaly: LogAnomaly,
    },
}

impl core::fmt::Display for CaptureProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let at = |i: &Option<u32>| i.map(|i| format!(" (event {i})")).unwrap_or_default();
        match self {
            CaptureProblem::SecureBootOff { event_index } => {
                write!(f, "Secure Boot is not enabled{}", at(event_index))
            }
            CaptureProblem::IommuNotRequired { event_index } => {
                write!(f, "no IOMMU is required{}", at(event_index))
            }
            CaptureProblem::VbsNotRunning { event_index } => {
                write!(
                    f,
                    "virtualization-based security is not running{}",
                    at(event_index)
                )
            }
            CaptureProblem::NoCiPolicy => f.write_str("no code integrity policy is applied"),
            CaptureProblem::LogAnomaly { anomaly } => write!(f, "{anomaly}"),
        }
    }
}

/// Why a baseline cannot be captured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// The reference log does not parse.
    #[error("the reference log does not parse: {0}")]
    Log(#[from] hgs_tcglog::Error),
    /// The reference host fails validation (and it was not skipped).
    #[error(
        "the reference host is not configured as HGS requires: {}",
        list(problems)
    )]
    ReferenceNotCompliant {
        /// Every problem found.
        problems: Vec<CaptureProblem>,
    },
    /// The reference log has no event on the profile's PCRs.
    #[error("the reference log has no measured event on PCRs {pcrs:?}")]
    NoEvents {
        /// The profile's PCRs.
        pcrs: Vec<u32>,
    },
    /// The name breaks the naming rule ([`Name`]).
    #[error("invalid baseline name: {0}")]
    InvalidName(#[from] NameError),
}

fn list(problems: &[CaptureProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The capture checks of `Get-HgsAttestationBaselinePolicy`: Secure Boot, IOMMU, VBS, CI policy,
/// and no log anomaly (the same strict reading attestation applies).
pub fn validate_reference(claims: &BootClaims) -> Vec<CaptureProblem> {
    let mut problems: Vec<CaptureProblem> = claims
        .anomalies
        .iter()
        .map(|a| CaptureProblem::LogAnomaly { anomaly: a.clone() })
        .collect();
    let idx = |c: &Option<hgs_tcglog::Claim<bool>>| c.as_ref().map(|c| c.event_index);
    if !claims.secure_boot.as_ref().is_some_and(|c| c.value) {
        problems.push(CaptureProblem::SecureBootOff {
            event_index: idx(&claims.secure_boot),
        });
    }
    if !claims.iommu_required.as_ref().is_some_and(|c| c.value) {
        problems.push(CaptureProblem::IommuNotRequired {
            event_index: idx(&claims.iommu_required),
        });
    }
    if !claims.vbs_running.as_ref().is_some_and(|c| c.value) {
        problems.push(CaptureProblem::VbsNotRunning {
            event_index: idx(&claims.vbs_running),
        });
    }
    // An uncovered CI policy event is already a problem (its anomaly), and the reason none counts.
    let uncovered = claims
        .anomalies
        .iter()
        .any(|a| matches!(a, LogAnomaly::UncoveredCiPolicy { .. }));
    if claims.si_policies.is_empty() && !uncovered {
        problems.push(CaptureProblem::NoCiPolicy);
    }
    problems
}

fn describe(e: &Event<'_>) -> String {
    describe_parts(e.event_type, e.data, e.index)
}

/// Event type and, for UEFI variables and actions, the name: for reports only (the data is
/// not trusted here).
fn describe_parts(event_type: EventType, data: &[u8], index: u32) -> String {
    let mut s = event_type.name().to_string();
    if matches!(
        event_type,
        EventType::EfiVariableDriverConfig
            | EventType::EfiVariableAuthority
            | EventType::EfiVariableBoot
            | EventType::EfiVariableBoot2
    ) {
        if let Ok(v) = hgs_tcglog::uefi::UefiVariable::parse(data, index) {
            s.push(' ');
            s.push_str(&v.name);
        }
    } else if matches!(event_type, EventType::EfiAction | EventType::Action) {
        s.push(' ');
        s.push_str(&String::from_utf8_lossy(data));
    }
    s
}

/// The events of `pcrs` that a baseline compares: every event extended into them (EV_NO_ACTION
/// and the Spec ID header are not extended and are skipped).
fn compared_events<'a: 'p, 'p>(
    log: &EventLog<'a>,
    pcrs: &'p [u32],
) -> impl Iterator<Item = hgs_tcglog::Result<Event<'a>>> + 'p {
    log.events().filter(move |e| match e {
        Ok(e) => pcrs.contains(&e.pcr) && e.is_extended(),
        Err(_) => true,
    })
}

impl TpmBaseline {
    /// Captures a baseline from a reference host's log.
    ///
    /// Without `skip_validation`, a reference host that fails [`validate_reference`] is refused.
    /// With it, the problems are kept in [`TpmBaseline::capture_warnings`]; the events are the same.
    pub fn from_reference_log(
        name: &str,
        version: PolicyVersion,
        profile: BaselineProfile,
        log: &[u8],
        skip_validation: bool,
    ) -> Result<TpmBaseline, BaselineError> {
        let name = Name::new(name)?;
        let reference = ReferenceLog::new(EventLog::parse(log)?)?;
        let claims = BootClaims::from_reference(&reference);
        let problems = validate_reference(&claims);
        if !problems.is_empty() && !skip_validation {
            return Err(BaselineError::ReferenceNotCompliant { problems });
        }
        let mut events = Vec::new();
        for e in compared_events(reference.log(), profile.pcrs()) {
            let e = e?;
            events.push(BaselineEvent {
                pcr: e.pcr,
                event_index: e.index,
                event_type: e.event_type.as_u32(),
                digests: e
                    .digests()
                    .map(|(alg, d)| (alg.name().to_string(), hgs_tpm::hex::encode(d)))
                    .collect(),
                description: describe(&e),
            });
        }
        if events.is_empty() {
            return Err(BaselineError::NoEvents {
                pcrs: profile.pcrs().to_vec(),
            });
        }
        Ok(TpmBaseline {
            name,
            policy_version: version,
            profile,
            events,
            capture_warnings: problems,
        })
    }
}

/// How a host log differs from a baseline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MismatchKind {
    /// Both logs have an event at this position of the PCR's sequence, with different digests.
    DigestDiffers,
    /// The host log has an event the baseline does not (e.g. an extra authority).
    ExtraHostEvent,
    /// The baseline has an event the host log lacks (e.g. a missing dbx update).
    MissingHostEvent,
    /// The baseline has no digests in the bank the host's quote binds, so nothing can be compared.
    NoCommonBank,
    /// A PCR the baseline compares was not quoted: the host's events there are not evidence.
    PcrNotQuoted,
}

/// The first difference between a host log and a baseline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BaselineMismatch {
    /// Baseline name.
    pub baseline: String,
    /// What differs.
    #[serde(flatten)]
    pub kind: MismatchKind,
    /// PCR of the differing events.
    pub pcr: Option<u32>,
    /// Bank the digests are compared in.
    pub bank: Option<HashAlg>,
    /// Index of the event in the reference log.
    pub baseline_event_index: Option<u32>,
    /// Index of the event in the host log.
    pub host_event_index: Option<u32>,
    /// Baseline digest (hex) and description.
    pub expected: Option<String>,
    /// Host digest (hex) and description.
    pub actual: Option<String>,
}

impl core::fmt::Display for BaselineMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let i = |v: &Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        match &self.kind {
            MismatchKind::NoCommonBank => {
                write!(
                    f,
                    "baseline {}: no bank in common with the host log",
                    self.baseline
                )
            }
            MismatchKind::PcrNotQuoted => write!(
                f,
                "baseline {}: PCR {} is not quoted, so the host's events there are not evidence",
                self.baseline,
                i(&self.pcr)
            ),
            kind => write!(
                f,
                "baseline {}: PCR {} {}: baseline event {} [{}] vs host event {} [{}] ({})",
                self.baseline,
                i(&self.pcr),
                match kind {
                    MismatchKind::DigestDiffers => "digest differs",
                    MismatchKind::ExtraHostEvent => "extra host event",
                    _ => "host event missing",
                },
                i(&self.baseline_event_index),
                o(&self.expected),
                i(&self.host_event_index),
                o(&self.actual),
                self.bank.map_or("-", HashAlg::name),
            ),
        }
    }
}

/// Decides whether a host log matches a baseline. Replaceable: the inference lives here. It sees
/// the host's log only as a [`QuotedLog`]: events on quoted PCRs, digests in the quoted bank.
pub trait BaselineMatcher {
    /// `Ok` if `host` matches `baseline`, else the first difference.
    fn check(
        &self,
        baseline: &TpmBaseline,
        host: &QuotedLog<'_>,
    ) -> Result<(), Box<BaselineMismatch>>;
}

/// The default matcher: the profile's PCRs, event by event, in log order, in the bank the host's
/// quote binds (the baseline must carry that bank's digests).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventByEvent;

impl BaselineMatcher for EventByEvent {
    fn check(
        &self,
        baseline: &TpmBaseline,
        host: &QuotedLog<'_>,
    ) -> Result<(), Box<BaselineMismatch>> {
        let bank = host.bank();
        let mismatch = |kind, pcr| {
            Box::new(BaselineMismatch {
                baseline: baseline.name.to_string(),
                kind,
                pcr,
                bank: Some(bank),
                baseline_event_index: None,
                host_event_index: None,
                expected: None,
                actual: None,
            })
        };
        if let Some(pcr) = baseline
            .profile
            .pcrs()
            .iter()
            .find(|p| !host.pcrs().contains(**p))
        {
            return Err(mismatch(MismatchKind::PcrNotQuoted, Some(*pcr)));
        }
        if !baseline
            .events
            .iter()
            .all(|e| e.digests.contains_key(bank.name()))
        {
            return Err(mismatch(MismatchKind::NoCommonBank, None));
        }
        let describe_host =
            |e: &QuotedEvent<'_>| describe_parts(e.event_type, e.unverified_data(), e.index);
        for &pcr in baseline.profile.pcrs() {
            let mut expected = baseline.events.iter().filter(|e| e.pcr == pcr);
            let mut actual = host.events().filter(|e| e.pcr == pcr);
            loop {
                let want = expected.next();
                let got = actual.next();
                let got_digest = got
                    .as_ref()
                    .map(|e| e.digest().map(hgs_tpm::hex::encode).unwrap_or_default());
                let want_digest =
                    want.map(|w| w.digests.get(bank.name()).cloned().unwrap_or_default());
                let kind = match (&want_digest, &got_digest) {
                    (None, None) => break,
                    (Some(w), Some(g)) if w == g => continue,
                    (Some(_), Some(_)) => MismatchKind::DigestDiffers,
                    (None, Some(_)) => MismatchKind::ExtraHostEvent,
                    (Some(_), None) => MismatchKind::MissingHostEvent,
                };
                let mut m = mismatch(kind, Some(pcr));
                m.baseline_event_index = want.map(|w| w.event_index);
                m.expected = want.map(|w| {
                    format!(
                        "{} {}",
                        w.description,
                        want_digest.clone().unwrap_or_default()
                    )
                });
                m.host_event_index = got.as_ref().map(|e| e.index);
                m.actual = got.as_ref().map(|e| {
                    format!(
                        "{} {}",
                        describe_host(e),
                        got_digest.clone().unwrap_or_default()
                    )
                });
                return Err(m);
            }
        }
        Ok(())
    }
}
