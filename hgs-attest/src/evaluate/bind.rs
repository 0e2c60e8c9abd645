//! Stage 1, **bind**: the evidence to the challenge — format, challenge record, the number of
//! quotes, the AK, a verified quote per challenged bank, and the log bound to those quotes.

use hgs_tcglog::{BankPolicy, BindError, EventLog, QuotedLog};
use hgs_tpm::hex::encode as hex;
use hgs_tpm::{
    verify_quote, Freshness, HashAlg, Public, QuoteError, QuoteRequirements, VerifiedQuote,
};

use super::run::Run;
use super::{Attestor, Bound, FreshnessPolicy, Host, MAX_CLOCK_SKEW, MAX_QUOTES_PER_BANK};
use crate::challenge::{Challenge, MIN_NONCE_LEN};
use crate::credential::check_ak_attributes;
use crate::evidence::{Evidence, EVIDENCE_FORMAT};
use crate::verdict::{CheckId, Failure};

impl Attestor {
    /// Stage 1: binds the evidence to the challenge. `None` when anything fails (every failure
    /// is in `run`).
    pub(super) fn bind<'e>(&self, run: &mut Run, host: &Host<'e>) -> Option<Bound<'e>> {
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

fn fmt_format(log: &EventLog<'_>) -> &'static str {
    match log.format() {
        hgs_tcglog::LogFormat::CryptoAgile => "crypto-agile log,",
        _ => "legacy SHA-1 log,",
    }
}

fn bank_names(log: &EventLog<'_>) -> Vec<&'static str> {
    log.banks().iter().map(|b| b.name()).collect()
}
