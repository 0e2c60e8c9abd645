//! Stage 2, **judge**: the quoted log against the registered baselines and CI policies and the
//! `Hgs_*` rules, and the host's identity. Every check first requires its PCRs quoted
//! ([`CheckId::pcrs`]).

use hgs_policy::{evaluate_rules, RuleOutcome, RuleResult};
use hgs_policy::{resolve, ArtifactMatches, Resolution};
use hgs_policy::{CiPolicyRegistration, PolicyVersion, TpmBaseline, TpmHost};
use hgs_tcglog::{BootClaims, LogAnomaly, QuotedLog};
use hgs_tpm::PcrSet;

use super::run::Run;
use super::{Attestor, Host, MAX_REPORTED_DIGEST_MISMATCHES};
use crate::verdict::{BoundKeySource, CheckId, Failure, MeasuredPolicy};
use hgs_keys::BoundKey;

/// Stage 2's result.
#[derive(Default)]
pub(super) struct Judged {
    pub(super) host: Option<String>,
    pub(super) baseline: Option<String>,
    pub(super) ci_policy: Option<String>,
    pub(super) audit_mode: bool,
    pub(super) policies: Vec<RuleOutcome>,
    pub(super) resolution: Option<Resolution>,
    pub(super) bound_key: Option<(BoundKey, BoundKeySource)>,
}

impl Attestor {
    /// Stage 2: judges the quoted log.
    pub(super) fn judge(
        &self,
        run: &mut Run,
        host: &Host<'_>,
        log: &QuotedLog<'_>,
        hosts: &[&TpmHost],
        baselines: &[TpmBaseline],
        ci_policies: &[CiPolicyRegistration],
    ) -> Judged {
        let quoted = log.pcrs();
        check_event_digests(run, log);
        let claims = BootClaims::from_quoted(log);
        check_anomalies(run, &claims);
        let bound_key = self.check_bound_key(run, host, &claims);

        let mut matches = ArtifactMatches {
            hosts: hosts
                .iter()
                .map(|h| (h.policy_version, h.name.to_string()))
                .collect(),
            ..Default::default()
        };

        // Baselines (Hgs_SecureBootSettings).
        if let Some(missing) = not_quoted(CheckId::Baseline, quoted) {
            run.fail(
                CheckId::Baseline,
                Failure::PcrsNotQuoted {
                    check: CheckId::Baseline,
                    missing,
                },
            );
        } else {
            let mut mismatches = Vec::new();
            for b in baselines {
                match self.matcher.check(b, log) {
                    Ok(()) => matches
                        .baselines
                        .push((b.policy_version, b.name.to_string())),
                    Err(m) => mismatches.push(*m),
                }
            }
            if matches.baselines.is_empty() {
                run.fail(CheckId::Baseline, Failure::NoBaselineMatch { mismatches });
            } else {
                run.pass(
                    CheckId::Baseline,
                    format!("matches {}", names(&matches.baselines)),
                );
            }
        }

        // CI policies (Hgs_CiPolicy): every measured policy registered.
        let ci_attested = match not_quoted(CheckId::CiPolicy, quoted) {
            Some(missing) => {
                run.fail(
                    CheckId::CiPolicy,
                    Failure::PcrsNotQuoted {
                        check: CheckId::CiPolicy,
                        missing,
                    },
                );
                false
            }
            None => true,
        };
        let mut ci_registrations: Vec<&CiPolicyRegistration> = Vec::new();
        if ci_attested {
            let unregistered: Vec<MeasuredPolicy> = claims
                .si_policies
                .iter()
                .filter(|m| !ci_policies.iter().any(|p| p.matches(m)))
                .map(|p| MeasuredPolicy {
                    event_index: p.event_index,
                    name: p.name.clone(),
                    hash_alg: p.hash_alg,
                    digest: p.digest.clone(),
                })
                .collect();
            for v in [PolicyVersion::V2, PolicyVersion::V1] {
                let per_measured: Option<Vec<&CiPolicyRegistration>> = claims
                    .si_policies
                    .iter()
                    .map(|m| {
                        ci_policies
                            .iter()
                            .find(|p| p.policy_version == v && p.matches(m))
                    })
                    .collect();
                if let Some(regs) = per_measured.filter(|r| !r.is_empty()) {
                    let names: Vec<&str> = regs.iter().map(|r| r.name.as_str()).collect();
                    matches.ci_policies.push((v, names.join("+")));
                    if ci_registrations.is_empty() {
                        ci_registrations = regs;
                    }
                }
            }
            // A CI policy event whose data its digest does not cover is no measurement (it is
            // not in `si_policies`), but it is the reason, not "none was measured"; and while
            // one is there, which policies the host loaded is unknown, so none matches.
            let uncovered: Vec<Failure> = claims
                .anomalies
                .iter()
                .filter_map(|a| match a {
                    LogAnomaly::UncoveredCiPolicy { event_index, pcr } => {
                        Some(Failure::CiPolicyUncovered {
                            event_index: *event_index,
                            pcr: *pcr,
                            bank: log.bank(),
                        })
                    }
                    _ => None,
                })
                .collect();
            if claims.si_policies.is_empty() && uncovered.is_empty() {
                run.fail(CheckId::CiPolicy, Failure::NoCiPolicyMeasured);
            }
            if !uncovered.is_empty() {
                for f in uncovered {
                    run.fail(CheckId::CiPolicy, f);
                }
                matches.ci_policies.clear();
            }
            if !unregistered.is_empty() {
                run.fail(
                    CheckId::CiPolicy,
                    Failure::CiPolicyNotRegistered {
                        measured: unregistered,
                    },
                );
                matches.ci_policies.clear();
            }
        }
        let mut audit_mode = false;
        if !matches.ci_policies.is_empty() {
            if ci_registrations.iter().any(|p| p.audit_mode == Some(true)) {
                audit_mode = true;
                run.flag(
                    CheckId::CiPolicy,
                    format!(
                        "matches {} (audit mode: violations are logged, not blocked)",
                        names(&matches.ci_policies)
                    ),
                );
            } else {
                run.pass(
                    CheckId::CiPolicy,
                    format!(
                        "every measured policy is registered: {}",
                        names(&matches.ci_policies)
                    ),
                );
            }
        }

        // Hgs_* policies, each requiring its PCRs quoted.
        let policies = evaluate_rules(&claims, &self.settings, quoted);
        for o in &policies {
            let id = CheckId::Policy(o.policy);
            match &o.result {
                RuleResult::Passed => run.pass(id, summary(&o.evidence)),
                RuleResult::Failed { failure } => run.fail(
                    id,
                    Failure::Policy {
                        policy: o.policy,
                        reason: failure.clone(),
                        evidence: o.evidence.clone(),
                    },
                ),
                RuleResult::NotAttested { missing } => run.fail(
                    id,
                    Failure::PcrsNotQuoted {
                        check: id,
                        missing: *missing,
                    },
                ),
                RuleResult::Disabled => run.skip(id, "disabled".into()),
                RuleResult::NotApplicable { why } => run.skip(id, why.clone()),
            }
        }

        // Versions.
        let res = resolve(&matches);
        let passed = res.passed().cloned();
        let chosen_ci = passed
            .as_ref()
            .and_then(|a| a.ci_policy.clone())
            .or_else(|| matches.ci_policies.first().map(|(_, n)| n.clone()));
        if res.is_version_mismatch(&matches) {
            run.fail(
                CheckId::Version,
                Failure::VersionMismatch {
                    resolution: res.clone(),
                },
            );
        } else if let Some(v) = res.version {
            run.pass(
                CheckId::Version,
                format!("all artifacts registered under {v}"),
            );
        } else {
            run.skip(CheckId::Version, "no version has every artifact".into());
        }
        Judged {
            host: passed
                .as_ref()
                .and_then(|a| a.host.clone())
                .or_else(|| hosts.first().map(|h| h.name.to_string())),
            baseline: passed
                .as_ref()
                .and_then(|a| a.baseline.clone())
                .or_else(|| matches.baselines.first().map(|(_, n)| n.clone())),
            ci_policy: chosen_ci,
            audit_mode,
            policies,
            resolution: Some(res),
            bound_key,
        }
    }
}

/// The PCRs of `check` missing from `quoted`, if any.
fn not_quoted(check: CheckId, quoted: PcrSet) -> Option<PcrSet> {
    let missing = check.pcrs().minus(quoted);
    (!missing.is_empty()).then_some(missing)
}

/// Identity: the registered hosts with the challenged EK.
pub(super) fn identify<'h>(run: &mut Run, host: &Host<'h>) -> Vec<&'h TpmHost> {
    let c = host.challenge;
    let hosts: Vec<&TpmHost> = host
        .registered
        .iter()
        .filter(|h| Some(h.ek_fingerprint) == c.ek_fingerprint)
        .collect();
    if hosts.is_empty() {
        run.fail(
            CheckId::EkIdentity,
            Failure::HostNotRegistered {
                ek_fingerprint: c.ek_fingerprint,
            },
        );
    } else {
        run.pass(
            CheckId::EkIdentity,
            hosts
                .iter()
                .map(|h| format!("{} ({}, {})", h.name, h.policy_version, h.ek_key_type))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    hosts
}

fn check_event_digests(run: &mut Run, log: &QuotedLog<'_>) {
    let bad = log.digest_mismatches();
    if bad.is_empty() {
        run.pass(
            CheckId::EventDigests,
            format!(
                "every data-covering event on PCRs {} hashes to its {} digest",
                log.pcrs(),
                log.bank().name()
            ),
        );
    }
    for m in bad.iter().take(MAX_REPORTED_DIGEST_MISMATCHES) {
        let failure = if m.logged.is_empty() {
            Failure::EventNotInQuotedBank {
                event_index: m.event_index,
                pcr: m.pcr,
                bank: m.alg,
            }
        } else {
            Failure::EventDigestMismatch {
                event_index: m.event_index,
                pcr: m.pcr,
                bank: m.alg,
                logged: m.logged.clone(),
                computed: m.computed.clone(),
            }
        };
        run.fail(CheckId::EventDigests, failure);
    }
}

fn check_anomalies(run: &mut Run, claims: &BootClaims) {
    if claims.anomalies.is_empty() {
        run.pass(
            CheckId::LogAnomalies,
            "every event on the PCRs claims read is of an expected type, in order, and covered"
                .into(),
        );
    }
    for a in claims.anomalies.iter().take(MAX_REPORTED_DIGEST_MISMATCHES) {
        run.fail(
            CheckId::LogAnomalies,
            Failure::LogAnomaly { anomaly: a.clone() },
        );
    }
}

fn names(list: &[(PolicyVersion, String)]) -> String {
    list.iter()
        .map(|(v, n)| format!("{n} ({v})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(evidence: &[hgs_policy::ClaimEvidence]) -> String {
    evidence
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
