//! Stage 3, **assemble**: the checks as they ran, and the verdict made of them.

use hgs_tcglog::QuotedLog;
use hgs_tpm::PcrSet;

use super::judge::Judged;
use crate::verdict::{AttestationStatus, Check, CheckId, CheckOutcome, Failure, Verdict};

#[derive(Default)]
pub(super) struct Run {
    checks: Vec<Check>,
    failures: Vec<Failure>,
    freshness_unchecked: bool,
}

impl Run {
    pub(super) fn pass(&mut self, name: CheckId, detail: String) {
        self.checks.push(Check {
            name,
            outcome: CheckOutcome::Passed { detail },
        });
    }

    pub(super) fn flag(&mut self, name: CheckId, detail: String) {
        if name == CheckId::Freshness {
            self.freshness_unchecked = true;
        }
        self.checks.push(Check {
            name,
            outcome: CheckOutcome::Flagged { detail },
        });
    }

    pub(super) fn skip(&mut self, name: CheckId, detail: String) {
        self.checks.push(Check {
            name,
            outcome: CheckOutcome::Skipped { detail },
        });
    }

    pub(super) fn fail(&mut self, name: CheckId, failure: Failure) {
        // The check's line already says which policy it is: drop the failure's own prefix.
        let text = failure.to_string();
        let prefix = format!("{name}: ");
        let detail = text
            .strip_prefix(&prefix)
            .map_or_else(|| text.clone(), str::to_string);
        self.checks.push(Check {
            name,
            outcome: CheckOutcome::Failed { detail },
        });
        self.failures.push(failure);
    }

    /// Stage 3: the verdict.
    pub(super) fn assemble(self, judged: Judged, log: Option<&QuotedLog<'_>>) -> Verdict {
        let status = self
            .failures
            .iter()
            .map(Failure::status)
            .min()
            .unwrap_or(AttestationStatus::Passed);
        let mut sub_statuses: Vec<_> = self
            .failures
            .iter()
            .filter_map(Failure::sub_status)
            .collect();
        sub_statuses.sort();
        sub_statuses.dedup();
        let policy_version = judged
            .resolution
            .as_ref()
            .and_then(|r| r.version)
            .filter(|_| status == AttestationStatus::Passed);
        // A key is named only for a host that passed: nothing is encrypted to a host that
        // failed, whatever its evidence bound.
        let bound_key = judged
            .bound_key
            .filter(|_| status == AttestationStatus::Passed);
        Verdict {
            status,
            sub_statuses,
            policy_version,
            host: judged.host,
            baseline: judged.baseline,
            ci_policy: judged.ci_policy,
            audit_mode: judged.audit_mode,
            freshness_checked: !self.freshness_unchecked && log.is_some_and(|l| l.nonce_checked()),
            quoted_bank: log.map(|l| l.bank()),
            quoted_pcrs: log.map_or(PcrSet::EMPTY, |l| l.pcrs()),
            failures: self.failures,
            checks: self.checks,
            policies: judged.policies,
            resolution: judged.resolution,
            bound_key_source: bound_key.as_ref().map(|(_, s)| *s),
            bound_key: bound_key.map(|(k, _)| k),
        }
    }
}
