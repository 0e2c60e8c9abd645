//! `evaluate(host, baselines, ci_policies) -> Verdict`: every check, in the order trust is built.
//!
//! 1. AK: the evidence's AK is the one the challenge's credential was bound to, and a restricted,
//!    fixedTPM signing key.
//! 2. Quotes: for every challenged bank, a quote signed by that AK, carrying the challenge's nonce,
//!    selecting every challenged PCR, whose digest is the digest of the log's replay.
//! 3. Log: every event whose digest is defined over its data has data that hashes to it.
//! 4. Only if 1–2 hold is the log's content evidence: baselines, CI policies and the `Hgs_*`
//!    policies are evaluated from it (otherwise they are reported as skipped).
//! 5. Identity: a registered host has the challenged EK.
//! 6. Version resolution over the matching host, baselines and CI policies: v2, then v1.

use hgs_policy::baseline::{BaselineMatcher, EventByEvent};
use hgs_policy::resolve::{resolve, ArtifactMatches};
use hgs_policy::rules::{evaluate_rules, RuleResult};
use hgs_policy::{CiPolicyRegistration, PolicySettings, TpmBaseline, TpmHost};
use hgs_tcglog::{BootClaims, EventLog, PcrBanks};
use hgs_tpm::{Attest, Attested, HashAlg, Public, RustCryptoVerifier, SignatureVerifier};

use crate::challenge::Challenge;
use crate::credential::check_ak_attributes;
use crate::evidence::Evidence;
use crate::quote::{hex, verify_quote, QuoteError, QuoteRequirements};
use crate::verdict::{AttestationStatus, Check, CheckOutcome, Failure, MeasuredPolicy, Verdict};

/// Most event-digest mismatches listed in one verdict (a hostile log could have millions).
pub const MAX_REPORTED_DIGEST_MISMATCHES: usize = 32;

/// What is being attested: the verifier's challenge, the host's answer, and the registered hosts.
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    /// The challenge the verifier issued (and kept).
    pub challenge: &'a Challenge,
    /// The host's evidence.
    pub evidence: &'a Evidence,
    /// Registered TPM hosts (any version).
    pub registered: &'a [TpmHost],
}

/// Evaluation configuration: policy states, the signature backend and the baseline matcher.
pub struct Attestor {
    settings: PolicySettings,
    verifier: Box<dyn SignatureVerifier + Send + Sync>,
    matcher: Box<dyn BaselineMatcher + Send + Sync>,
}

impl core::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Attestor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Default for Attestor {
    fn default() -> Self {
        Attestor {
            settings: PolicySettings::default(),
            verifier: Box::new(RustCryptoVerifier),
            matcher: Box::new(EventByEvent),
        }
    }
}

impl Attestor {
    /// Microsoft's default policy states, pure-Rust signatures, the event-by-event matcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these `Hgs_*` states and dump keys.
    pub fn with_settings(mut self, settings: PolicySettings) -> Self {
        self.settings = settings;
        self
    }

    /// Uses another signature backend.
    pub fn with_verifier(
        mut self,
        verifier: impl SignatureVerifier + Send + Sync + 'static,
    ) -> Self {
        self.verifier = Box::new(verifier);
        self
    }

    /// Uses another baseline matcher.
    pub fn with_matcher(mut self, matcher: impl BaselineMatcher + Send + Sync + 'static) -> Self {
        self.matcher = Box::new(matcher);
        self
    }

    /// The policy settings in use.
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// Evaluates a host against the registered baselines and CI policies.
    pub fn evaluate(
        &self,
        host: &Host<'_>,
        baselines: &[TpmBaseline],
        ci_policies: &[CiPolicyRegistration],
    ) -> Verdict {
        let mut run = Run::default();
        let c = host.challenge;
        let e = host.evidence;

        // 1. The AK.
        let ak_ok = self.check_ak(&mut run, c, e);

        // 2. The log and its replay.
        let log = match EventLog::parse(&e.event_log) {
            Ok(log) => Some(log),
            Err(err) => {
                run.fail(
                    "log",
                    Failure::LogMalformed {
                        reason: err.to_string(),
                    },
                );
                None
            }
        };
        let replayed = log
            .as_ref()
            .and_then(|log| match hgs_tcglog::replay::replay(log) {
                Ok(r) => Some(r),
                Err(err) => {
                    run.fail(
                        "log",
                        Failure::LogMalformed {
                            reason: err.to_string(),
                        },
                    );
                    None
                }
            });
        if let Some(log) = &log {
            if replayed.is_some() {
                run.pass(
                    "log",
                    format!("{} banks {:?}", fmt_format(log), bank_names(log)),
                );
            }
        }

        // 3. Quotes, bound to the replay.
        let quotes_ok = ak_ok && self.check_quotes(&mut run, c, e, replayed.as_ref());

        // 4. Event digests, in the banks the quotes cover (only those are bound to the TPM).
        let quoted_banks: Vec<hgs_tcglog::HashAlg> = c
            .banks
            .iter()
            .filter_map(|b| hgs_tcglog::HashAlg::from_tpm_alg_id(b.tpm_alg_id()))
            .collect();
        let bank_checks = log
            .as_ref()
            .map(|log| check_event_digests(&mut run, log, &quoted_banks))
            .unwrap_or_default();

        // 5. Identity.
        let hosts: Vec<&TpmHost> = host
            .registered
            .iter()
            .filter(|h| h.ek_fingerprint == c.ek_fingerprint)
            .collect();
        if hosts.is_empty() {
            run.fail(
                "ek_identity",
                Failure::HostNotRegistered {
                    ek_fingerprint: c.ek_fingerprint.clone(),
                },
            );
        } else {
            run.pass(
                "ek_identity",
                hosts
                    .iter()
                    .map(|h| format!("{} ({}, {})", h.name, h.policy_version, h.ek_key_type))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }

        let mut verdict_host = hosts.first().map(|h| h.name.clone());
        let mut verdict_baseline = None;
        let mut verdict_ci = None;
        let mut audit_mode = false;
        let mut resolution = None;
        let mut policies = Vec::new();

        // 6. Content: only if the log is bound to the TPM.
        match (&log, quotes_ok && replayed.is_some()) {
            (Some(log), true) => {
                // Claims only from events whose data the quoted bank's digest covers.
                let claims = match bank_checks
                    .first()
                    .map(|check| BootClaims::from_bank_check(log, check))
                    .unwrap_or_else(|| BootClaims::from_log(log))
                {
                    Ok(c) => c,
                    Err(err) => {
                        run.fail(
                            "claims",
                            Failure::LogMalformed {
                                reason: err.to_string(),
                            },
                        );
                        BootClaims::default()
                    }
                };
                let mut matches = ArtifactMatches {
                    hosts: hosts
                        .iter()
                        .map(|h| (h.policy_version, h.name.clone()))
                        .collect(),
                    ..Default::default()
                };
                // Baselines.
                let mut mismatches = Vec::new();
                for b in baselines {
                    match self.matcher.check(b, log) {
                        Ok(()) => matches.baselines.push((b.policy_version, b.name.clone())),
                        Err(m) => mismatches.push(*m),
                    }
                }
                // CI policies.
                for p in ci_policies {
                    if claims.si_policies.iter().any(|m| p.matches(m)) {
                        matches.ci_policies.push((p.policy_version, p.name.clone()));
                    }
                }
                let res = resolve(&matches);
                let passed = res.passed().cloned();
                let chosen_baseline = passed
                    .as_ref()
                    .and_then(|a| a.baseline.clone())
                    .or_else(|| matches.baselines.first().map(|(_, n)| n.clone()));
                let chosen_ci = passed
                    .as_ref()
                    .and_then(|a| a.ci_policy.clone())
                    .or_else(|| matches.ci_policies.first().map(|(_, n)| n.clone()));
                if let Some(a) = &passed {
                    verdict_host = a.host.clone();
                }

                if matches.baselines.is_empty() {
                    run.fail("baseline", Failure::NoBaselineMatch { mismatches });
                } else {
                    run.pass("baseline", format!("matches {}", names(&matches.baselines)));
                }

                if claims.si_policies.is_empty() {
                    run.fail("ci_policy", Failure::NoCiPolicyMeasured);
                } else if matches.ci_policies.is_empty() {
                    run.fail(
                        "ci_policy",
                        Failure::CiPolicyNotRegistered {
                            measured: claims
                                .si_policies
                                .iter()
                                .map(|p| MeasuredPolicy {
                                    event_index: p.event_index,
                                    name: p.name.clone(),
                                    hash_alg: p.hash_alg,
                                    digest: hex(&p.digest),
                                })
                                .collect(),
                        },
                    );
                } else {
                    let reg = chosen_ci
                        .as_ref()
                        .and_then(|n| ci_policies.iter().find(|p| &p.name == n));
                    if reg.is_some_and(|p| p.audit_mode == Some(true)) {
                        audit_mode = true;
                        run.checks.push(Check {
                            name: "ci_policy".into(),
                            outcome: CheckOutcome::Flagged {
                                detail: format!(
                                    "matches {} (audit mode: violations are logged, not blocked)",
                                    names(&matches.ci_policies)
                                ),
                            },
                        });
                    } else {
                        run.pass(
                            "ci_policy",
                            format!("matches {}", names(&matches.ci_policies)),
                        );
                    }
                }

                // Hgs_* policies.
                policies = evaluate_rules(&claims, &self.settings);
                for o in &policies {
                    let name = o.policy.name();
                    match &o.result {
                        RuleResult::Passed => run.pass(name, summary(&o.evidence)),
                        RuleResult::Failed { failure } => run.fail(
                            name,
                            Failure::Policy {
                                policy: o.policy,
                                reason: failure.clone(),
                                evidence: o.evidence.clone(),
                            },
                        ),
                        RuleResult::Disabled => run.skip(name, "disabled".into()),
                        RuleResult::NotApplicable { why } => run.skip(name, why.clone()),
                    }
                }

                // Versions.
                if res.is_version_mismatch(&matches) {
                    run.fail(
                        "version",
                        Failure::VersionMismatch {
                            resolution: res.clone(),
                        },
                    );
                } else if let Some(v) = res.version {
                    run.pass("version", format!("all artifacts registered under {v}"));
                } else {
                    run.skip("version", "no version has every artifact".into());
                }
                verdict_baseline = chosen_baseline;
                verdict_ci = chosen_ci;
                resolution = Some(res);
            }
            _ => {
                for name in ["baseline", "ci_policy", "policies", "version"] {
                    run.skip(
                        name,
                        "the log is not bound to the TPM by a verified quote".into(),
                    );
                }
            }
        }

        let status = run
            .failures
            .iter()
            .map(Failure::status)
            .min()
            .unwrap_or(AttestationStatus::Passed);
        let mut sub_statuses: Vec<_> = run
            .failures
            .iter()
            .filter_map(Failure::sub_status)
            .collect();
        sub_statuses.sort();
        sub_statuses.dedup();
        let policy_version = resolution
            .as_ref()
            .and_then(|r| r.version)
            .filter(|_| status == AttestationStatus::Passed);
        Verdict {
            status,
            sub_statuses,
            policy_version,
            host: verdict_host,
            baseline: verdict_baseline,
            ci_policy: verdict_ci,
            audit_mode,
            failures: run.failures,
            checks: run.checks,
            policies,
            resolution,
        }
    }

    fn check_ak(&self, run: &mut Run, c: &Challenge, e: &Evidence) -> bool {
        let actual = Public::parse(&e.ak_public).and_then(|p| p.name());
        match actual {
            Ok(name) if name == c.ak_name => {}
            Ok(name) => {
                run.fail(
                    "ak",
                    Failure::AkMismatch {
                        expected: hex(&c.ak_name),
                        actual: hex(&name),
                    },
                );
                return false;
            }
            Err(err) => {
                run.fail(
                    "ak",
                    Failure::AkUnsuitable {
                        reason: err.to_string(),
                    },
                );
                return false;
            }
        }
        if let Err(err) = check_ak_attributes(&e.ak_public) {
            run.fail(
                "ak",
                Failure::AkUnsuitable {
                    reason: err.to_string(),
                },
            );
            return false;
        }
        run.pass(
            "ak",
            format!(
                "{} is the challenged AK, restricted and fixedTPM",
                hex(&c.ak_name)
            ),
        );
        true
    }

    fn check_quotes(
        &self,
        run: &mut Run,
        c: &Challenge,
        e: &Evidence,
        replayed: Option<&PcrBanks>,
    ) -> bool {
        let Some(replayed) = replayed else {
            for bank in &c.banks {
                run.skip(
                    &format!("quote:{}", bank.name()),
                    "no replayed PCR values to compare with".into(),
                );
            }
            return false;
        };
        let expected = |bank: u16, pcr: u32| {
            hgs_tcglog::HashAlg::from_tpm_alg_id(bank).and_then(|alg| replayed.get(alg, pcr))
        };
        let mut all_ok = true;
        for bank in &c.banks {
            let name = format!("quote:{}", bank.name());
            let req = QuoteRequirements {
                nonce: &c.nonce,
                bank: bank.tpm_alg_id(),
                required_pcrs: &c.pcrs,
            };
            let mut best: Option<(usize, QuoteError)> = None;
            let mut ok = None;
            for (i, q) in e.quotes.iter().enumerate() {
                match verify_quote(
                    &e.ak_public,
                    &q.attest,
                    &q.signature,
                    &req,
                    expected,
                    self.verifier.as_ref(),
                ) {
                    Ok(v) => {
                        ok = Some(v);
                        break;
                    }
                    // A quote of another bank says nothing about this one.
                    Err(QuoteError::WrongBank { .. }) if best.is_some() => {}
                    Err(err) => {
                        if best
                            .as_ref()
                            .is_none_or(|(_, b)| matches!(b, QuoteError::WrongBank { .. }))
                        {
                            best = Some((i, err));
                        }
                    }
                }
            }
            match (ok, best) {
                (Some(v), _) => run.pass(
                    &name,
                    format!(
                        "signed by the AK, nonce = challenge, PCRs {:?}, digest {} equals the replay",
                        c.pcrs,
                        hex(&v.pcr_digest)
                    ),
                ),
                (None, None) => {
                    all_ok = false;
                    run.fail(
                        &name,
                        Failure::QuoteMissing {
                            bank: bank.name().into(),
                        },
                    );
                }
                (None, Some((i, QuoteError::DigestMismatch { quoted, computed }))) => {
                    all_ok = false;
                    let diag = diagnose_replay(e, i, *bank, replayed);
                    run.fail(
                        &name,
                        Failure::ReplayMismatch {
                            bank: bank.name().into(),
                            pcr: diag.as_ref().map(|d| d.0),
                            replayed: diag.as_ref().map(|d| d.1.clone()),
                            reported: diag.as_ref().map(|d| d.2.clone()),
                            quoted_digest: quoted,
                            replayed_digest: computed,
                        },
                    );
                }
                (None, Some((_, err))) => {
                    all_ok = false;
                    run.fail(
                        &name,
                        Failure::Quote {
                            bank: bank.name().into(),
                            error: err,
                        },
                    );
                }
            }
        }
        all_ok
    }
}

/// When the host's reported PCR values hash to the quoted digest (so they are what the TPM
/// signed), the first PCR whose replay differs: (pcr, replayed hex, reported hex).
fn diagnose_replay(
    e: &Evidence,
    quote_index: usize,
    bank: HashAlg,
    replayed: &PcrBanks,
) -> Option<(u32, String, String)> {
    let q = e.quotes.get(quote_index)?;
    let attest = Attest::parse(&q.attest).ok()?;
    let Attested::Quote {
        selection,
        pcr_digest,
    } = &attest.attested
    else {
        return None;
    };
    let hash = [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ]
    .into_iter()
    .find(|h| h.digest_len() == pcr_digest.len())?;
    let mut reported: Vec<(u16, u32, Vec<u8>)> = Vec::new();
    for sel in &selection.banks {
        let name = HashAlg::from_tpm_alg_id(sel.hash)?.name();
        let values = e.pcr_values.get(name)?;
        for pcr in sel.pcrs() {
            reported.push((sel.hash, pcr, unhex(values.get(&pcr)?)?));
        }
    }
    let parts: Vec<&[u8]> = reported.iter().map(|(_, _, v)| v.as_slice()).collect();
    if hash.hash_parts(&parts) != *pcr_digest {
        return None;
    }
    let alg = hgs_tcglog::HashAlg::from_tpm_alg_id(bank.tpm_alg_id())?;
    reported
        .iter()
        .filter(|(b, _, _)| *b == bank.tpm_alg_id())
        .find_map(|(_, pcr, value)| {
            let r = replayed.get(alg, *pcr)?;
            (r != value.as_slice()).then(|| (*pcr, hex(r), hex(value)))
        })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn check_event_digests<'a>(
    run: &mut Run,
    log: &EventLog<'a>,
    banks: &[hgs_tcglog::HashAlg],
) -> Vec<hgs_tcglog::digest_check::BankCheck<'a>> {
    let mut checks = Vec::new();
    for bank in banks {
        match hgs_tcglog::digest_check::check_bank(log, *bank) {
            Ok(c) => checks.push(c),
            Err(err) => {
                run.fail(
                    "event_digests",
                    Failure::LogMalformed {
                        reason: err.to_string(),
                    },
                );
                return Vec::new();
            }
        }
    }
    let bad: Vec<_> = checks.iter().flat_map(|c| c.mismatches()).collect();
    if bad.is_empty() {
        run.pass(
            "event_digests",
            format!(
                "every data-covering event's data hashes to its {} digest",
                banks.iter().map(|b| b.name()).collect::<Vec<_>>().join("/")
            ),
        );
    }
    for m in bad.into_iter().take(MAX_REPORTED_DIGEST_MISMATCHES) {
        run.fail(
            "event_digests",
            Failure::EventDigestMismatch {
                event_index: m.event_index,
                pcr: m.pcr,
                bank: m.alg.name().into(),
                logged: hex(&m.logged),
                computed: hex(&m.computed),
            },
        );
    }
    checks
}

fn names(list: &[(hgs_policy::PolicyVersion, String)]) -> String {
    list.iter()
        .map(|(v, n)| format!("{n} ({v})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(evidence: &[hgs_policy::rules::ClaimEvidence]) -> String {
    evidence
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn fmt_format(log: &EventLog<'_>) -> &'static str {
    match log.format() {
        hgs_tcglog::LogFormat::CryptoAgile => "crypto-agile log,",
        _ => "legacy SHA-1 log,",
    }
}

fn bank_names(log: &EventLog<'_>) -> Vec<&'static str> {
    log.banks().iter().map(|b| b.name()).collect()
}

#[derive(Default)]
struct Run {
    checks: Vec<Check>,
    failures: Vec<Failure>,
}

impl Run {
    fn pass(&mut self, name: &str, detail: String) {
        self.checks.push(Check {
            name: name.into(),
            outcome: CheckOutcome::Passed { detail },
        });
    }

    fn skip(&mut self, name: &str, detail: String) {
        self.checks.push(Check {
            name: name.into(),
            outcome: CheckOutcome::Skipped { detail },
        });
    }

    fn fail(&mut self, name: &str, failure: Failure) {
        let text = failure.to_string();
        let detail = text
            .strip_prefix(name)
            .and_then(|t| t.strip_prefix(": "))
            .map_or_else(|| text.clone(), str::to_string);
        self.checks.push(Check {
            name: name.into(),
            outcome: CheckOutcome::Failed { detail },
        });
        self.failures.push(failure);
    }
}

/// [`Attestor::evaluate`] with Microsoft's default policy states.
pub fn evaluate(
    host: &Host<'_>,
    baselines: &[TpmBaseline],
    ci_policies: &[CiPolicyRegistration],
) -> Verdict {
    Attestor::default().evaluate(host, baselines, ci_policies)
}
