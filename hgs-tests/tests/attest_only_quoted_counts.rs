//! "Only what the TPM quoted counts", tried as an attacker would, through `evaluate`.
//!
//! The host here is a software AK (`hgs_tpm::SoftAk`) quoting the PCR values a TPM would
//! hold after extending `tpm_log`, while it sends `shown_log`: everything the attacker controls
//! (event types and data, events in banks nobody quoted, PCRs outside the selection) differs
//! between the two. Each hole of the "only quoted data counts" issue is a test here, and a
//! property test checks that Passed implies every claim came from a quoted PCR in the quoted bank.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_attest::policy::BaselineProfile;
use hgs_attest::policy::{
    CiPolicyRegistration, EkCertificateCheck, HgsPolicy, PolicyVersion, TpmBaseline, TpmHost,
};
use hgs_attest::{
    Attestor, BankPolicy, Challenge, CheckId, Evidence, Failure, Host, LogAnomaly, PcrSet,
    QuoteEvidence, Verdict, DEFAULT_PCRS,
};
use hgs_tcglog::builder::{uefi_variable, LogBuilder};
use hgs_tcglog::EventLog;
use hgs_testkit::synthetic::WindowsBoot;
use hgs_tpm::SoftAk;
use hgs_tpm::{HashAlg, Public};
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;
const NONCE: [u8; 32] = [0x42; 32];
const CI_DIGEST: [u8; 32] = [0x5a; 32];

fn ak() -> SoftAk {
    SoftAk::from_seed(&[3; 32]).unwrap()
}

/// The registered host's EK fingerprint (its ekpub is not read by these tests).
const FP: hgs_attest::EkFingerprint = hgs_attest::EkFingerprint::from_bytes([0x5a; 32]);

fn host() -> TpmHost {
    TpmHost {
        name: hgs_attest::policy::Name::new("h1").unwrap(),
        policy_version: PolicyVersion::V1,
        ekpub: Vec::new(),
        ek_fingerprint: FP,
        ek_key_type: "RSA-2048".into(),
        ek_certificate: None,
        ek_certificate_check: EkCertificateCheck::Missing,
        forced: true,
    }
}

fn challenge(pcrs: PcrSet, banks: &[HashAlg]) -> Challenge {
    Challenge {
        host: "h1".into(),
        ek_fingerprint: Some(FP),
        ak_name: Public::parse(ak().public()).unwrap().name().unwrap(),
        nonce: NONCE.to_vec(),
        pcrs,
        banks: banks.to_vec(),
        issued_at: NOW - 10,
    }
}

/// Evidence whose quotes (one per `banks` entry, over `pcrs`) sign what extending `tpm_log`
/// leaves in the PCRs, carrying `shown_log`.
fn evidence(tpm_log: &[u8], shown_log: &[u8], pcrs: PcrSet, banks: &[HashAlg]) -> Evidence {
    let replayed = hgs_tcglog::replay(&EventLog::parse(tpm_log).unwrap()).unwrap();
    let ak = ak();
    let quotes = banks
        .iter()
        .map(|b| {
            let alg = *b;
            let (attest, signature) = ak
                .quote(&NONCE, &[(*b, pcrs)], |_, p| {
                    // A bank the log never extended reads as its reset value (zeros).
                    Some(
                        replayed
                            .get(alg, p)
                            .map_or_else(|| vec![0; b.digest_len()], <[u8]>::to_vec),
                    )
                })
                .unwrap();
            QuoteEvidence {
                bank: Some(*b),
                pcrs: pcrs.to_vec(),
                attest,
                signature,
            }
        })
        .collect();
    Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public: ak.public().to_vec(),
        quotes,
        pcr_values: Default::default(),
        event_log: shown_log.to_vec(),
        bound_key: None,
    }
}

fn healthy() -> WindowsBoot {
    WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, CI_DIGEST.to_vec())),
        ..WindowsBoot::default()
    }
}

struct Registered {
    baselines: Vec<TpmBaseline>,
    ci: Vec<CiPolicyRegistration>,
}

fn registered() -> Registered {
    let reference = healthy().build();
    Registered {
        baselines: vec![TpmBaseline::from_reference_log(
            "class",
            PolicyVersion::V1,
            BaselineProfile::default(),
            &reference,
            false,
        )
        .unwrap()],
        ci: vec![CiPolicyRegistration::from_reference_log(
            "ci",
            PolicyVersion::V1,
            &reference,
            None,
        )
        .unwrap()],
    }
}

fn judge_with(attestor: &Attestor, c: &Challenge, e: &Evidence) -> Verdict {
    let r = registered();
    let hosts = [host()];
    let v = attestor.evaluate(
        &Host {
            challenge: c,
            evidence: e,
            registered: &hosts,
            now: NOW,
        },
        &r.baselines,
        &r.ci,
    );
    eprintln!("{v}");
    v
}

fn judge(c: &Challenge, e: &Evidence) -> Verdict {
    judge_with(&Attestor::new(), c, e)
}

fn has(v: &Verdict, f: impl Fn(&Failure) -> bool) -> bool {
    v.failures.iter().any(f)
}

fn sha256() -> [HashAlg; 1] {
    [HashAlg::Sha256]
}

#[test]
fn a_healthy_host_quoted_over_the_required_pcrs_passes() {
    let log = healthy().build();
    let v = judge(
        &challenge(DEFAULT_PCRS, &sha256()),
        &evidence(&log, &log, DEFAULT_PCRS, &sha256()),
    );
    assert!(v.passed(), "{v}");
    assert!(v.freshness_checked);
    assert_eq!(v.quoted_bank, Some(hgs_tcglog::HashAlg::Sha256));
}

#[test]
fn a_quote_without_pcr_7_and_12_to_14_is_refused_check_by_check() {
    let log = healthy().build();
    let narrow = PcrSet::of(&[0, 1, 2, 3, 4, 5, 6, 11]);
    let v = judge(
        &challenge(narrow, &sha256()),
        &evidence(&log, &log, narrow, &sha256()),
    );
    assert!(!v.passed(), "{v}");
    for check in [
        CheckId::Baseline,
        CheckId::CiPolicy,
        CheckId::Policy(HgsPolicy::SecureBootEnabled),
        CheckId::Policy(HgsPolicy::UefiDebugDisabled),
        CheckId::Policy(HgsPolicy::HypervisorEnforcedCiPolicy),
    ] {
        assert!(
            has(
                &v,
                |f| matches!(f, Failure::PcrsNotQuoted { check: c, .. } if *c == check)
            ),
            "{check}: {v}"
        );
    }
    // "PCR 13 not quoted: ci_policy not attested" style, with the missing PCRs.
    let text = v.to_string();
    assert!(
        text.contains("PCR 12,13,14 not quoted: ci_policy not attested"),
        "{text}"
    );
}

#[test]
fn a_quote_over_pcrs_0_to_7_is_refused_when_sipa_policies_are_enabled() {
    let log = healthy().build();
    let pcrs = PcrSet::of(&[0, 1, 2, 3, 4, 5, 6, 7]);
    let v = judge(
        &challenge(pcrs, &sha256()),
        &evidence(&log, &log, pcrs, &sha256()),
    );
    assert!(!v.passed(), "{v}");
    assert!(has(&v, |f| matches!(
        f,
        Failure::PcrsNotQuoted {
            check: CheckId::CiPolicy,
            ..
        }
    )));
    // Secure Boot is attested (PCR 7 quoted) and passes on its own.
    assert!(!has(&v, |f| matches!(
        f,
        Failure::PcrsNotQuoted {
            check: CheckId::Policy(HgsPolicy::SecureBootEnabled),
            ..
        }
    )));
}

#[test]
fn a_challenge_with_no_bank_checks_nothing_and_is_refused() {
    let log = healthy().build();
    let mut c = challenge(DEFAULT_PCRS, &[]);
    c.nonce = vec![0; 32]; // a wrong nonce too: nothing may be judged at all
    let mut e = evidence(&log, &log, DEFAULT_PCRS, &sha256());
    e.quotes[0].signature[10] ^= 1;
    let v = judge(&c, &e);
    assert!(has(&v, |f| matches!(f, Failure::ChallengeHasNoBank)), "{v}");
    assert!(!v.passed());
    assert!(v.policies.is_empty());
}

#[test]
fn empty_pcrs_short_nonce_unknown_format_and_too_many_quotes_are_refused() {
    let log = healthy().build();
    let e = evidence(&log, &log, DEFAULT_PCRS, &sha256());
    let v = judge(&challenge(PcrSet::EMPTY, &sha256()), &e);
    assert!(has(&v, |f| matches!(f, Failure::ChallengeHasNoPcr)), "{v}");
    let mut c = challenge(DEFAULT_PCRS, &sha256());
    c.nonce.truncate(15);
    assert!(has(&judge(&c, &e), |f| matches!(
        f,
        Failure::NonceTooShort { len: 15, min: 16 }
    )));
    let mut other = e.clone();
    other.format = "hgs-evidence/0".into();
    assert!(has(
        &judge(&challenge(DEFAULT_PCRS, &sha256()), &other),
        |f| matches!(f, Failure::UnknownEvidenceFormat { .. })
    ));
    let mut many = e.clone();
    many.quotes = vec![e.quotes[0].clone(); 3];
    assert!(has(
        &judge(&challenge(DEFAULT_PCRS, &sha256()), &many),
        |f| matches!(f, Failure::TooManyQuotes { count: 3, max: 2 })
    ));
}

#[test]
fn an_expired_or_future_challenge_is_refused() {
    let log = healthy().build();
    let e = evidence(&log, &log, DEFAULT_PCRS, &sha256());
    let mut c = challenge(DEFAULT_PCRS, &sha256());
    c.issued_at = NOW - 301;
    assert!(has(&judge(&c, &e), |f| matches!(
        f,
        Failure::ChallengeExpired { max_age: 300, .. }
    )));
    c.issued_at = NOW - 299;
    assert!(judge(&c, &e).passed());
    let short = Attestor::new().with_max_challenge_age(60);
    assert!(has(&judge_with(&short, &c, &e), |f| matches!(
        f,
        Failure::ChallengeExpired { max_age: 60, .. }
    )));
    c.issued_at = NOW + 3600;
    assert!(has(&judge(&c, &e), |f| matches!(
        f,
        Failure::ChallengeFromTheFuture { .. }
    )));
}

#[test]
fn a_sha1_only_quote_is_refused_by_default_and_as_a_downgrade_when_allowed() {
    let log = healthy().build(); // declares SHA-1 and SHA-256
    let sha1 = [HashAlg::Sha1];
    let c = challenge(DEFAULT_PCRS, &sha1);
    let e = evidence(&log, &log, DEFAULT_PCRS, &sha1);
    let v = judge(&c, &e);
    assert!(
        has(
            &v,
            |f| matches!(f, Failure::BankNotAllowed { bank } if *bank == HashAlg::Sha1)
        ),
        "{v}"
    );
    let allow = Attestor::new().with_bank_policy(BankPolicy::AllowSha1);
    let v = judge_with(&allow, &c, &e);
    assert!(
        has(&v, |f| matches!(f, Failure::BankDowngrade { .. })),
        "{v}"
    );
    assert!(!v.passed());
}

#[test]
fn a_quoted_bank_the_log_does_not_declare_is_refused() {
    let log = WindowsBoot {
        banks: vec![hgs_tcglog::HashAlg::Sha256],
        ..healthy()
    }
    .build();
    // SHA-384: allocated in the TPM, never extended, all zeros — and not in the log's header.
    let banks = [HashAlg::Sha384];
    let v = judge(
        &challenge(DEFAULT_PCRS, &banks),
        &evidence(&log, &log, DEFAULT_PCRS, &banks),
    );
    assert!(
        has(
            &v,
            |f| matches!(f, Failure::QuotedBankNotInLog { bank } if *bank == HashAlg::Sha384)
        ),
        "{v}"
    );
}

/// The host's admin extends SHA-1 PCR 12 (free: Windows extends PCRs 12-14 in SHA-256 only)
/// with forged SIPA records claiming a healthy boot, over a boot that had a kernel debugger.
#[test]
fn forged_sha1_only_pcr_12_records_in_a_dual_bank_log_are_refused() {
    let bad = WindowsBoot {
        kernel_debugging: true,
        ..healthy()
    };
    let tpm_log = bad.build();
    // Shown log: the real one plus a SHA-1-only record on PCR 12. The SHA-256 quote does not
    // change (the record never reached SHA-256), and nothing in it may count.
    use hgs_tcglog::sipa::{encode_container, encode_records, id};
    let record = encode_container(
        id::TRUSTBOUNDARY,
        &encode_records(&[(id::OSKERNELDEBUG, vec![0])]),
    );
    let mut forged = LogBuilder::agile(&[hgs_tcglog::HashAlg::Sha1, hgs_tcglog::HashAlg::Sha256]);
    forged.event_with_digests(
        12,
        6,
        &[(
            hgs_tcglog::HashAlg::Sha1,
            hgs_tcglog::HashAlg::Sha1.hash(&record),
        )],
        &record,
    );
    let forged = forged.build();
    // Splice: the real log, then the forged event (skip the forged log's own header event).
    let header_len = EventLog::parse(&forged)
        .unwrap()
        .events()
        .nth(1)
        .unwrap()
        .unwrap()
        .offset;
    let mut shown = tpm_log.clone();
    shown.extend_from_slice(&forged[header_len..]);
    let v = judge(
        &challenge(DEFAULT_PCRS, &sha256()),
        &evidence(&tpm_log, &shown, DEFAULT_PCRS, &sha256()),
    );
    assert!(!v.passed(), "{v}");
    assert!(
        has(&v, |f| matches!(
            f,
            Failure::EventNotInQuotedBank { pcr: 12, .. }
        )),
        "{v}"
    );
    assert!(has(&v, |f| matches!(
        f,
        Failure::Policy {
            policy: HgsPolicy::UefiDebugDisabled,
            ..
        }
    )));
}

/// SecureBoot=00 before the separator, its event retyped (the type is not quoted), then
/// SecureBoot=01 extended after the separator.
#[test]
fn a_retyped_pre_separator_secure_boot_off_event_is_refused() {
    let guid = hgs_tcglog::uefi::EFI_GLOBAL_VARIABLE;
    let build = |first_type: u32| {
        let mut b = LogBuilder::agile(&[hgs_tcglog::HashAlg::Sha1, hgs_tcglog::HashAlg::Sha256]);
        b.event(7, first_type, &uefi_variable(guid, "SecureBoot", &[0]));
        b.event(7, 4, &[0; 4]);
        b.event(7, 0x8000_0001, &uefi_variable(guid, "SecureBoot", &[1]));
        b.build()
    };
    let tpm_log = build(0x8000_0001);
    let pcr7 = PcrSet::of(&[7]);
    // Retyped to an unchecked type, or kept: either way Secure Boot is not on.
    for retyped in [0x8000_0008u32, 0x8000_0001] {
        let shown = build(retyped);
        let mut attestor_settings = hgs_attest::policy::PolicySettings::default();
        for p in HgsPolicy::ALL {
            if !matches!(
                p,
                HgsPolicy::SecureBootEnabled | HgsPolicy::SecureBootSettings | HgsPolicy::CiPolicy
            ) {
                let _ = attestor_settings.disable(p);
            }
        }
        let v = judge_with(
            &Attestor::new().with_settings(attestor_settings),
            &challenge(pcr7, &sha256()),
            &evidence(&tpm_log, &shown, pcr7, &sha256()),
        );
        assert!(!v.passed(), "{v}");
        assert!(
            has(&v, |f| matches!(
                f,
                Failure::LogAnomaly {
                    anomaly: LogAnomaly::SecureBootAfterSeparator { event_index: 3 }
                }
            )),
            "{v}"
        );
        let sb = v
            .policies
            .iter()
            .find(|o| o.policy == HgsPolicy::SecureBootEnabled)
            .unwrap();
        assert!(
            !matches!(sb.result, hgs_attest::policy::RuleResult::Passed),
            "{retyped:#x}: {v}"
        );
        if retyped != 0x8000_0001 {
            assert!(has(&v, |f| matches!(
                f,
                Failure::LogAnomaly {
                    anomaly: LogAnomaly::UnexpectedEventType {
                        event_index: 1,
                        pcr: 7,
                        ..
                    }
                }
            )));
        }
    }
}

#[test]
fn a_boot_measuring_a_registered_and_an_unregistered_ci_policy_is_refused() {
    let boot = WindowsBoot {
        extra_si_policies: vec![("Supplemental.cip".into(), 0x000B, vec![0x77; 32])],
        ..healthy()
    };
    let log = boot.build();
    let v = judge(
        &challenge(DEFAULT_PCRS, &sha256()),
        &evidence(&log, &log, DEFAULT_PCRS, &sha256()),
    );
    assert!(!v.passed(), "{v}");
    assert!(
        has(&v, |f| matches!(
            f,
            Failure::CiPolicyNotRegistered { measured } if measured.len() == 1 && measured[0].name == "Supplemental.cip"
        )),
        "{v}"
    );
}

/// The CI policy event's data altered after it was measured (the quote still matches: the
/// digest is what was extended). The event must not count as a measurement, and the verdict must
/// say why there is none: the CI policy event is uncovered, not "no policy was measured".
#[test]
fn an_altered_ci_policy_event_is_reported_uncovered_not_missing() {
    let tpm_log = healthy().build();
    let at = tpm_log
        .windows(CI_DIGEST.len())
        .position(|w| w == CI_DIGEST)
        .unwrap();
    assert_eq!(
        tpm_log
            .windows(CI_DIGEST.len())
            .filter(|w| *w == CI_DIGEST)
            .count(),
        1
    );
    let mut shown = tpm_log.clone();
    shown[at..at + CI_DIGEST.len()].fill(0x66);
    // The event that carries the policy: the first SIPA event on PCR 12.
    let event_index = EventLog::parse(&shown)
        .unwrap()
        .events()
        .map(Result::unwrap)
        .find(|e| e.pcr == 12 && e.event_type.as_u32() == 6)
        .unwrap()
        .index;
    let v = judge(
        &challenge(DEFAULT_PCRS, &sha256()),
        &evidence(&tpm_log, &shown, DEFAULT_PCRS, &sha256()),
    );
    assert!(!v.passed(), "{v}");
    assert!(
        has(&v, |f| *f
            == Failure::CiPolicyUncovered {
                event_index,
                pcr: 12,
                bank: HashAlg::Sha256,
            }),
        "{v}"
    );
    assert!(!has(&v, |f| *f == Failure::NoCiPolicyMeasured), "{v}");
    // Still never a measurement: nothing matched a registration.
    assert!(v.ci_policy.is_none(), "{v}");
    let text = v.to_string();
    assert!(text.contains("uncovered"), "{text}");
    assert!(
        !text.contains("measured no code integrity policy"),
        "{text}"
    );
}

#[test]
fn no_freshness_is_explicit_and_said_in_the_verdict() {
    let log = healthy().build();
    let mut c = challenge(DEFAULT_PCRS, &sha256());
    c.nonce = vec![9; 32]; // not what the quote carries
    let e = evidence(&log, &log, DEFAULT_PCRS, &sha256());
    assert!(!judge(&c, &e).passed());
    let v = judge_with(
        &Attestor::new().with_freshness(hgs_attest::FreshnessPolicy::NotChecked),
        &c,
        &e,
    );
    assert!(!v.freshness_checked);
    assert!(v.to_string().contains("freshness not checked"), "{v}");
}

/// Each way the synthetic host can be tampered with, for the property test.
#[derive(Debug, Clone)]
enum Tamper {
    None,
    /// Flip one byte of the shown log.
    FlipByte(usize),
    /// Retype one event of the shown log (the type is not in any digest).
    Retype(usize, u32),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// For any boot, challenge, bank and tampering: Passed implies every event a claim came from
    /// lies on a quoted PCR and carries the quoted bank's digest.
    #[test]
    fn passed_implies_every_claim_comes_from_a_quoted_pcr_in_the_quoted_bank(
        secure_boot in any::<bool>(),
        kernel_debugging in any::<bool>(),
        resume in any::<bool>(),
        pcr_bits in any::<u32>(),
        full in any::<bool>(),
        bank in prop_oneof![Just(HashAlg::Sha1), Just(HashAlg::Sha256)],
        allow_sha1 in any::<bool>(),
        tamper in prop_oneof![
            Just(Tamper::None),
            any::<usize>().prop_map(Tamper::FlipByte),
            (any::<usize>(), any::<u32>()).prop_map(|(i, t)| Tamper::Retype(i, t)),
        ],
    ) {
        let boot = WindowsBoot { secure_boot, kernel_debugging, resume, ..healthy() };
        let tpm_log = boot.build();
        let mut shown = tpm_log.clone();
        match tamper {
            Tamper::None => {}
            Tamper::FlipByte(i) => { let n = shown.len(); shown[i % n] ^= 0x01; }
            Tamper::Retype(i, t) => {
                let events: Vec<_> = EventLog::parse(&tpm_log).unwrap().events().map(Result::unwrap).collect();
                let e = events[i % events.len()];
                shown[e.offset + 4..e.offset + 8].copy_from_slice(&t.to_le_bytes());
            }
        }
        let pcrs = if full { DEFAULT_PCRS } else { PcrSet::from_iter((0..24).filter(|p| pcr_bits & (1 << p) != 0)) };
        let attestor = if allow_sha1 { Attestor::new().with_bank_policy(BankPolicy::AllowSha1) } else { Attestor::new() };
        let v = judge_with(&attestor, &challenge(pcrs, &[bank]), &evidence(&tpm_log, &shown, pcrs, &[bank]));
        if v.passed() {
            let quoted_bank = v.quoted_bank.unwrap();
            let events: Vec<_> = EventLog::parse(&shown).unwrap().events().map(Result::unwrap).collect();
            for o in &v.policies {
                for ev in &o.evidence {
                    if let (Some(i), Some(pcr)) = (ev.event_index, ev.pcr) {
                        prop_assert!(v.quoted_pcrs.contains(pcr), "claim {} from unquoted PCR {pcr}", ev.claim);
                        let e = events[i as usize];
                        prop_assert_eq!(e.pcr, pcr);
                        prop_assert!(e.digest(quoted_bank).is_some(), "claim {} from event {i} without a {quoted_bank} digest", ev.claim);
                    }
                }
            }
            prop_assert!(v.quoted_pcrs.covers(PcrSet::of(&[7, 12, 13, 14])));
            prop_assert!(secure_boot && !kernel_debugging && !resume, "an unhealthy boot passed: {v}");
        }
    }
}
