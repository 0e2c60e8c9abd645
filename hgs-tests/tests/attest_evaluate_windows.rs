//! `evaluate` on real Windows evidence: the GCE Shielded VM's AK (bare TPMT_PUBLIC as Windows PCP
//! exports it), its SHA-1 quote (empty nonce) and its boot log, bundled in
//! `examples/data/ga_windows_gcp_shielded_vm` (Apache-2.0, from go-attestation's testdata).
//!
//! No EK came with this evidence, so no host can be registered for it: the verdict must verify
//! the AK, the quote and the log, extract the claims, and then refuse the host as unregistered,
//! listing every policy this VM really fails (no VBS, no IOMMU requirement, no CI policy...).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_attest::policy::BaselineProfile;
use hgs_attest::policy::RuleFailure;
use hgs_attest::policy::{PolicyVersion, SubStatus, TpmBaseline};
use hgs_attest::{
    AttestationStatus, Attestor, Challenge, CheckOutcome, Evidence, Failure, FreshnessPolicy, Host,
    QuoteEvidence,
};
use hgs_tcglog::BankPolicy;
use hgs_tpm::{Attest, Attested, HashAlg, PcrSet, Public};

/// The published evidence was quoted without a verifier nonce, over SHA-1: judged only by an
/// explicit no-freshness, SHA-1-allowed attestor.
fn evaluate(
    host: &Host<'_>,
    baselines: &[TpmBaseline],
    ci: &[hgs_attest::policy::CiPolicyRegistration],
) -> hgs_attest::Verdict {
    Attestor::new()
        .with_freshness(FreshnessPolicy::NotChecked)
        .with_bank_policy(BankPolicy::AllowSha1)
        .evaluate(host, baselines, ci)
}

fn data(f: &str) -> Vec<u8> {
    std::fs::read(hgs_testkit::windows_evidence_dir().join(f)).unwrap()
}

fn setup() -> (Challenge, Evidence) {
    let ak = data("ak_public.bin");
    let attest = data("quote_attest.bin");
    let Attested::Quote { selection, .. } = Attest::parse(&attest).unwrap().attested else {
        panic!()
    };
    let challenge = Challenge {
        host: "gce-shielded-vm".into(),
        ek_fingerprint: None,
        ak_name: Public::parse(&ak).unwrap().name().unwrap(),
        nonce: Vec::new(),
        pcrs: PcrSet::from_indices(&selection.banks[0].pcrs()).unwrap(),
        banks: vec![HashAlg::Sha1],
        issued_at: 0,
    };
    let evidence = Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public: ak,
        quotes: vec![QuoteEvidence {
            bank: Some(hgs_tpm::HashAlg::Sha1),
            pcrs: vec![],
            attest,
            signature: data("quote_sig.bin"),
        }],
        pcr_values: Default::default(),
        event_log: data("event_log.bin"),
        bound_key: None,
    };
    (challenge, evidence)
}

fn outcome<'v>(v: &'v hgs_attest::Verdict, name: &str) -> &'v CheckOutcome {
    &v.checks
        .iter()
        .find(|c| c.name.to_string() == name)
        .unwrap_or_else(|| panic!("no check {name}"))
        .outcome
}

#[test]
fn real_windows_quote_and_log_verify_but_the_host_is_not_registered() {
    let (c, e) = setup();
    let baseline = TpmBaseline::from_reference_log(
        "gce",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &e.event_log,
        true,
    )
    .unwrap();
    let v = evaluate(
        &Host {
            challenge: &c,
            evidence: &e,
            registered: &[],
            now: 0,
        },
        &[baseline],
        &[],
    );
    eprintln!("{v}");
    assert!(matches!(outcome(&v, "ak"), CheckOutcome::Passed { .. }));
    assert!(matches!(
        outcome(&v, "quote:sha1"),
        CheckOutcome::Passed { .. }
    ));
    assert!(matches!(
        outcome(&v, "event_digests"),
        CheckOutcome::Passed { .. }
    ));
    assert!(matches!(
        outcome(&v, "baseline"),
        CheckOutcome::Passed { .. }
    ));
    assert_eq!(v.status, AttestationStatus::UnauthorizedHost);
    assert!(v
        .failures
        .iter()
        .any(|f| matches!(f, Failure::HostNotRegistered { .. })));
    assert!(v.failures.contains(&Failure::NoCiPolicyMeasured));
    let policy_failures: Vec<&RuleFailure> = v
        .failures
        .iter()
        .filter_map(|f| match f {
            Failure::Policy { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    for expected in [
        RuleFailure::VbsNotRunning,
        RuleFailure::IommuNotRequired,
        RuleFailure::HvciNotEnforced,
        RuleFailure::PagefileNotEncrypted,
        RuleFailure::HibernationEnabled,
        RuleFailure::DumpsEnabled,
    ] {
        assert!(
            policy_failures.contains(&&expected),
            "missing {expected:?} in {policy_failures:?}"
        );
    }
    // Secure Boot is on and no debugger is enabled on this VM.
    assert!(!policy_failures.contains(&&RuleFailure::SecureBootOff));
    assert!(!policy_failures.contains(&&RuleFailure::DebuggerEnabled));
    assert!(v.sub_statuses.contains(&SubStatus::VirtualSecureMode));
    assert!(v.sub_statuses.contains(&SubStatus::CodeIntegrityPolicy));
    // The verdict is data: it round-trips through JSON.
    let json = serde_json::to_string(&v).unwrap();
    let back: hgs_attest::Verdict = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v);
}

#[test]
fn real_windows_evidence_with_an_edited_log_is_not_trusted() {
    let (c, mut e) = setup();
    // Flip one byte of a PCR 13 event's digest: the replay no longer equals the quote, and nothing
    // the log says is used.
    let bytes = e.event_log.clone();
    let log = hgs_tcglog::EventLog::parse(&bytes).unwrap();
    let ev = log
        .events()
        .map(Result::unwrap)
        .find(|ev| ev.pcr == 13)
        .unwrap();
    e.event_log[ev.offset + 8] ^= 1;
    let v = evaluate(
        &Host {
            challenge: &c,
            evidence: &e,
            registered: &[],
            now: 0,
        },
        &[],
        &[],
    );
    assert!(
        v.failures
            .iter()
            .any(|f| matches!(f, Failure::ReplayMismatch { .. })),
        "{v}"
    );
    assert!(matches!(
        outcome(&v, "baseline"),
        CheckOutcome::Skipped { .. }
    ));
    assert!(
        v.policies.is_empty(),
        "no policy is evaluated from an unbound log"
    );
}

#[test]
fn real_windows_quote_with_another_nonce_or_ak_is_refused() {
    let (mut c, e) = setup();
    c.nonce = vec![1; 16];
    let v = Attestor::new()
        .with_bank_policy(BankPolicy::AllowSha1)
        .evaluate(
            &Host {
                challenge: &c,
                evidence: &e,
                registered: &[],
                now: 0,
            },
            &[],
            &[],
        );
    assert_eq!(v.status, AttestationStatus::UnauthorizedHost);
    assert!(v.failures.iter().any(|f| matches!(
        f,
        Failure::Quote {
            error: hgs_attest::QuoteError::NonceMismatch { .. },
            ..
        }
    )));
    let (mut c, e) = setup();
    c.ak_name[5] ^= 1;
    let v = evaluate(
        &Host {
            challenge: &c,
            evidence: &e,
            registered: &[],
            now: 0,
        },
        &[],
        &[],
    );
    assert!(v
        .failures
        .iter()
        .any(|f| matches!(f, Failure::AkMismatch { .. })));
}
