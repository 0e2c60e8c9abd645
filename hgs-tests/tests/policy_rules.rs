//! hgs-policy rules, each checked against inputs that must pass and inputs that must fail.
//! Logs come from the synthetic Windows-like builder (`hgs_testkit::synthetic`, one setting changed
//! at a time) and from the real logs of `shared/corpus/tcglog`; CI policies from
//! `shared/corpus/cipolicy`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_policy::CrossCheck;
use hgs_policy::*;
use hgs_policy::{ek_fingerprint, register_host, HostError};
use hgs_policy::{evaluate_rules, RuleFailure, RuleResult};
use hgs_policy::{resolve, ArtifactMatches};
use hgs_policy::{validate_reference, CaptureProblem, MismatchKind};
use hgs_tcglog::{BankPolicy, BootClaims, EventLog, QuotedLog, ReferenceLog};
use hgs_testkit::synthetic::WindowsBoot;
use proptest::prelude::*;

fn corpus(sub: &str) -> PathBuf {
    hgs_testkit::corpus(sub)
}

/// A real RSA public area (the Windows Shielded VM AK, bare TPMT_PUBLIC, bundled in examples/data).
fn rsa_public() -> Vec<u8> {
    std::fs::read(hgs_testkit::windows_evidence_dir().join("ak_public.bin")).unwrap()
}

/// The same key with one modulus byte changed (a different EK).
fn other_public() -> Vec<u8> {
    let mut p = rsa_public();
    let n = p.len();
    p[n - 5] ^= 0x40;
    p
}

fn trusted() -> EkCertificateCheck {
    EkCertificateCheck::Trusted(EkIdentity {
        manufacturer: Some("IFX".into()),
        ..Default::default()
    })
}

fn opts(version: PolicyVersion, force: bool) -> RegistrationOptions {
    RegistrationOptions { version, force }
}

#[test]
fn v2_registers_a_host_with_a_trusted_ek_certificate() {
    let h = register_host(
        "h1",
        &rsa_public(),
        Some(b"cert"),
        trusted(),
        opts(PolicyVersion::V2, false),
        &[],
    )
    .unwrap();
    assert_eq!(h.policy_version, PolicyVersion::V2);
    assert!(!h.forced);
    assert_eq!(h.ek_key_type, "RSA-2048");
    assert!(h.has_ek(&rsa_public()));
    assert!(!h.has_ek(&other_public()));
}

#[test]
fn v2_refuses_missing_and_untrusted_certificates_and_force() {
    let e = register_host(
        "h1",
        &rsa_public(),
        None,
        EkCertificateCheck::Missing,
        opts(PolicyVersion::V2, false),
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, HostError::EkCertificateRequired { .. }));
    // Library messages say what is wrong; what to do is the program's to say.
    assert!(!e.to_string().contains("--"), "{e}");
    let root = EkDistrust::UntrustedRoot {
        subject: "CN=EK".into(),
        issuer: "CN=Vendor CA".into(),
    };
    let e = register_host(
        "h1",
        &rsa_public(),
        Some(b"cert"),
        EkCertificateCheck::Untrusted {
            why: root.clone(),
            reason: "untrusted root".into(),
        },
        opts(PolicyVersion::V2, false),
        &[],
    )
    .unwrap_err();
    // The typed reason survives: an untrusted root is not a key mismatch.
    assert!(
        matches!(&e, HostError::EkCertificateUntrusted { why, .. } if *why == root),
        "{e:?}"
    );
    assert!(!e.to_string().contains("hgs roots add"), "{e}");
    let e = register_host(
        "h1",
        &rsa_public(),
        Some(b"cert"),
        EkCertificateCheck::Untrusted {
            why: EkDistrust::KeyMismatch,
            reason: "key mismatch".into(),
        },
        opts(PolicyVersion::V1, false),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(
            &e,
            HostError::ForceRequired {
                why: Some(EkDistrust::KeyMismatch),
                ..
            }
        ),
        "{e:?}"
    );
    let e = register_host(
        "h1",
        &rsa_public(),
        Some(b"cert"),
        trusted(),
        opts(PolicyVersion::V2, true),
        &[],
    )
    .unwrap_err();
    assert_eq!(e, HostError::ForceNotApplicableToV2);
}

#[test]
fn v1_accepts_a_host_without_certificate_only_when_forced() {
    let e = register_host(
        "h1",
        &rsa_public(),
        None,
        EkCertificateCheck::Missing,
        opts(PolicyVersion::V1, false),
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, HostError::ForceRequired { .. }));
    let h = register_host(
        "h1",
        &rsa_public(),
        None,
        EkCertificateCheck::Missing,
        opts(PolicyVersion::V1, true),
        &[],
    )
    .unwrap();
    assert!(h.forced);
    assert_eq!(h.policy_version, PolicyVersion::V1);
    // A trusted certificate needs no force under v1 either, and is not marked forced.
    let h = register_host(
        "h2",
        &rsa_public(),
        Some(b"c"),
        trusted(),
        opts(PolicyVersion::V1, true),
        &[],
    )
    .unwrap();
    assert!(!h.forced);
}

#[test]
fn duplicate_ekpub_or_name_is_refused() {
    let h = register_host(
        "h1",
        &rsa_public(),
        None,
        trusted(),
        opts(PolicyVersion::V2, false),
        &[],
    )
    .unwrap();
    let e = register_host(
        "h2",
        &rsa_public(),
        None,
        trusted(),
        opts(PolicyVersion::V2, false),
        std::slice::from_ref(&h),
    )
    .unwrap_err();
    assert_eq!(
        e,
        HostError::DuplicateEkpub {
            name: "h2".into(),
            existing: "h1".into()
        }
    );
    let e = register_host(
        "h1",
        &other_public(),
        None,
        trusted(),
        opts(PolicyVersion::V2, false),
        &[h],
    )
    .unwrap_err();
    assert_eq!(e, HostError::DuplicateName("h1".into()));
}

proptest! {
    /// The fingerprint depends on the key only: TPM2B and TPMT framings agree, any modulus change
    /// changes it.
    #[test]
    fn ek_fingerprint_is_framing_independent_and_key_sensitive(pos in 0usize..256, bit in 0u8..8) {
        let tpmt = rsa_public();
        let mut tpm2b = (tpmt.len() as u16).to_be_bytes().to_vec();
        tpm2b.extend_from_slice(&tpmt);
        prop_assert_eq!(ek_fingerprint(&tpmt).unwrap(), ek_fingerprint(&tpm2b).unwrap());
        let mut changed = tpmt.clone();
        let n = changed.len();
        changed[n - 256 + pos] ^= 1 << bit;
        prop_assert_ne!(ek_fingerprint(&tpmt).unwrap(), ek_fingerprint(&changed).unwrap());
    }
}

/// Every PC-client PCR: the rules see every claim (tests of the rules, not of the binding).
const ALL_PCRS: hgs_tpm::PcrSet = hgs_tpm::PcrSet::of(&[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
]);

/// `bytes` bound to a software-AK quote of every PCR in its strongest carried bank.
fn quoted(bytes: &[u8]) -> QuotedLog<'_> {
    let log = EventLog::parse(bytes).unwrap();
    let bank = ReferenceLog::new(log).unwrap().bank();
    let policy = if bank == hgs_tcglog::HashAlg::Sha1 {
        BankPolicy::AllowSha1
    } else {
        BankPolicy::default()
    };
    let quotes = hgs_testkit::synthetic::self_quotes(&log, &[(bank, ALL_PCRS)]);
    QuotedLog::bind(log, &quotes, policy).unwrap()
}

fn claims_of(boot: &WindowsBoot) -> BootClaims {
    let bytes = boot.build();
    BootClaims::from_reference(&ReferenceLog::new(EventLog::parse(&bytes).unwrap()).unwrap())
}

fn failures(boot: &WindowsBoot, settings: &PolicySettings) -> Vec<(HgsPolicy, RuleFailure)> {
    evaluate_rules(&claims_of(boot), settings, ALL_PCRS)
        .into_iter()
        .filter_map(|o| match o.result {
            RuleResult::Failed { failure } => Some((o.policy, failure)),
            _ => None,
        })
        .collect()
}

#[test]
fn healthy_synthetic_host_passes_every_default_policy() {
    assert_eq!(
        failures(&WindowsBoot::default(), &PolicySettings::default()),
        vec![]
    );
}

#[test]
fn each_setting_fails_its_own_policy_with_its_own_reason() {
    let d = WindowsBoot::default;
    let cases: Vec<(WindowsBoot, HgsPolicy, RuleFailure)> = vec![
        (
            WindowsBoot {
                secure_boot: false,
                ..d()
            },
            HgsPolicy::SecureBootEnabled,
            RuleFailure::SecureBootOff,
        ),
        (
            WindowsBoot {
                kernel_debugging: true,
                ..d()
            },
            HgsPolicy::UefiDebugDisabled,
            RuleFailure::DebuggerEnabled,
        ),
        (
            WindowsBoot {
                boot_debugging: true,
                ..d()
            },
            HgsPolicy::UefiDebugDisabled,
            RuleFailure::DebuggerEnabled,
        ),
        (
            WindowsBoot {
                uefi_debug_mode: true,
                ..d()
            },
            HgsPolicy::UefiDebugDisabled,
            RuleFailure::DebuggerEnabled,
        ),
        (
            WindowsBoot { hvci: false, ..d() },
            HgsPolicy::HypervisorEnforcedCiPolicy,
            RuleFailure::HvciNotEnforced,
        ),
        (
            WindowsBoot {
                resume: true,
                ..d()
            },
            HgsPolicy::FullBoot,
            RuleFailure::ResumedFromHibernation,
        ),
        (
            WindowsBoot {
                vsm_idk: false,
                ..d()
            },
            HgsPolicy::VsmIdkPresent,
            RuleFailure::VsmIdkMissing,
        ),
        (
            WindowsBoot {
                pagefile_encrypted: false,
                ..d()
            },
            HgsPolicy::PageFileEncryptionEnabled,
            RuleFailure::PagefileNotEncrypted,
        ),
        (
            WindowsBoot {
                iommu: false,
                ..d()
            },
            HgsPolicy::IommuEnabled,
            RuleFailure::IommuNotRequired,
        ),
        (
            WindowsBoot {
                hibernation_disabled: false,
                ..d()
            },
            HgsPolicy::NoHibernation,
            RuleFailure::HibernationEnabled,
        ),
    ];
    for (boot, policy, reason) in cases {
        let f = failures(&boot, &PolicySettings::default());
        assert_eq!(f, vec![(policy, reason.clone())], "{policy}");
        // Disabling the policy (none of these are locked) silences exactly that failure.
        let mut s = PolicySettings::default();
        s.disable(policy).unwrap();
        assert_eq!(failures(&boot, &s), vec![], "{policy} disabled");
    }
    // VBS off fails VSM with its own reason (and HVCI, whose setting is independent here).
    let f = failures(
        &WindowsBoot { vbs: false, ..d() },
        &PolicySettings::default(),
    );
    assert_eq!(
        f,
        vec![(HgsPolicy::VsmIdkPresent, RuleFailure::VbsNotRunning)]
    );
}

#[test]
fn dump_policies_apply_only_when_dumps_are_enabled() {
    let boot = WindowsBoot {
        dumps_disabled: false,
        ..WindowsBoot::default()
    };
    let f = failures(&boot, &PolicySettings::default());
    assert_eq!(
        f,
        vec![
            (HgsPolicy::NoDumps, RuleFailure::DumpsEnabled),
            (HgsPolicy::DumpEncryption, RuleFailure::DumpsNotEncrypted),
            (
                HgsPolicy::DumpEncryptionKey,
                RuleFailure::DumpKeyNotRegistered
            ),
        ]
    );
    let claims = claims_of(&WindowsBoot::default());
    let o = evaluate_rules(&claims, &PolicySettings::default(), ALL_PCRS);
    let enc = o
        .iter()
        .find(|o| o.policy == HgsPolicy::DumpEncryption)
        .unwrap();
    assert!(matches!(enc.result, RuleResult::NotApplicable { .. }));
}

#[test]
fn bitlocker_is_disabled_by_default_and_checked_when_enabled() {
    let mut s = PolicySettings::default();
    assert_eq!(s.state(HgsPolicy::BitLockerEnabled), PolicyState::Disabled);
    s.enable(HgsPolicy::BitLockerEnabled).unwrap();
    assert_eq!(
        failures(&WindowsBoot::default(), &s),
        vec![(HgsPolicy::BitLockerEnabled, RuleFailure::BitLockerNotUsed)]
    );
    assert_eq!(
        failures(
            &WindowsBoot {
                bitlocker_unlock: 1,
                ..WindowsBoot::default()
            },
            &s
        ),
        vec![]
    );
}

#[test]
fn locked_policies_refuse_changes_and_names_parse() {
    let mut s = PolicySettings::default();
    assert!(s.disable(HgsPolicy::SecureBootSettings).is_err());
    assert!(s.disable(HgsPolicy::CiPolicy).is_err());
    for p in HgsPolicy::ALL {
        assert_eq!(HgsPolicy::from_name(p.name()), Some(p));
    }
    assert_eq!(
        HgsPolicy::from_name("PagefileEncryptionEnabled"),
        Some(HgsPolicy::PageFileEncryptionEnabled)
    );
    assert_eq!(HgsPolicy::from_name("Hgs_VirtualSecureMode"), None);
    assert_eq!(
        "PolicyVersion1503".parse::<PolicyVersion>().unwrap(),
        PolicyVersion::V1
    );
    assert!("v3".parse::<PolicyVersion>().is_err());
}

#[test]
fn rule_evidence_names_the_deciding_event() {
    let bytes = WindowsBoot {
        kernel_debugging: true,
        ..WindowsBoot::default()
    }
    .build();
    let log = EventLog::parse(&bytes).unwrap();
    let claims = BootClaims::from_reference(&ReferenceLog::new(log).unwrap());
    let o = evaluate_rules(&claims, &PolicySettings::default(), ALL_PCRS);
    let dbg = o
        .iter()
        .find(|o| o.policy == HgsPolicy::UefiDebugDisabled)
        .unwrap();
    let ev = &dbg.evidence[0];
    assert_eq!(ev.claim, "kernel_debugging");
    assert_eq!(ev.pcr, Some(12));
    let e = log
        .events()
        .map(Result::unwrap)
        .find(|e| Some(e.index) == ev.event_index)
        .unwrap();
    assert_eq!(e.pcr, 12);
}

#[test]
fn capture_validation_refuses_an_insecure_reference_unless_skipped() {
    let good = WindowsBoot::default().build();
    let a = TpmBaseline::from_reference_log(
        "c",
        PolicyVersion::V2,
        BaselineProfile::default(),
        &good,
        false,
    )
    .unwrap();
    let b = TpmBaseline::from_reference_log(
        "c",
        PolicyVersion::V2,
        BaselineProfile::default(),
        &good,
        true,
    )
    .unwrap();
    assert_eq!(a, b, "skip-validation does not change the output");
    assert!(a.capture_warnings.is_empty());

    let bad = WindowsBoot {
        secure_boot: false,
        iommu: false,
        vbs: false,
        si_policy: None,
        ..WindowsBoot::default()
    }
    .build();
    let e = TpmBaseline::from_reference_log(
        "c",
        PolicyVersion::V2,
        BaselineProfile::default(),
        &bad,
        false,
    )
    .unwrap_err();
    let problems = match e {
        hgs_policy::BaselineError::ReferenceNotCompliant { problems } => problems,
        other => panic!("{other:?}"),
    };
    assert_eq!(problems.len(), 4);
    assert!(matches!(
        problems[0],
        CaptureProblem::SecureBootOff {
            event_index: Some(_)
        }
    ));
    assert!(matches!(problems[3], CaptureProblem::NoCiPolicy));
    let skipped = TpmBaseline::from_reference_log(
        "c",
        PolicyVersion::V2,
        BaselineProfile::default(),
        &bad,
        true,
    )
    .unwrap();
    assert_eq!(skipped.capture_warnings, problems);
}

#[test]
fn baseline_matches_its_class_and_names_the_first_difference() {
    let reference = WindowsBoot::default().build();
    let base = TpmBaseline::from_reference_log(
        "class",
        PolicyVersion::V2,
        BaselineProfile::default(),
        &reference,
        false,
    )
    .unwrap();
    assert!(base.events.iter().all(|e| e.pcr == 7));
    // Same class, other settings outside PCR 7 (a kernel debugger is the rules' business).
    let sibling = WindowsBoot {
        kernel_debugging: true,
        ..WindowsBoot::default()
    }
    .build();
    EventByEvent.check(&base, &quoted(&sibling)).unwrap();

    let dbx = WindowsBoot {
        dbx: b"other dbx".to_vec(),
        ..WindowsBoot::default()
    }
    .build();
    let m = EventByEvent.check(&base, &quoted(&dbx)).unwrap_err();
    assert_eq!(m.kind, MismatchKind::DigestDiffers);
    assert_eq!(m.pcr, Some(7));
    assert_eq!(m.bank, Some(hgs_tpm::HashAlg::Sha256));
    assert_eq!(m.baseline_event_index, Some(6));
    assert_eq!(m.host_event_index, Some(6));
    assert!(m.expected.as_deref().unwrap().contains("dbx"), "{m}");
    assert_ne!(m.expected, m.actual);

    let debug = WindowsBoot {
        uefi_debug_mode: true,
        ..WindowsBoot::default()
    }
    .build();
    let m = EventByEvent.check(&base, &quoted(&debug)).unwrap_err();
    assert_eq!(m.kind, MismatchKind::DigestDiffers, "{m}");
    assert!(
        m.actual.as_deref().unwrap().contains("UEFI Debug Mode"),
        "{m}"
    );

    // A SHA-1-only host log can still be compared (the baseline keeps every bank).
    let sha1 = WindowsBoot {
        banks: vec![hgs_tcglog::HashAlg::Sha1],
        ..WindowsBoot::default()
    }
    .build();
    EventByEvent.check(&base, &quoted(&sha1)).unwrap();
}

#[test]
fn real_windows_logs_match_their_own_baseline_and_not_other_machines() {
    let names = [
        "imm_win_IMN-DELL_sha1.bin",
        "imm_win_dell-notebook-boot0.bin",
        "imm_win_x1carbon_2009.bin",
        "ga_windows_gcp_shielded_vm.bin",
    ];
    let logs: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(corpus("tcglog").join(n)).unwrap())
        .collect();
    let bases: Vec<TpmBaseline> = logs
        .iter()
        .zip(names)
        .map(|(l, n)| {
            TpmBaseline::from_reference_log(
                n,
                PolicyVersion::V2,
                BaselineProfile::default(),
                l,
                true,
            )
            .unwrap()
        })
        .collect();
    for (i, b) in bases.iter().enumerate() {
        for (j, l) in logs.iter().enumerate() {
            let r = EventByEvent.check(b, &quoted(l));
            assert_eq!(
                r.is_ok(),
                i == j,
                "baseline {} vs log {}: {:?}",
                names[i],
                names[j],
                r.err()
            );
        }
    }
}

fn cip(name: &str) -> Vec<u8> {
    std::fs::read(corpus("cipolicy").join(name)).unwrap()
}

#[test]
fn ci_policy_from_file_matches_the_log_that_measured_its_unsigned_content() {
    // A signed policy: the digest covers the unsigned content, not the CMS envelope.
    let file = cip("aaronlocker__SiPolicy-Audit__3b070fcd.p7b");
    let reg = CiPolicyRegistration::from_policy_file("audit", PolicyVersion::V2, &file).unwrap();
    let parsed = hgs_cipolicy::CiPolicy::parse(&file).unwrap();
    let sha256 = hgs_cipolicy::HashAlg::Sha256.hash(parsed.unsigned_bytes());
    assert_eq!(
        reg.digests[&hgs_tcglog::HashAlg::Sha256],
        hgs_tpm::hex::encode(&sha256)
    );
    assert_eq!(reg.audit_mode, Some(parsed.audit_mode()));

    let boot = WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, sha256.clone())),
        ..WindowsBoot::default()
    };
    let claims = claims_of(&boot);
    assert!(matches!(
        reg.cross_check(&claims),
        CrossCheck::Matches { .. }
    ));
    // The log path gives the same digest, with no inference about bytes.
    let from_log =
        CiPolicyRegistration::from_reference_log("log", PolicyVersion::V2, &boot.build(), None)
            .unwrap();
    assert_eq!(
        from_log.digests[&hgs_tcglog::HashAlg::Sha256],
        reg.digests[&hgs_tcglog::HashAlg::Sha256]
    );
    assert!(from_log.matches(&claims.si_policies[0]));

    let other = CiPolicyRegistration::from_policy_file(
        "other",
        PolicyVersion::V2,
        &cip("aaronlocker__SiPolicy-Block__2579f3f8.p7b"),
    )
    .unwrap();
    assert!(matches!(
        other.cross_check(&claims),
        CrossCheck::Differs { .. }
    ));
    assert!(!other.matches(&claims.si_policies[0]));
    let none = claims_of(&WindowsBoot {
        si_policy: None,
        ..WindowsBoot::default()
    });
    assert_eq!(other.cross_check(&none), CrossCheck::NotInLog);
    assert!(
        CiPolicyRegistration::from_policy_file("x", PolicyVersion::V2, b"not a policy").is_err()
    );
}

#[test]
fn version_resolution_tries_v2_then_v1_and_needs_one_version_for_all() {
    use PolicyVersion::*;
    let m = |h: &[PolicyVersion], b: &[PolicyVersion], c: &[PolicyVersion]| ArtifactMatches {
        hosts: h.iter().map(|v| (*v, format!("host-{v}"))).collect(),
        baselines: b.iter().map(|v| (*v, format!("base-{v}"))).collect(),
        ci_policies: c.iter().map(|v| (*v, format!("ci-{v}"))).collect(),
    };
    let r = resolve(&m(&[V1, V2], &[V1, V2], &[V1, V2]));
    assert_eq!(r.version, Some(V2));
    assert_eq!(r.attempts.len(), 1);
    let r = resolve(&m(&[V1, V2], &[V1], &[V1, V2]));
    assert_eq!(r.version, Some(V1));
    assert_eq!(r.attempts[0].missing(), vec!["TPM baseline"]);
    let mm = m(&[V1], &[V2], &[V1, V2]);
    let r = resolve(&mm);
    assert_eq!(r.version, None);
    assert!(r.is_version_mismatch(&mm));
    let none = m(&[V1], &[], &[V1]);
    assert!(!resolve(&none).is_version_mismatch(&none));
}

#[test]
fn store_round_trips_through_json_and_enforces_rules() {
    let mut s = PolicyStore::default();
    s.add_host(
        "h1",
        &rsa_public(),
        None,
        EkCertificateCheck::Missing,
        opts(PolicyVersion::V1, true),
    )
    .unwrap();
    assert!(s
        .add_host(
            "h2",
            &rsa_public(),
            None,
            EkCertificateCheck::Missing,
            opts(PolicyVersion::V1, true)
        )
        .is_err());
    let base = TpmBaseline::from_reference_log(
        "class",
        PolicyVersion::V1,
        BaselineProfile::Strict,
        &WindowsBoot::default().build(),
        false,
    )
    .unwrap();
    s.add_baseline(base.clone()).unwrap();
    assert!(s.add_baseline(base).is_err());
    s.add_ci_policy(
        CiPolicyRegistration::from_policy_file(
            "p",
            PolicyVersion::V1,
            &cip("aaronlocker__SiPolicy-Block__2579f3f8.p7b"),
        )
        .unwrap(),
    )
    .unwrap();
    s.settings.disable(HgsPolicy::NoDumps).unwrap();
    let json = serde_json::to_string_pretty(&s).unwrap();
    assert!(json.contains("\"format\": \"hgs-policy-store/1\""));
    assert!(json.contains("Hgs_NoDumps"));
    let back: PolicyStore = serde_json::from_str(&json).unwrap();
    back.check_format().unwrap();
    assert_eq!(back, s);
    assert_eq!(back.host_by_ek(&rsa_public()).unwrap().name, "h1");
    let mut back = back;
    back.remove_host("h1").unwrap();
    assert!(back.remove_host("h1").is_err());
    back.remove_policy("class").unwrap();
    back.remove_policy("p").unwrap();
    assert!(back.baselines.is_empty() && back.ci_policies.is_empty());
}

#[test]
fn validate_reference_on_real_logs_matches_their_claims() {
    // The GCP Shielded VM runs Secure Boot but no VBS, no IOMMU requirement and no CI policy.
    let bytes = std::fs::read(corpus("tcglog").join("ga_windows_gcp_shielded_vm.bin")).unwrap();
    let claims =
        BootClaims::from_reference(&ReferenceLog::new(EventLog::parse(&bytes).unwrap()).unwrap());
    let p = validate_reference(&claims);
    assert!(
        !p.iter()
            .any(|p| matches!(p, CaptureProblem::SecureBootOff { .. })),
        "{p:?}"
    );
    assert!(p
        .iter()
        .any(|p| matches!(p, CaptureProblem::VbsNotRunning { .. })));
    assert!(p.contains(&CaptureProblem::NoCiPolicy));
}

#[test]
fn a_malformed_ekpub_keeps_the_tpm_parser_error_as_its_source() {
    let e = register_host(
        "h1",
        &[0x00, 0x01],
        None,
        EkCertificateCheck::Missing,
        opts(PolicyVersion::V1, true),
        &[],
    )
    .unwrap_err();
    let source = std::error::Error::source(&e).expect("a source");
    assert!(source.downcast_ref::<hgs_tpm::Error>().is_some(), "{e:?}");
}

#[test]
fn ek_fingerprint_is_bytes_typed_and_64_lowercase_hex_on_the_wire() {
    use hgs_policy::EkFingerprint;
    let fp = EkFingerprint::from_bytes([0xab; 32]);
    let hex = "ab".repeat(32);
    assert_eq!(fp.to_string(), hex);
    assert_eq!(serde_json::to_string(&fp).unwrap(), format!("\"{hex}\""));
    assert_eq!(
        serde_json::from_str::<EkFingerprint>(&format!("\"{hex}\"")).unwrap(),
        fp
    );
    assert_eq!(hex.parse::<EkFingerprint>(), Ok(fp));
    // One key, one spelling: upper case, short, long and non-hex strings are refused.
    for bad in [
        "AB".repeat(32),
        "ab".repeat(31),
        "ab".repeat(33),
        "zz".repeat(32),
    ] {
        assert!(bad.parse::<EkFingerprint>().is_err(), "{bad}");
        assert!(serde_json::from_str::<EkFingerprint>(&format!("\"{bad}\"")).is_err());
    }
}

/// A reference log whose CI policy event was altered after it was measured: capture and
/// CI-policy registration name that event as uncovered, not "no policy is applied".
#[test]
fn an_altered_ci_policy_event_in_a_reference_log_is_named_uncovered() {
    let digest = [0x5a; 32];
    let mut log = WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, digest.to_vec())),
        ..WindowsBoot::default()
    }
    .build();
    let at = log.windows(32).position(|w| w == digest).unwrap();
    log[at..at + 32].fill(0x66);
    let e = TpmBaseline::from_reference_log(
        "c",
        PolicyVersion::V2,
        BaselineProfile::default(),
        &log,
        false,
    )
    .unwrap_err();
    let problems = match e {
        hgs_policy::BaselineError::ReferenceNotCompliant { problems } => problems,
        other => panic!("{other:?}"),
    };
    assert!(
        problems.iter().any(|p| matches!(
            p,
            CaptureProblem::LogAnomaly {
                anomaly: hgs_tcglog::LogAnomaly::UncoveredCiPolicy { pcr: 12, .. }
            }
        )),
        "{problems:?}"
    );
    assert!(
        !problems.contains(&CaptureProblem::NoCiPolicy),
        "{problems:?}"
    );
    match CiPolicyRegistration::from_reference_log("ci", PolicyVersion::V2, &log, None) {
        Err(e @ CiPolicyError::Uncovered { pcr: 12, .. }) => {
            assert!(e.to_string().contains("not covered"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}
