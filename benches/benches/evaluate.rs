//! `evaluate` on realistic evidence — the real Windows Shielded VM AK, SHA-1 quote (RSA-2048
//! RSASSA) and full-boot Windows log bundled in `examples/data` — with its breakdown measured in
//! the same run: log parse, replay, quote signature, digest checks, boot claims, baseline match,
//! Hgs_* rules. The host is not registered (no EK came with the evidence), so the identity check
//! fails, but every other check runs as for a registered host.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hgs_attest::policy::evaluate_rules;
use hgs_attest::policy::{BaselineMatcher, BaselineProfile, EventByEvent};
use hgs_attest::policy::{PolicySettings, PolicyVersion, TpmBaseline};
use hgs_attest::{Attestor, Challenge, Evidence, Host, QuoteEvidence};
use hgs_tcglog::{BootClaims, EventLog};
use hgs_tpm::{HashAlg, Public, RustCryptoVerifier, Signature, SignatureVerifier};

fn data(f: &str) -> Vec<u8> {
    std::fs::read(hgs_testkit::windows_evidence_dir().join(f)).unwrap()
}

fn evidence() -> (Challenge, Evidence) {
    let ak = data("ak_public.bin");
    let attest = data("quote_attest.bin");
    let pcrs = match hgs_tpm::Attest::parse(&attest).unwrap().attested {
        hgs_tpm::Attested::Quote { selection, .. } => {
            hgs_tpm::PcrSet::from_indices(&selection.banks[0].pcrs()).unwrap()
        }
        _ => panic!("not a quote"),
    };
    (
        Challenge {
            host: "gce".into(),
            ek_fingerprint: None,
            ak_name: Public::parse(&ak).unwrap().name().unwrap(),
            nonce: Vec::new(),
            pcrs,
            banks: vec![HashAlg::Sha1],
            issued_at: 0,
        },
        Evidence {
            format: hgs_attest::EVIDENCE_FORMAT.into(),
            challenge_id: None,
            ak_public: ak,
            quotes: vec![QuoteEvidence {
                bank: Some(hgs_tpm::HashAlg::Sha1),
                pcrs: Vec::new(),
                attest,
                signature: data("quote_sig.bin"),
            }],
            pcr_values: Default::default(),
            event_log: data("event_log.bin"),
            bound_key: None,
        },
    )
}

fn bench(c: &mut Criterion) {
    let (challenge, ev) = evidence();
    let baseline = TpmBaseline::from_reference_log(
        "gce",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &ev.event_log,
        true,
    )
    .unwrap();
    let baselines = vec![baseline.clone()];
    // The published evidence has no verifier nonce and is SHA-1: judged by an explicit
    // no-freshness, SHA-1-allowed attestor (every other check runs as for a live host).
    let attestor = Attestor::new()
        .with_freshness(hgs_attest::FreshnessPolicy::NotChecked)
        .with_bank_policy(hgs_tcglog::BankPolicy::AllowSha1);
    let host = Host {
        challenge: &challenge,
        evidence: &ev,
        registered: &[],
        now: 0,
    };
    let mut g = c.benchmark_group("evaluate");
    g.bench_function("evaluate/full", |b| {
        b.iter(|| black_box(attestor.evaluate(black_box(&host), &baselines, &[])))
    });

    // The pure-Rust backend (no C toolchain), in the same run.
    let pure = Attestor::new()
        .with_freshness(hgs_attest::FreshnessPolicy::NotChecked)
        .with_bank_policy(hgs_tcglog::BankPolicy::AllowSha1)
        .with_verifier(RustCryptoVerifier);
    g.bench_function("evaluate/full_rustcrypto", |b| {
        b.iter(|| black_box(pure.evaluate(black_box(&host), &baselines, &[])))
    });

    // Breakdown.
    let log_bytes = &ev.event_log;
    g.bench_function("evaluate/part/parse", |b| {
        b.iter(|| {
            let log = EventLog::parse(black_box(log_bytes)).unwrap();
            black_box(log.events().count())
        })
    });
    g.bench_function("evaluate/part/replay", |b| {
        let log = EventLog::parse(log_bytes).unwrap();
        b.iter(|| black_box(hgs_tcglog::replay(black_box(&log)).unwrap()))
    });
    let ak = Public::parse(&ev.ak_public).unwrap();
    let key = ak.key().unwrap();
    let sig = Signature::parse(&ev.quotes[0].signature).unwrap();
    let msg = hgs_tpm::Attest::parse(&ev.quotes[0].attest).unwrap().bytes;
    g.bench_function("evaluate/part/signature_rustcrypto", |b| {
        b.iter(|| {
            RustCryptoVerifier
                .verify(black_box(&key), black_box(msg), &sig)
                .unwrap()
        })
    });
    g.bench_function("evaluate/part/signature_ring", |b| {
        b.iter(|| {
            hgs_tpm::RingVerifier
                .verify(black_box(&key), black_box(msg), &sig)
                .unwrap()
        })
    });
    g.bench_function("evaluate/part/digest_checks", |b| {
        let log = EventLog::parse(log_bytes).unwrap();
        b.iter(|| black_box(hgs_tcglog::verify_digests(black_box(&log)).unwrap()))
    });
    let quote = hgs_tpm::verify_quote(
        &ev.ak_public,
        &ev.quotes[0].attest,
        &ev.quotes[0].signature,
        &hgs_tpm::QuoteRequirements {
            freshness: hgs_tpm::Freshness::NotChecked,
            bank: HashAlg::Sha1,
            required_pcrs: challenge.pcrs,
        },
        &hgs_tpm::RingVerifier,
    )
    .unwrap();
    let bind = |log| {
        hgs_tcglog::QuotedLog::bind(
            log,
            std::slice::from_ref(&quote),
            hgs_tcglog::BankPolicy::AllowSha1,
        )
        .unwrap()
    };
    // Replay, the quoted digest, and every data-covering event's digest in the quoted bank.
    g.bench_function("evaluate/part/bind", |b| {
        let log = EventLog::parse(log_bytes).unwrap();
        b.iter(|| black_box(bind(black_box(log))))
    });
    let quoted = bind(EventLog::parse(log_bytes).unwrap());
    g.bench_function("evaluate/part/claims", |b| {
        b.iter(|| black_box(BootClaims::from_quoted(black_box(&quoted))))
    });
    g.bench_function("evaluate/part/baseline", |b| {
        b.iter(|| {
            EventByEvent
                .check(black_box(&baseline), black_box(&quoted))
                .unwrap()
        })
    });
    let claims = BootClaims::from_quoted(&quoted);
    let settings = PolicySettings::default();
    g.bench_function("evaluate/part/rules", |b| {
        b.iter(|| black_box(evaluate_rules(black_box(&claims), &settings, quoted.pcrs())))
    });
    g.finish();
}

/// A live-shaped host (synthetic Windows boot, P-256 soft AK, SHA-256 quote with the nonce):
/// `evaluate` without and with a certified bound key in the same run, so the cost of the
/// TPM2_Certify check (one more ECDSA verification and a public-area parse) is a ratio.
fn bench_bound_key(c: &mut Criterion) {
    use hgs_attest::policy::{CiPolicyRegistration, EkCertificateCheck, Name, TpmHost};
    use hgs_attest::{BoundKeyEvidence, EkFingerprint, PcrSet, DEFAULT_PCRS};
    use hgs_tpm::{decrypt_key_public, PublicKey, SoftAk, BOUND_KEY_ATTRIBUTES};

    const NONCE: [u8; 32] = [0x42; 32];
    let fp = EkFingerprint::from_bytes([0x5a; 32]);
    let boot = hgs_testkit::synthetic::WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, vec![0x5a; 32])),
        ..Default::default()
    };
    let log = boot.build();
    let ak = SoftAk::from_seed(&[3; 32]).unwrap();
    let replayed = hgs_tcglog::replay(&EventLog::parse(&log).unwrap()).unwrap();
    let pcrs: PcrSet = DEFAULT_PCRS;
    let (attest, signature) = ak
        .quote(&NONCE, &[(HashAlg::Sha256, pcrs)], |_, p| {
            Some(
                replayed
                    .get(HashAlg::Sha256, p)
                    .map_or_else(|| vec![0; 32], <[u8]>::to_vec),
            )
        })
        .unwrap();
    let challenge = Challenge {
        host: "h1".into(),
        ek_fingerprint: Some(fp),
        ak_name: Public::parse(ak.public()).unwrap().name().unwrap(),
        nonce: NONCE.to_vec(),
        pcrs,
        banks: vec![HashAlg::Sha256],
        issued_at: 1_000,
    };
    let plain = Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public: ak.public().to_vec(),
        quotes: vec![QuoteEvidence {
            bank: Some(HashAlg::Sha256),
            pcrs: pcrs.to_vec(),
            attest,
            signature,
        }],
        pcr_values: Default::default(),
        event_log: log.clone(),
        bound_key: None,
    };
    let mut modulus = vec![0xc5; 256];
    modulus[255] = 0xc7;
    let public = decrypt_key_public(
        &PublicKey::Rsa {
            modulus,
            exponent: 65537,
        },
        BOUND_KEY_ATTRIBUTES,
    );
    let (cert_attest, cert_sig) = ak.certify(&NONCE, &public).unwrap();
    let mut bound = plain.clone();
    bound.bound_key = Some(BoundKeyEvidence {
        public,
        attest: cert_attest,
        signature: cert_sig,
    });
    let hosts = [TpmHost {
        name: Name::new("h1").unwrap(),
        policy_version: PolicyVersion::V1,
        ekpub: Vec::new(),
        ek_fingerprint: fp,
        ek_key_type: "ECC-P256".into(),
        ek_certificate: None,
        ek_certificate_check: EkCertificateCheck::Missing,
        forced: true,
    }];
    let baselines = [TpmBaseline::from_reference_log(
        "class",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &log,
        false,
    )
    .unwrap()];
    let ci =
        [CiPolicyRegistration::from_reference_log("ci", PolicyVersion::V1, &log, None).unwrap()];
    let attestor = Attestor::new();
    let host = |e| Host {
        challenge: &challenge,
        evidence: e,
        registered: &hosts,
        now: 1_010,
    };
    for e in [&plain, &bound] {
        let v = attestor.evaluate(&host(e), &baselines, &ci);
        assert!(v.passed(), "{v}");
        assert!(v.bound_key.is_some());
    }
    let mut g = c.benchmark_group("evaluate");
    g.bench_function("evaluate/live_shaped", |b| {
        b.iter(|| black_box(attestor.evaluate(black_box(&host(&plain)), &baselines, &ci)))
    });
    g.bench_function("evaluate/live_shaped_certified_key", |b| {
        b.iter(|| black_box(attestor.evaluate(black_box(&host(&bound)), &baselines, &ci)))
    });
    g.finish();
}

criterion_group!(benches, bench, bench_bound_key);
criterion_main!(benches);
