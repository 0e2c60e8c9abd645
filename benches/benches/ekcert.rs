//! Validating one EK certificate against the full vendor store of the corpus (every CA of
//! `../shared/corpus/ekcert/roots`, ~290 certificates): cold (parse every CA + build the store +
//! verify) and with a cached store (verify only). Leaves: STM RSA-2048 (3 RSA signatures up to the
//! GlobalSign root) and Nuvoton NPCT75x (ECDSA-signed RSA EK). The cached-store verification runs
//! on both signature backends in the same run: `ring` (the default) and `pure_rust` (the fallback
//! without a C toolchain).
//!
//! Corpus: `../shared/corpus/ekcert` beside the repo (`HGS_CORPUS` overrides the corpus root).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use hgs_ekcert::{verify_chain, Certificate, Options, SignatureBackend, TrustStore, UnixTime};

fn corpus_dir() -> PathBuf {
    hgs_testkit::corpus("ekcert")
}

/// (anchors, intermediates): self-signed CAs plus the IFX root as anchors, the rest intermediates.
fn vendor_certs() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let roots = corpus_dir().join("roots");
    let (mut a, mut i) = (Vec::new(), Vec::new());
    for vendor in std::fs::read_dir(&roots).unwrap() {
        let vendor = vendor.unwrap().path();
        if !vendor.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&vendor).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            let c = Certificate::from_bytes(&bytes).unwrap();
            if c.is_self_signed() || c.subject.to_string().starts_with("CN=IFX TPM EK Root CA,") {
                a.push(bytes);
            } else {
                i.push(bytes);
            }
        }
    }
    (a, i)
}

fn bench(c: &mut Criterion) {
    let (anchors, ints) = vendor_certs();
    let opts = Options::at(UnixTime::parse_rfc3339("2026-11-22T00:00:00Z").unwrap());
    let (store, _) = TrustStore::from_certificates(&anchors, &ints);
    let mut g = c.benchmark_group("ekcert");
    for leaf in [
        "stm-rsa2048-ekca05-ffpadded.der",
        "ntc-npct75x-rsa2048-root2111-a.der",
    ] {
        let bytes = std::fs::read(corpus_dir().join("leaves").join(leaf)).unwrap();
        assert!(verify_chain(&bytes, &store, None, &opts).is_ok(), "{leaf}");
        for (name, backend) in [
            ("ring", SignatureBackend::Default),
            ("pure_rust", SignatureBackend::PureRust),
        ] {
            let mut o = opts;
            o.backend = backend;
            g.bench_function(format!("cached_store/{name}/{leaf}"), |b| {
                b.iter(|| verify_chain(black_box(&bytes), &store, None, &o).unwrap())
            });
        }
        g.bench_function(format!("cold/{leaf}"), |b| {
            b.iter(|| {
                let (s, _) = TrustStore::from_certificates(&anchors, &ints);
                verify_chain(black_box(&bytes), &s, None, &opts).unwrap()
            })
        });
    }
    g.bench_function("store_build_only", |b| {
        b.iter(|| {
            TrustStore::from_certificates(black_box(&anchors), &ints)
                .0
                .len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
