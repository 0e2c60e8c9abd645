//! `evaluate(host, baselines, ci_policies) -> Verdict`, in three named stages.
//!
//! 1. **Bind**: the evidence to the challenge. Cheap checks first — evidence
//!    format, the challenge record (banks, PCRs, nonce length, age), the number of quotes, the AK
//!    — then, per challenged bank, a quote with the nonce over the challenged PCRs, signed by the
//!    AK (`hgs_tpm::verify_quote`), and finally the log bound to those quotes
//!    ([`hgs_tcglog::QuotedLog::bind`]: replay == every quoted digest, bank policy). The result,
//!    a `QuotedLog`, is the only input of stage 2.
//! 2. **Judge**: the quoted log against the registered baselines and CI
//!    policies and the `Hgs_*` rules. Every check first requires its PCRs to be quoted
//!    ([`CheckId::pcrs`]); one whose PCRs were not is a failure naming them, never a pass.
//! 3. **Assemble**: status, sub-statuses, the checks in order.
//!
//! Identity (a registered host has the challenged EK) is checked whatever stage 1 found, so a
//! verdict always says whether the host is known.

use hgs_policy::{evaluate_rules, RuleOutcome, RuleResult};
use hgs_policy::{resolve, ArtifactMatches, Resolution};
use hgs_policy::{BaselineMatcher, EventByEvent};
use hgs_policy::{CiPolicyRegistration, PolicySettings, PolicyVersion, TpmBaseline, TpmHost};
use hgs_tcglog::{BankPolicy, BindError, BootClaims, EventLog, LogAnomaly, QuotedLog};
use hgs_tpm::hex::encode as hex;
use hgs_tpm::{
    verify_quote, DefaultVerifier, Freshness, HashAlg, PcrSet, Public, QuoteError,
    QuoteRequirements, SignatureVerifier, VerifiedQuote,
};

use crate::challenge::{Challenge, MIN_NONCE_LEN};
use crate::credential::check_ak_attributes;
use crate::evidence::{Evidence, EVIDENCE_FORMAT};
use crate::verdict::{
    AttestationStatus, Check, CheckId, CheckOutcome, Failure, MeasuredPolicy, Verdict,
};

/// Most event-digest mismatches (and most log anomalies) listed in one verdict (a hostile log
/// could have millions; one is enough to fail).
pub const MAX_REPORTED_DIGEST_MISMATCHES: usize = 32;

/// Most quotes accepted per challenged bank: one is what an agent sends; a second allows a
/// retry in the same answer. Each costs a signature check, so the number is bounded.
pub const MAX_QUOTES_PER_BANK: usize = 2;

/// Default largest challenge age: 5 minutes, enough for an agent's round trip and retries.
pub const DEFAULT_MAX_CHALLENGE_AGE: u64 = 300;

/// Clock skew tolerated between the replica that issued a challenge and the one evaluating it.
pub const MAX_CLOCK_SKEW: u64 = 60;

/// What is being attested: the verifier's challenge, the host's answer, the registered hosts,
/// and the verifier's current time.
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    /// The challenge the verifier issued (and kept).
    pub challenge: &'a Challenge,
    /// The host's evidence.
    pub evidence: &'a Evidence,
    /// Registered TPM hosts (any version).
    pub registered: &'a [TpmHost],
    /// Now (UNIX seconds): a challenge older than the attestor's maximum age is refused.
    pub now: u64,
}

/// Whether evaluation requires the quotes to carry the challenge's nonce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FreshnessPolicy {
    /// The quote's nonce must be the challenge's, the challenge young enough (default).
    #[default]
    Required,
    /// Not checked: for evidence quoted without a verifier's nonce (published samples). The
    /// verdict says so (`freshness` is flagged, [`Verdict::freshness_checked`] is false).
    NotChecked,
}

/// Evaluation configuration: policy states, bank and freshness policies, the signature backend
/// and the baseline matcher.
pub struct Attestor {
    settings: PolicySettings,
    verifier: Box<dyn SignatureVerifier + Send + Sync>,
    matcher: Box<dyn BaselineMatcher + Send + Sync>,
    bank_policy: BankPolicy,
    freshness: FreshnessPolicy,
    max_challenge_age: u64,
}

impl core::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Attestor")
            .field("settings", &self.settings)
            .field("bank_policy", &self.bank_policy)
            .field("freshness", &self.freshness)
            .field("max_challenge_age", &self.max_challenge_age)
            .finish_non_exhaustive()
    }
}

impl Default for Attestor {
    fn default() -> Self {
        Attestor {
            settings: PolicySettings::default(),
            verifier: Box::new(DefaultVerifier),
            matcher: Box::new(EventByEvent),
            bank_policy: BankPolicy::Sha256OrStronger,
            freshness: FreshnessPolicy::Required,
            max_challenge_age: DEFAULT_MAX_CHALLENGE_AGE,
        }
    }
}

/// Stage 1's result: the log bound to the quotes, and what the verdict reports of it.
struct Bound<'a> {
    log: QuotedLog<'a>,
}

/// Stage 2's result.
#[derive(Default)]
struct Judged {
    host: Option<String>,
    baseline: Option<String>,
    ci_policy: Option<String>,
    audit_mode: bool,
    policies: Vec<RuleOutcome>,
    resolution: Option<Resolution>,
}

impl Attestor {
    /// Microsoft's default policy states, SHA-256-or-stronger banks, freshness required, a
    /// 5-minute challenge age, [`DefaultVerifier`] signatures (ring where it implements the
    /// algorithm, with feature `ring`, on by default), the event-by-event matcher.
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

    /// Uses another bank policy ([`BankPolicy::AllowSha1`] for SHA-1-only TPMs).
    pub fn with_bank_policy(mut self, policy: BankPolicy) -> Self {
        self.bank_policy = policy;
        self
    }

    /// Uses another freshness policy. [`FreshnessPolicy::NotChecked`] is never a default.
    pub fn with_freshness(mut self, freshness: FreshnessPolicy) -> Self {
        self.freshness = freshness;
        self
    }

    /// Refuses challenges older than `seconds`.
    pub fn with_max_challenge_age(mut self, seconds: u64) -> Self {
        self.max_challenge_age = seconds;
        self
    }

    /// The policy settings in use.
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// The bank policy in use.
    pub fn bank_policy(&self) -> BankPolicy {
        self.bank_policy
    }

    /// The PCRs a challenge must cover for every check in force (the active `Hgs_*` policies and
    /// the registered baselines' profiles): what [`crate::ChallengeRequest::required_pcrs`] takes.
    pub fn required_pcrs(&self, baselines: &[TpmBaseline]) -> PcrSet {
        hgs_policy::required_pcrs(&self.settings, baselines)
    }

    /// Evaluates a host against the registered baselines and CI policies.
    pub fn evaluate(
        &self,
        host: &Host<'_>,
        baselines: &[TpmBaseline],
        ci_policies: &[CiPolicyRegistration],
    ) -> Verdict {
        let mut run = Run::default();
        let bound = self.bind(&mut run, host);
        let hosts = identify(&mut run, host);
        let judged = match &bound {
            Some(b) => self.judge(&mut run, &b.log, &hosts, baselines, ci_policies),
            None => {
                for id in [CheckId::Baseline, CheckId::CiPolicy, CheckId::Version] {
                    run.skip(
                        id,
                        "the log is not bound to the TPM by verified quotes".into(),
                    );
                }
                Judged {
                    host: hosts.first().map(|h| h.name.to_string()),
                    ..Judged::default()
                }
            }
        };
        run.assemble(judged, bound.as_ref().map(|b| &b.log))
    }

    /// Stage 1: binds the evidence to the challenge. `None` when anything fails (every failure
    /// is in `run`).
    fn bind<'e>(&self, run: &mut Run, host: &Host<'e>) -> Option<Bound<'e>> {
        let (c, e) = (host.challenge, host.evidence);
        if e.format != EVIDENCE_FORMAT {
            run.fail(
                CheckId::Evidence,
                Failure::UnknownEvidenceFormat {
                    format: e.format.clone(),
                },
            );
            return None;
        }
        if !self.check_challenge(run, c, host.now) {
            return None;
        }
        let max = c.banks.len().saturating_mul(MAX_QUOTES_PER_BANK);
        if e.quotes.len() > max {
            run.fail(
                CheckId::Evidence,
                Failure::TooManyQuotes {
                    count: e.quotes.len(),
                    max,
                },
            );
            return None;
        }
        if !check_ak(run, c, e) {
            return None;
        }
        let log = match EventLog::parse(&e.event_log) {
            Ok(log) => log,
            Err(err) => {
                run.fail(CheckId::Log, Failure::LogMalformed { error: err });
                return None;
            }
        };
        run.pass(
            CheckId::Log,
            format!("{} banks {:?}", fmt_format(&log), bank_names(&log)),
        );
        let quotes = self.check_quotes(run, c, e)?;
        let verified: Vec<VerifiedQuote> = quotes.iter().map(|(_, q)| q.clone()).collect();
        match QuotedLog::bind(log, &verified, self.bank_policy) {
            Ok(q) => {
                run.pass(
                    CheckId::Binding,
                    format!(
                        "the log replays to every quoted digest; content read in {} from PCRs {}",
                        q.bank().name(),
                        q.pcrs()
                    ),
                );
                Some(Bound { log: q })
            }
            Err(err) => {
                let failure = bind_failure(err, e, &quotes, &log);
                run.fail(CheckId::Binding, failure);
                None
            }
        }
    }

    /// The challenge record: banks, PCRs, nonce, age. Records loaded from a database are
    /// input too.
    fn check_challenge(&self, run: &mut Run, c: &Challenge, now: u64) -> bool {
        let mut fail = |f: Failure| run.fail(CheckId::Challenge, f);
        if c.banks.is_empty() {
            fail(Failure::ChallengeHasNoBank);
            return false;
        }
        if c.pcrs.is_empty() {
            fail(Failure::ChallengeHasNoPcr);
            return false;
        }
        if self.bank_policy == BankPolicy::Sha256OrStronger {
            if let Some(b) = c.banks.iter().find(|b| **b == HashAlg::Sha1) {
                fail(Failure::BankNotAllowed { bank: *b });
                return false;
            }
        }
        if self.freshness == FreshnessPolicy::Required {
            if c.nonce.len() < MIN_NONCE_LEN {
                fail(Failure::NonceTooShort {
                    len: c.nonce.len(),
                    min: MIN_NONCE_LEN,
                });
                return false;
            }
            if c.issued_at > now.saturating_add(MAX_CLOCK_SKEW) {
                fail(Failure::ChallengeFromTheFuture {
                    issued_at: c.issued_at,
                    now,
                });
                return false;
            }
            if now.saturating_sub(c.issued_at) > self.max_challenge_age {
                fail(Failure::ChallengeExpired {
                    issued_at: c.issued_at,
                    now,
                    max_age: self.max_challenge_age,
                });
                return false;
            }
        }
        run.pass(
            CheckId::Challenge,
            format!(
                "banks {}, PCRs {}",
                c.banks
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join("/"),
                c.pcrs
            ),
        );
        match self.freshness {
            FreshnessPolicy::Required => run.pass(
                CheckId::Freshness,
                format!(
                    "issued {}s ago (at most {}s), {}-byte nonce",
                    now.saturating_sub(c.issued_at),
                    self.max_challenge_age,
                    c.nonce.len()
                ),
            ),
            FreshnessPolicy::NotChecked => run.flag(
                CheckId::Freshness,
                "not checked (explicit no-freshness evaluation): the evidence may be old or replayed"
                    .into(),
            ),
        }
        true
    }

    /// For every challenged bank, a quote that verifies; `None` when one bank has none. Returns
    /// (evidence quote index, verified quote) per bank.
    fn check_quotes(
        &self,
        run: &mut Run,
        c: &Challenge,
        e: &Evidence,
    ) -> Option<Vec<(usize, VerifiedQuote)>> {
        let freshness = match self.freshness {
            FreshnessPolicy::Required => Freshness::Nonce(&c.nonce),
            FreshnessPolicy::NotChecked => Freshness::NotChecked,
        };
        let mut out = Vec::with_capacity(c.banks.len());
        let mut all_ok = true;
        for bank in &c.banks {
            let id = CheckId::Quote(*bank);
            let req = QuoteRequirements {
                freshness,
                bank: *bank,
                required_pcrs: c.pcrs,
            };
            let mut best: Option<QuoteError> = None;
            let mut ok = None;
            for (i, q) in e.quotes.iter().enumerate() {
                match verify_quote(
                    &e.ak_public,
                    &q.attest,
                    &q.signature,
                    &req,
                    self.verifier.as_ref(),
                ) {
                    Ok(v) => {
                        ok = Some((i, v));
                        break;
                    }
                    // A quote of another bank says nothing about this one.
                    Err(QuoteError::WrongBank { .. }) if best.is_some() => {}
                    Err(err) => {
                        if best
                            .as_ref()
                            .is_none_or(|b| matches!(b, QuoteError::WrongBank { .. }))
                        {
                            best = Some(err);
                        }
                    }
                }
            }
            match (ok, best) {
                (Some((i, v)), _) => {
                    run.pass(
                        id,
                        format!(
                            "signed by the AK, {}, PCRs {} selected, digest {}",
                            if v.nonce_checked() {
                                "nonce = challenge"
                            } else {
                                "nonce NOT checked"
                            },
                            c.pcrs,
                            hex(v.pcr_digest())
                        ),
                    );
                    out.push((i, v));
                }
                (None, None) => {
                    all_ok = false;
                    run.fail(id, Failure::QuoteMissing { bank: *bank });
                }
                (None, Some(error)) => {
                    all_ok = false;
                    run.fail(id, Failure::Quote { bank: *bank, error });
                }
            }
        }
        all_ok.then_some(out)
    }

    /// Stage 2: judges the quoted log.
    fn judge(
        &self,
        run: &mut Run,
        log: &QuotedLog<'_>,
        hosts: &[&TpmHost],
        baselines: &[TpmBaseline],
        ci_policies: &[CiPolicyRegistration],
    ) -> Judged {
        let quoted = log.pcrs();
        check_event_digests(run, log);
        let claims = BootClaims::from_quoted(log);
        check_anomalies(run, &claims);

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
        }
    }
}

/// The PCRs of `check` missing from `quoted`, if any.
fn not_quoted(check: CheckId, quoted: PcrSet) -> Option<PcrSet> {
    let missing = check.pcrs().minus(quoted);
    (!missing.is_empty()).then_some(missing)
}

/// Identity: the registered hosts with the challenged EK.
fn identify<'h>(run: &mut Run, host: &Host<'h>) -> Vec<&'h TpmHost> {
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

fn check_ak(run: &mut Run, c: &Challenge, e: &Evidence) -> bool {
    let actual = Public::parse(&e.ak_public).and_then(|p| p.name());
    match actual {
        Ok(name) if name == c.ak_name => {}
        Ok(name) => {
            run.fail(
                CheckId::Ak,
                Failure::AkMismatch {
                    expected: c.ak_name.clone(),
                    actual: name,
                },
            );
            return false;
        }
        Err(err) => {
            run.fail(
                CheckId::Ak,
                Failure::AkUnsuitable {
                    error: hgs_tpm::CredentialError::MalformedAk(err),
                },
            );
            return false;
        }
    }
    if let Err(error) = check_ak_attributes(&e.ak_public) {
        run.fail(CheckId::Ak, Failure::AkUnsuitable { error });
        return false;
    }
    run.pass(
        CheckId::Ak,
        format!(
            "{} is the challenged AK, restricted and fixedTPM",
            hex(&c.ak_name)
        ),
    );
    true
}

/// The failure for a log that does not bind to its quotes.
fn bind_failure(
    err: BindError,
    e: &Evidence,
    quotes: &[(usize, VerifiedQuote)],
    log: &EventLog<'_>,
) -> Failure {
    match err {
        BindError::DigestMismatch {
            quote,
            banks,
            quoted,
            replayed,
        } => {
            let bank = banks.first().copied();
            let diag = quotes
                .get(quote)
                .and_then(|(i, q)| diagnose_replay(e, *i, q, log));
            Failure::ReplayMismatch {
                bank,
                pcr: diag.as_ref().map(|d| d.0),
                replayed: diag.as_ref().map(|d| d.1.clone()),
                reported: diag.as_ref().map(|d| d.2.clone()),
                quoted_digest: quoted,
                replayed_digest: replayed,
            }
        }
        BindError::BankNotInLog { bank, .. } => Failure::QuotedBankNotInLog { bank },
        BindError::UnknownBank { bank, .. } => Failure::QuotedBankUnknown { alg: bank },
        BindError::WeakBank { strongest } => Failure::BankNotAllowed { bank: strongest },
        BindError::Downgrade { quoted, declared } => Failure::BankDowngrade { quoted, declared },
        BindError::Log(error) => Failure::LogMalformed { error },
        _ => Failure::LogNotBound,
    }
}

/// When the host's reported PCR values hash to the quoted digest (so they are what the TPM
/// signed), the first PCR whose replay differs: (pcr, replayed hex, reported hex). Diagnostics
/// only: the refusal does not depend on it.
fn diagnose_replay(
    e: &Evidence,
    quote_index: usize,
    quote: &VerifiedQuote,
    log: &EventLog<'_>,
) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let _ = e.quotes.get(quote_index)?;
    let replayed = hgs_tcglog::replay(log).ok()?;
    let mut reported: Vec<(u16, u32, Vec<u8>)> = Vec::new();
    for &(bank, pcrs) in quote.selection() {
        let values = e.pcr_values.get(&HashAlg::from_tpm_alg_id(bank)?)?;
        for pcr in pcrs.iter() {
            reported.push((bank, pcr, values.get(&pcr)?.clone()));
        }
    }
    let parts: Vec<&[u8]> = reported.iter().map(|(_, _, v)| v.as_slice()).collect();
    if quote.digest_alg().hash_parts(&parts) != quote.pcr_digest() {
        return None;
    }
    reported.iter().find_map(|(bank, pcr, value)| {
        let alg = hgs_tcglog::HashAlg::from_tpm_alg_id(*bank)?;
        let r = replayed.get(alg, *pcr)?;
        (r != value.as_slice()).then(|| (*pcr, r.to_vec(), value.clone()))
    })
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
    freshness_unchecked: bool,
}

impl Run {
    fn pass(&mut self, name: CheckId, detail: String) {
        self.checks.push(Check {
            name,
            outcome: CheckOutcome::Passed { detail },
        });
    }

    fn flag(&mut self, name: CheckId, detail: String) {
        if name == CheckId::Freshness {
            self.freshness_unchecked = true;
        }
        self.checks.push(Check {
            name,
            outcome: CheckOutcome::Flagged { detail },
        });
    }

    fn skip(&mut self, name: CheckId, detail: String) {
        self.checks.push(Check {
            name,
            outcome: CheckOutcome::Skipped { detail },
        });
    }

    fn fail(&mut self, name: CheckId, failure: Failure) {
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
    fn assemble(self, judged: Judged, log: Option<&QuotedLog<'_>>) -> Verdict {
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
        }
    }
}

/// [`Attestor::evaluate`] with the defaults of [`Attestor::new`].
pub fn evaluate(
    host: &Host<'_>,
    baselines: &[TpmBaseline],
    ci_policies: &[CiPolicyRegistration],
) -> Verdict {
    Attestor::default().evaluate(host, baselines, ci_policies)
}
