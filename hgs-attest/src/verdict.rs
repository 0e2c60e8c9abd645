//! The verdict: HGS's status vocabulary, the sub-statuses, and every check with its evidence.
//!
//! Status mapping (HGS documents the vocabulary, not the mapping; ours, stated here):
//! - `UnauthorizedHost`: the EK is not registered, or the host's artifacts match under no single
//!   policy version.
//! - `TpmError`: the AK or a quote does not verify (signature, nonce, selection, bank).
//! - `InsecureHostConfiguration`: the log cannot be verified (sub-status `TcgLogVerification`), no
//!   baseline or CI policy matches, or an `Hgs_*` policy fails (its sub-status).
//!
//! When several apply, the first in that order is the status; every failure is still listed.

use hgs_policy::baseline::BaselineMismatch;
use hgs_policy::resolve::Resolution;
use hgs_policy::rules::{ClaimEvidence, RuleFailure, RuleOutcome};
use hgs_policy::{HgsPolicy, PolicyVersion, SubStatus};

use crate::quote::QuoteError;

/// `AttestationStatus`, as Get-HgsClientConfiguration reports it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AttestationStatus {
    /// The host is healthy.
    Passed,
    /// The host is not registered, or not under one consistent policy version.
    UnauthorizedHost,
    /// The TPM's evidence does not verify.
    TpmError,
    /// The host is registered but not configured securely (see the sub-statuses).
    InsecureHostConfiguration,
}

/// A measured CI policy that is not registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MeasuredPolicy {
    /// Event index of the SI_POLICY event.
    pub event_index: u32,
    /// Policy file name Windows recorded.
    pub name: String,
    /// Digest algorithm (TPM_ALG_ID).
    pub hash_alg: u16,
    /// Digest (hex).
    pub digest: String,
}

/// Why a host fails. Every reason is its own variant and carries its evidence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum Failure {
    /// No registered host has the challenged EK.
    HostNotRegistered {
        /// The EK fingerprint the challenge was made for.
        ek_fingerprint: String,
    },
    /// The evidence's AK is not the one the credential was bound to.
    AkMismatch {
        /// AK name in the challenge (hex).
        expected: String,
        /// AK name of the evidence (hex), or empty if it does not parse.
        actual: String,
    },
    /// The AK is not a restricted, TPM-bound signing key.
    AkUnsuitable {
        /// What is wrong.
        reason: String,
    },
    /// No quote in the evidence covers a challenged bank.
    QuoteMissing {
        /// The bank.
        bank: String,
    },
    /// A quote is refused.
    Quote {
        /// The bank it was checked for.
        bank: String,
        /// Why.
        error: QuoteError,
    },
    /// The log does not parse.
    LogMalformed {
        /// The parser's error.
        reason: String,
    },
    /// The log's replay does not produce the quoted PCRs: an event was removed, added or edited.
    ReplayMismatch {
        /// Bank.
        bank: String,
        /// First PCR whose replayed value differs from the value the host reported, when the
        /// reported values are consistent with the quote (else `None`).
        pcr: Option<u32>,
        /// Replayed value of that PCR (hex).
        replayed: Option<String>,
        /// Reported value of that PCR (hex).
        reported: Option<String>,
        /// Quoted PCR digest (hex).
        quoted_digest: String,
        /// Digest of the replayed PCRs (hex).
        replayed_digest: String,
    },
    /// An event's data does not hash to its digest: its data cannot be trusted.
    EventDigestMismatch {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
        /// Bank.
        bank: String,
        /// Digest in the log (hex).
        logged: String,
        /// Hash of the data (hex).
        computed: String,
    },
    /// No registered baseline matches (under any version).
    NoBaselineMatch {
        /// The first difference from each baseline.
        mismatches: Vec<BaselineMismatch>,
    },
    /// The log measured no CI policy.
    NoCiPolicyMeasured,
    /// The measured CI policies are not registered.
    CiPolicyNotRegistered {
        /// What the host measured.
        measured: Vec<MeasuredPolicy>,
    },
    /// An `Hgs_*` policy failed.
    Policy {
        /// The policy.
        policy: HgsPolicy,
        /// Why.
        #[serde(flatten)]
        reason: RuleFailure,
        /// The claims it rests on.
        evidence: Vec<ClaimEvidence>,
    },
    /// Every artifact matched under some version, never all under one.
    VersionMismatch {
        /// What each version found.
        resolution: Resolution,
    },
}

impl Failure {
    /// The status this failure leads to.
    pub fn status(&self) -> AttestationStatus {
        match self {
            Failure::HostNotRegistered { .. } | Failure::VersionMismatch { .. } => {
                AttestationStatus::UnauthorizedHost
            }
            Failure::AkMismatch { .. }
            | Failure::AkUnsuitable { .. }
            | Failure::QuoteMissing { .. }
            | Failure::Quote { .. } => AttestationStatus::TpmError,
            _ => AttestationStatus::InsecureHostConfiguration,
        }
    }

    /// The sub-status, for insecure-configuration failures.
    pub fn sub_status(&self) -> Option<SubStatus> {
        match self {
            Failure::LogMalformed { .. }
            | Failure::ReplayMismatch { .. }
            | Failure::EventDigestMismatch { .. } => Some(SubStatus::TcgLogVerification),
            Failure::NoBaselineMatch { .. } => Some(SubStatus::SecureBootSettings),
            Failure::NoCiPolicyMeasured | Failure::CiPolicyNotRegistered { .. } => {
                Some(SubStatus::CodeIntegrityPolicy)
            }
            Failure::Policy { policy, .. } => Some(policy.sub_status()),
            _ => None,
        }
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::HostNotRegistered { ek_fingerprint } => {
                write!(f, "no registered host has EK {ek_fingerprint}")
            }
            Failure::AkMismatch { expected, actual } => write!(
                f,
                "the quoting AK {actual} is not the AK {expected} the credential was made for"
            ),
            Failure::AkUnsuitable { reason } => write!(f, "unsuitable AK: {reason}"),
            Failure::QuoteMissing { bank } => write!(f, "no quote covers the {bank} bank"),
            Failure::Quote { bank, error } => write!(f, "{bank} quote refused: {error}"),
            Failure::LogMalformed { reason } => write!(f, "the TCG log does not parse: {reason}"),
            Failure::ReplayMismatch {
                bank,
                pcr,
                replayed,
                reported,
                quoted_digest,
                replayed_digest,
            } => match pcr {
                Some(p) => write!(
                    f,
                    "the log does not replay to the quoted PCRs ({bank}): PCR {p} replays to {} but the TPM has {}",
                    replayed.as_deref().unwrap_or("-"),
                    reported.as_deref().unwrap_or("-")
                ),
                None => write!(
                    f,
                    "the log does not replay to the quoted PCRs ({bank}): quoted digest {quoted_digest}, replayed {replayed_digest}"
                ),
            },
            Failure::EventDigestMismatch {
                event_index,
                pcr,
                bank,
                logged,
                computed,
            } => write!(
                f,
                "event {event_index} (PCR {pcr}): its data hashes to {computed}, not its {bank} digest {logged}"
            ),
            Failure::NoBaselineMatch { mismatches } => {
                write!(f, "no TPM baseline matches")?;
                for m in mismatches {
                    write!(f, "; {m}")?;
                }
                Ok(())
            }
            Failure::NoCiPolicyMeasured => write!(f, "the log measured no code integrity policy"),
            Failure::CiPolicyNotRegistered { measured } => {
                write!(f, "the measured code integrity policy is not registered:")?;
                for m in measured {
                    write!(f, " {} {} (event {})", m.name, m.digest, m.event_index)?;
                }
                Ok(())
            }
            Failure::Policy {
                policy,
                reason,
                evidence,
            } => {
                write!(f, "{policy}: {}", reason.describe())?;
                for e in evidence {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
            Failure::VersionMismatch { resolution } => {
                write!(f, "the host's artifacts match under no single policy version:")?;
                for a in &resolution.attempts {
                    write!(f, " {} lacks {};", a.version, a.missing().join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CheckOutcome {
    /// Passed.
    Passed {
        /// What was proven.
        detail: String,
    },
    /// Failed; the failure is in [`Verdict::failures`].
    Failed {
        /// One line.
        detail: String,
    },
    /// Passed, but worth the admin's attention (e.g. an audit-mode CI policy).
    Flagged {
        /// Why.
        detail: String,
    },
    /// Not evaluated.
    Skipped {
        /// Why.
        detail: String,
    },
}

/// One step of the evaluation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// Its name: `ek_identity`, `ak`, `quote:sha256`, `log`, `event_digests`, `replay`, `baseline`,
    /// `ci_policy`, `Hgs_*`, `version`.
    pub name: String,
    /// Outcome.
    #[serde(flatten)]
    pub outcome: CheckOutcome,
}

/// The result of [`crate::evaluate()`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    /// Overall status.
    pub status: AttestationStatus,
    /// Sub-statuses of an insecure configuration (empty when passed).
    pub sub_statuses: Vec<SubStatus>,
    /// The policy version the host passed under.
    pub policy_version: Option<PolicyVersion>,
    /// The registered host name.
    pub host: Option<String>,
    /// The baseline matched (in the passing version, else the first matching one).
    pub baseline: Option<String>,
    /// The CI policy matched.
    pub ci_policy: Option<String>,
    /// The matched CI policy is in audit mode: the host passes, flagged.
    pub audit_mode: bool,
    /// Every reason the host fails.
    pub failures: Vec<Failure>,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The `Hgs_*` policies, each with its claims.
    pub policies: Vec<RuleOutcome>,
    /// Version resolution.
    pub resolution: Option<Resolution>,
}

impl Verdict {
    /// Whether the host passed.
    pub fn passed(&self) -> bool {
        self.status == AttestationStatus::Passed
    }
}

impl core::fmt::Display for Verdict {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.status)?;
        if let Some(v) = self.policy_version {
            write!(f, " (policy {v})")?;
        }
        if !self.sub_statuses.is_empty() {
            write!(f, " {:?}", self.sub_statuses)?;
        }
        writeln!(f)?;
        for (label, v) in [
            ("host", &self.host),
            ("baseline", &self.baseline),
            ("CI policy", &self.ci_policy),
        ] {
            if let Some(v) = v {
                writeln!(f, "  {label}: {v}")?;
            }
        }
        if self.audit_mode {
            writeln!(f, "  flagged: the CI policy is in audit mode")?;
        }
        for c in &self.checks {
            let (mark, d) = match &c.outcome {
                CheckOutcome::Passed { detail } => ("ok  ", detail),
                CheckOutcome::Failed { detail } => ("FAIL", detail),
                CheckOutcome::Flagged { detail } => ("flag", detail),
                CheckOutcome::Skipped { detail } => ("skip", detail),
            };
            writeln!(f, "  [{mark}] {}: {d}", c.name)?;
        }
        for fail in &self.failures {
            writeln!(f, "  reason: {fail}")?;
        }
        Ok(())
    }
}
