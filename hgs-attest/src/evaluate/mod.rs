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
//!
//! One file per stage: `bind.rs` (stage 1), `judge.rs` (stage 2 and identity), `run.rs` (the
//! checks as they run, and stage 3); this file holds the configuration ([`Attestor`]) and the
//! entry points.

use hgs_policy::{BaselineMatcher, EventByEvent};
use hgs_policy::{CiPolicyRegistration, PolicySettings, TpmBaseline, TpmHost};
use hgs_tcglog::{BankPolicy, QuotedLog};
use hgs_tpm::{DefaultVerifier, PcrSet, SignatureVerifier};

use crate::challenge::Challenge;
use crate::evidence::Evidence;
use crate::verdict::{CheckId, Verdict};

mod bind;
mod bound_key;
mod judge;
mod run;

use judge::{identify, Judged};
use run::Run;

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
pub(super) struct Bound<'a> {
    pub(super) log: QuotedLog<'a>,
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
            Some(b) => self.judge(&mut run, host, &b.log, &hosts, baselines, ci_policies),
            None => {
                for id in [
                    CheckId::BoundKey,
                    CheckId::Baseline,
                    CheckId::CiPolicy,
                    CheckId::Version,
                ] {
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
}

/// [`Attestor::evaluate`] with the defaults of [`Attestor::new`].
pub fn evaluate(
    host: &Host<'_>,
    baselines: &[TpmBaseline],
    ci_policies: &[CiPolicyRegistration],
) -> Verdict {
    Attestor::default().evaluate(host, baselines, ci_policies)
}
