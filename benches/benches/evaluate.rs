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

criterion_group!(benches, bench);
criterion_main!(benches);
