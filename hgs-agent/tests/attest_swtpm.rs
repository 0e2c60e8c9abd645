//! End to end on a real (software) TPM: a manufactured swtpm with an EK certificate has a
//! Windows-like boot log extended into its PCRs; the verifier registers the host, a baseline and a
//! CI policy, challenges it (credential to the EK, nonce = secret), the TPM activates the credential
//! and quotes, and `hgs_attest::evaluate` judges the evidence. One healthy run passes; then one
//! thing is changed at a time and each run must fail with its own reason.
#![cfg(feature = "tpm")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_agent::tpm::agent::{answer_challenge, banks_of, to_evidence, ChallengeInput};
use hgs_agent::tpm::ak::{create_ak, AkState};
use hgs_agent::tpm::ek::{platform_eks, EkProfile};
use hgs_agent::tpm::pcr::replay_log;
use hgs_agent::tpm::Tpm;
use hgs_attest::policy::BaselineProfile;
use hgs_attest::policy::RuleFailure;
use hgs_attest::policy::{register_host, HostError};
use hgs_attest::policy::{
    CiPolicyRegistration, EkCertificateCheck, PolicyVersion, RegistrationOptions, TpmBaseline,
    TpmHost,
};
use hgs_attest::QuoteError;
use hgs_attest::{new_challenge, AttestationStatus, Challenge, Evidence, Failure, Verdict};
use hgs_testkit::swtpm::Swtpm;
use hgs_testkit::synthetic::WindowsBoot;
use hgs_tpm::HashAlg;

fn swtpm_available() -> bool {
    hgs_testkit::swtpm_available()
}

fn corpus(sub: &str) -> PathBuf {
    hgs_testkit::corpus(sub)
}

/// An enforced (Block) and an audit-mode policy from the CI-policy corpus (AaronLocker, signed).
const ENFORCED: &str = "aaronlocker__SiPolicy-Block__2579f3f8.p7b";
const AUDIT: &str = "aaronlocker__SiPolicy-Audit__3b070fcd.p7b";

fn policy(file: &str, name: &str, v: PolicyVersion) -> CiPolicyRegistration {
    CiPolicyRegistration::from_policy_file(
        name,
        v,
        &std::fs::read(corpus("cipolicy").join(file)).unwrap(),
    )
    .unwrap()
}

/// The log of a host running the policy `file` (SI_POLICY carries its measured SHA-256 digest).
fn boot_running(file: &str) -> WindowsBoot {
    let p = policy(file, "x", PolicyVersion::V2);
    let digest: Vec<u8> = (0..p.digests[&HashAlg::Sha256].len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&p.digests[&HashAlg::Sha256][i..i + 2], 16).unwrap())
        .collect();
    WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, digest)),
        ..WindowsBoot::default()
    }
}

/// A software TPM that booted `boot`, with its EK, EK certificate and an AK.
struct Lab {
    _sw: Swtpm,
    tpm: Tpm,
    ek: Vec<u8>,
    ek_cert: Option<Vec<u8>>,
    ak: AkState,
    ak_public: Vec<u8>,
    log: Vec<u8>,
}

impl Lab {
    fn boot(boot: &WindowsBoot) -> Lab {
        let sw = Swtpm::start().unwrap();
        let mut tpm = Tpm::open(&sw.tcti()).unwrap();
        let log = boot.build();
        replay_log(&mut tpm, &log).unwrap();
        let eks = platform_eks(&mut tpm).unwrap();
        let rsa = eks.iter().find(|e| e.profile == EkProfile::RsaL1).unwrap();
        let ak = create_ak(&mut tpm, EkProfile::RsaL1).unwrap();
        let ak_public = ak.public_bytes().unwrap();
        Lab {
            ek: rsa.public.clone().unwrap(),
            ek_cert: rsa.certificate.clone(),
            _sw: sw,
            tpm,
            ak,
            ak_public,
            log,
        }
    }

    fn register(&self, name: &str, v: PolicyVersion) -> TpmHost {
        // The swtpm-localca certificate is not from a TPM vendor: under v1 with force the host
        // registers; v2 needs hgs-ekcert's verdict on the certificate (see ekcert tests).
        assert!(
            self.ek_cert.is_some(),
            "swtpm_setup --create-ek-cert wrote an EK certificate"
        );
        register_host(
            name,
            &self.ek,
            self.ek_cert.as_deref(),
            EkCertificateCheck::Missing,
            RegistrationOptions {
                version: v,
                force: v == PolicyVersion::V1,
            },
            &[],
        )
        .unwrap()
    }

    fn challenge(
        &self,
        host: &TpmHost,
        banks: &[HashAlg],
    ) -> (Challenge, hgs_attest::ChallengeMessage) {
        let mut request = hgs_attest::ChallengeRequest::new(
            hgs_attest::Attestor::new().required_pcrs(&[]),
            now(),
        );
        request.banks = banks;
        if banks.contains(&HashAlg::Sha1) {
            request.bank_policy = hgs_attest::BankPolicy::AllowSha1;
        }
        new_challenge(host, &self.ak_public, &request, &mut rand_core::OsRng).unwrap()
    }

    /// The agent's answer; `pcrs`/`banks` override what the challenge asked for (a cheating host).
    fn answer(
        &mut self,
        msg: &hgs_attest::ChallengeMessage,
        pcrs: Option<&[u8]>,
        banks: Option<&[HashAlg]>,
    ) -> Evidence {
        let asked: Vec<u8> = msg.pcrs.iter().map(|p| p as u8).collect();
        let banks = banks_of(banks.unwrap_or(&msg.banks));
        let input = ChallengeInput {
            credential_blob: &msg.credential_blob,
            encrypted_secret: &msg.encrypted_secret,
            pcrs: pcrs.unwrap_or(&asked),
            banks: &banks,
        };
        let answer = answer_challenge(&mut self.tpm, &self.ak, &input).unwrap();
        to_evidence(&self.ak_public, &answer, &self.log)
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn judge(
    c: &Challenge,
    e: &Evidence,
    hosts: &[TpmHost],
    b: &[TpmBaseline],
    p: &[CiPolicyRegistration],
) -> Verdict {
    judge_with(&hgs_attest::Attestor::new(), c, e, hosts, b, p)
}

fn judge_with(
    attestor: &hgs_attest::Attestor,
    c: &Challenge,
    e: &Evidence,
    hosts: &[TpmHost],
    b: &[TpmBaseline],
    p: &[CiPolicyRegistration],
) -> Verdict {
    let v = attestor.evaluate(
        &hgs_attest::Host {
            challenge: c,
            evidence: e,
            registered: hosts,
            now: now(),
        },
        b,
        p,
    );
    eprintln!("{v}");
    v
}

fn baseline(log: &[u8], v: PolicyVersion) -> TpmBaseline {
    TpmBaseline::from_reference_log(
        &format!("class-{v}"),
        v,
        BaselineProfile::default(),
        log,
        false,
    )
    .unwrap()
}

fn has(v: &Verdict, pred: impl Fn(&Failure) -> bool) -> bool {
    v.failures.iter().any(pred)
}

#[test]
fn swtpm_host_passes_then_each_tampering_fails_with_its_own_reason() {
    if !swtpm_available() {
        return;
    }
    let v1 = PolicyVersion::V1;
    let mut lab = Lab::boot(&boot_running(ENFORCED));
    let host = lab.register("host1", v1);
    let hosts = vec![host.clone()];
    let baselines = vec![baseline(&lab.log, v1)];
    let policies = vec![policy(ENFORCED, "enforced", v1)];
    let sha256 = [HashAlg::Sha256];

    // Healthy: Passed under v1, naming what matched.
    let (c, msg) = lab.challenge(&host, &sha256);
    let e = lab.answer(&msg, None, None);
    let v = judge(&c, &e, &hosts, &baselines, &policies);
    assert_eq!(v.status, AttestationStatus::Passed, "{v}");
    assert_eq!(v.policy_version, Some(v1));
    assert_eq!(v.host.as_deref(), Some("host1"));
    assert_eq!(v.baseline.as_deref(), Some("class-v1"));
    assert_eq!(v.ci_policy.as_deref(), Some("enforced"));
    assert!(!v.audit_mode);
    // Both banks at once pass too when SHA-1 is allowed (content is read in SHA-256), and are
    // refused by the default bank policy.
    let (c2, msg2) = lab.challenge(&host, &[HashAlg::Sha1, HashAlg::Sha256]);
    let e2 = lab.answer(&msg2, None, None);
    let allow_sha1 =
        hgs_attest::Attestor::new().with_bank_policy(hgs_attest::BankPolicy::AllowSha1);
    let v = judge_with(&allow_sha1, &c2, &e2, &hosts, &baselines, &policies);
    assert!(v.passed(), "{v}");
    assert_eq!(v.quoted_bank, Some(hgs_tcglog::HashAlg::Sha256));
    let v = judge(&c2, &e2, &hosts, &baselines, &policies);
    assert!(
        has(
            &v,
            |f| matches!(f, Failure::BankNotAllowed { bank } if *bank == hgs_attest::HashAlg::Sha1)
        ),
        "{v}"
    );

    // EKpub not registered.
    let v = judge(&c, &e, &[], &baselines, &policies);
    assert_eq!(v.status, AttestationStatus::UnauthorizedHost);
    assert!(has(&v, |f| matches!(f, Failure::HostNotRegistered { .. })));

    // Old nonce: evidence answering challenge 1 judged against challenge 2.
    let (c3, _msg3) = lab.challenge(&host, &sha256);
    let v = judge(&c3, &e, &hosts, &baselines, &policies);
    assert_eq!(v.status, AttestationStatus::TpmError);
    assert!(
        has(&v, |f| matches!(
            f,
            Failure::Quote {
                error: QuoteError::NonceMismatch { .. },
                ..
            }
        )),
        "{v}"
    );

    // Quote over a subset of the PCRs.
    let (c4, msg4) = lab.challenge(&host, &sha256);
    let e4 = lab.answer(&msg4, Some(&[0, 1, 2, 3, 4, 5, 6, 7]), None);
    let v = judge(&c4, &e4, &hosts, &baselines, &policies);
    assert!(
        has(
            &v,
            |f| matches!(f, Failure::Quote { error: QuoteError::MissingPcrs { missing, .. }, .. } if missing == &[11, 12, 13, 14])
        ),
        "{v}"
    );

    // A challenge record narrower than the checks in force (e.g. loaded from a database, or an
    // embedder's own PCR set), answered honestly: the quote verifies, but nothing it did not
    // cover is evidence — every check reading PCR 7 or 12-14 fails by name, nothing passes.
    let (mut c6, mut msg6) = lab.challenge(&host, &sha256);
    let narrow = hgs_attest::PcrSet::of(&[0, 1, 2, 3, 4, 5, 6, 11]);
    c6.pcrs = narrow;
    msg6.pcrs = narrow;
    let e6 = lab.answer(&msg6, None, None);
    let v = judge(&c6, &e6, &hosts, &baselines, &policies);
    assert!(!v.passed(), "{v}");
    assert_eq!(
        v.status,
        AttestationStatus::InsecureHostConfiguration,
        "{v}"
    );
    for check in [
        hgs_attest::CheckId::Baseline,
        hgs_attest::CheckId::CiPolicy,
        hgs_attest::CheckId::Policy(hgs_attest::policy::HgsPolicy::SecureBootEnabled),
        hgs_attest::CheckId::Policy(hgs_attest::policy::HgsPolicy::UefiDebugDisabled),
        hgs_attest::CheckId::Policy(hgs_attest::policy::HgsPolicy::FullBoot),
    ] {
        assert!(
            has(
                &v,
                |f| matches!(f, Failure::PcrsNotQuoted { check: c, .. } if *c == check)
            ),
            "{check} must fail as not attested: {v}"
        );
    }
    assert_eq!(v.quoted_pcrs, narrow);

    // The same challenge with no bank, or no PCR, or a short nonce, or expired: refused outright.
    let (c7, msg7) = lab.challenge(&host, &sha256);
    let e7 = lab.answer(&msg7, None, None);
    let mut no_bank = c7.clone();
    no_bank.banks.clear();
    let v = judge(&no_bank, &e7, &hosts, &baselines, &policies);
    assert!(has(&v, |f| matches!(f, Failure::ChallengeHasNoBank)), "{v}");
    assert!(v.policies.is_empty());
    let mut no_pcr = c7.clone();
    no_pcr.pcrs = hgs_attest::PcrSet::EMPTY;
    let v = judge(&no_pcr, &e7, &hosts, &baselines, &policies);
    assert!(has(&v, |f| matches!(f, Failure::ChallengeHasNoPcr)), "{v}");
    let mut short = c7.clone();
    short.nonce.truncate(8);
    let v = judge(&short, &e7, &hosts, &baselines, &policies);
    assert!(
        has(&v, |f| matches!(f, Failure::NonceTooShort { len: 8, .. })),
        "{v}"
    );
    let mut old = c7.clone();
    old.issued_at -= 301;
    let v = judge(&old, &e7, &hosts, &baselines, &policies);
    assert!(
        has(&v, |f| matches!(
            f,
            Failure::ChallengeExpired { max_age: 300, .. }
        )),
        "{v}"
    );
    assert!(judge(&c7, &e7, &hosts, &baselines, &policies).passed());

    // Quote in another bank.
    let (c5, msg5) = lab.challenge(&host, &sha256);
    let e5 = lab.answer(&msg5, None, Some(&[HashAlg::Sha1]));
    let v = judge(&c5, &e5, &hosts, &baselines, &policies);
    assert_eq!(v.status, AttestationStatus::TpmError);
    assert!(
        has(&v, |f| matches!(
            f,
            Failure::Quote {
                error: QuoteError::WrongBank { .. },
                ..
            }
        )),
        "{v}"
    );

    // A log event removed: the replay no longer matches the quote; the PCR is named.
    let parsed = hgs_tcglog::EventLog::parse(&lab.log).unwrap();
    let victim = parsed
        .events()
        .map(Result::unwrap)
        .find(|ev| ev.pcr == 13)
        .unwrap();
    let next = parsed
        .events()
        .map(Result::unwrap)
        .find(|ev| ev.index == victim.index + 1)
        .unwrap();
    let mut removed = e.clone();
    removed.event_log = [&lab.log[..victim.offset], &lab.log[next.offset..]].concat();
    let v = judge(&c, &removed, &hosts, &baselines, &policies);
    assert!(
        has(&v, |f| matches!(
            f,
            Failure::ReplayMismatch { pcr: Some(13), .. }
        )),
        "{v}"
    );
    assert!(v
        .sub_statuses
        .contains(&hgs_attest::policy::SubStatus::TcgLogVerification));

    // An event's data edited under its digest: replay still matches, the data check does not.
    let sb = parsed
        .events()
        .map(Result::unwrap)
        .find(|ev| ev.pcr == 7 && ev.event_type == hgs_tcglog::EventType::EfiVariableDriverConfig)
        .unwrap();
    let mut edited = e.clone();
    let at = sb.offset
        + (sb.data.as_ptr() as usize - parsed.bytes()[sb.offset..].as_ptr() as usize)
        + sb.data.len()
        - 1;
    edited.event_log[at] ^= 1;
    let v = judge(&c, &edited, &hosts, &baselines, &policies);
    assert!(
        has(
            &v,
            |f| matches!(f, Failure::EventDigestMismatch { event_index, pcr: 7, .. } if *event_index == sb.index)
        ),
        "{v}"
    );
    assert!(!has(&v, |f| matches!(f, Failure::ReplayMismatch { .. })));

    // A CI policy that is not registered.
    let v = judge(&c, &e, &hosts, &baselines, &[policy(AUDIT, "other", v1)]);
    assert!(
        has(&v, |f| matches!(f, Failure::CiPolicyNotRegistered { .. })),
        "{v}"
    );
    assert!(v
        .sub_statuses
        .contains(&hgs_attest::policy::SubStatus::CodeIntegrityPolicy));

    // v1 host with a v2 baseline: no single version has every artifact.
    let v = judge(
        &c,
        &e,
        &hosts,
        &[baseline(&lab.log, PolicyVersion::V2)],
        &policies,
    );
    assert_eq!(v.status, AttestationStatus::UnauthorizedHost, "{v}");
    assert!(has(&v, |f| matches!(f, Failure::VersionMismatch { .. })));

    // v2 cannot register this host: its certificate is not validated as trusted.
    let e2 = register_host(
        "host1",
        &lab.ek,
        lab.ek_cert.as_deref(),
        EkCertificateCheck::Untrusted {
            why: hgs_attest::policy::EkDistrust::Other,
            reason: "untrusted root".into(),
        },
        RegistrationOptions::default(),
        &[],
    )
    .unwrap_err();
    assert!(matches!(e2, HostError::EkCertificateUntrusted { .. }));
}

/// Boots `boot`, registers the host with a baseline from the healthy reference class, and judges.
fn judge_boot(boot: WindowsBoot, policies: &[CiPolicyRegistration]) -> Verdict {
    let v1 = PolicyVersion::V1;
    let reference = baseline(&boot_running(ENFORCED).build(), v1);
    let mut lab = Lab::boot(&boot);
    let host = lab.register("h", v1);
    let (c, msg) = lab.challenge(&host, &[HashAlg::Sha256]);
    let e = lab.answer(&msg, None, None);
    judge(&c, &e, &[host], &[reference], policies)
}

#[test]
fn swtpm_host_with_secure_boot_off_fails_secure_boot() {
    if !swtpm_available() {
        return;
    }
    let v = judge_boot(
        WindowsBoot {
            secure_boot: false,
            ..boot_running(ENFORCED)
        },
        &[policy(ENFORCED, "p", PolicyVersion::V1)],
    );
    assert_eq!(v.status, AttestationStatus::InsecureHostConfiguration);
    assert!(
        has(&v, |f| matches!(
            f,
            Failure::Policy {
                reason: RuleFailure::SecureBootOff,
                ..
            }
        )),
        "{v}"
    );
    // The SecureBoot variable is part of the PCR 7 baseline too.
    assert!(has(&v, |f| matches!(f, Failure::NoBaselineMatch { .. })));
}

#[test]
fn swtpm_host_with_kernel_debugger_fails_uefi_debug_policy() {
    if !swtpm_available() {
        return;
    }
    let v = judge_boot(
        WindowsBoot {
            kernel_debugging: true,
            ..boot_running(ENFORCED)
        },
        &[policy(ENFORCED, "p", PolicyVersion::V1)],
    );
    assert_eq!(v.status, AttestationStatus::InsecureHostConfiguration);
    assert_eq!(v.failures.len(), 1, "{v}");
    assert!(has(&v, |f| matches!(
        f,
        Failure::Policy {
            reason: RuleFailure::DebuggerEnabled,
            ..
        }
    )));
    assert_eq!(
        v.sub_statuses,
        vec![hgs_attest::policy::SubStatus::SecureBoot]
    );
}

#[test]
fn swtpm_host_resumed_from_hibernation_fails_full_boot() {
    if !swtpm_available() {
        return;
    }
    let v = judge_boot(
        WindowsBoot {
            resume: true,
            ..boot_running(ENFORCED)
        },
        &[policy(ENFORCED, "p", PolicyVersion::V1)],
    );
    assert_eq!(v.failures.len(), 1, "{v}");
    assert!(has(&v, |f| matches!(
        f,
        Failure::Policy {
            reason: RuleFailure::ResumedFromHibernation,
            ..
        }
    )));
    assert_eq!(
        v.sub_statuses,
        vec![hgs_attest::policy::SubStatus::FullBoot]
    );
}

#[test]
fn swtpm_host_with_audit_mode_policy_passes_flagged() {
    if !swtpm_available() {
        return;
    }
    let audit = policy(AUDIT, "audit", PolicyVersion::V1);
    assert_eq!(
        audit.audit_mode,
        Some(true),
        "the corpus file is an audit-mode policy"
    );
    let v1 = PolicyVersion::V1;
    let mut lab = Lab::boot(&boot_running(AUDIT));
    let host = lab.register("h", v1);
    let (c, msg) = lab.challenge(&host, &[HashAlg::Sha256]);
    let e = lab.answer(&msg, None, None);
    let v = judge(&c, &e, &[host], &[baseline(&lab.log, v1)], &[audit]);
    assert!(v.passed(), "{v}");
    assert!(v.audit_mode);
    assert!(v
        .checks
        .iter()
        .any(|c| c.name == hgs_attest::CheckId::CiPolicy
            && matches!(c.outcome, hgs_attest::CheckOutcome::Flagged { .. })));
}
