//! hgs-tcglog throughput: parse-only, parse+replay (all banks / one bank), and for Windows logs
//! parse+replay+boot claims, per corpus log and on
//! synthetic 10k/100k-event logs, next to each log's hashing floor (the same extends, done on
//! pre-collected digests with no parsing), measured in the same run.
//!
//! Corpus: `../shared/corpus/tcglog` beside the repo (`HGS_CORPUS` overrides the corpus root).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hgs_tcglog::builder::LogBuilder;
use hgs_tcglog::BootClaims;
use hgs_tcglog::{replay, replay_banks};
use hgs_tcglog::{EventLog, HashAlg};

fn corpus_dir() -> PathBuf {
    hgs_testkit::corpus("tcglog")
}

/// Every corpus log that parses, by name, sorted by size.
fn corpus_logs() -> Vec<(String, Vec<u8>)> {
    let mut logs = Vec::new();
    let Ok(dir) = std::fs::read_dir(corpus_dir()) else {
        eprintln!("tcglog bench: no corpus at {}", corpus_dir().display());
        return logs;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let ok = EventLog::parse(&bytes).is_ok_and(|l| replay(&l).is_ok());
        if ok {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            logs.push((name, bytes));
        }
    }
    logs.sort_by_key(|(_, b)| b.len());
    logs
}

/// A synthetic crypto-agile SHA-1 + SHA-256 log of `n` events spread over PCRs 0–15 (the shape of
/// a long Linux IMA-free boot log: small data, digests of the data).
fn synthetic(n: usize) -> Vec<u8> {
    let mut b = LogBuilder::agile(&[HashAlg::Sha1, HashAlg::Sha256]);
    for i in 0..n {
        let data = format!("synthetic event {i}");
        b.event((i % 16) as u32, 0x8000_0007, data.as_bytes());
    }
    b.build()
}

/// The digests replay extends, per bank, collected once: the floor is extending exactly these.
fn extends(log: &EventLog<'_>) -> Vec<(HashAlg, usize, Vec<u8>)> {
    let mut out = Vec::new();
    for e in log.events() {
        let e = e.unwrap();
        if !e.is_extended() || (e.index == 0 && log.spec_id().is_some()) {
            continue;
        }
        for (alg, d) in e.digests() {
            if log.banks().contains(&alg) {
                out.push((alg, e.pcr as usize, d.to_vec()));
            }
        }
    }
    out
}

fn floor(ops: &[(HashAlg, usize, Vec<u8>)], pcrs: &mut [[u8; 64]; 24 * 5]) {
    for (alg, pcr, d) in ops {
        let slot = match alg {
            HashAlg::Sha1 => 0,
            HashAlg::Sha256 => 1,
            HashAlg::Sha384 => 2,
            HashAlg::Sha512 => 3,
            HashAlg::Sm3_256 => 4,
        } * 24
            + pcr;
        alg.extend(&mut pcrs[slot][..alg.digest_len()], d);
    }
}

fn count(log: &EventLog<'_>) -> usize {
    log.read_all().unwrap().len()
}

fn bench_log(c: &mut Criterion, group: &str, name: &str, bytes: &[u8]) {
    let log = EventLog::parse(bytes).unwrap();
    let events = count(&log);
    let ops = extends(&log);
    let first = log.banks()[0];
    eprintln!(
        "tcglog bench: {name}: {} bytes, {events} events, banks {:?}, {} extends",
        bytes.len(),
        log.banks(),
        ops.len()
    );
    let mut g = c.benchmark_group(group);
    for (what, tp) in [
        ("bytes", Throughput::Bytes(bytes.len() as u64)),
        ("events", Throughput::Elements(events as u64)),
    ] {
        g.throughput(tp);
        // Parse-only is reported per byte and per event; the rest per event only, to keep the run short.
        g.bench_with_input(
            BenchmarkId::new(format!("parse/{what}"), name),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let log = EventLog::parse(black_box(bytes)).unwrap();
                    let mut n = 0usize;
                    for e in log.events() {
                        n += e.unwrap().data.len();
                    }
                    n
                })
            },
        );
        if what == "events" {
            g.bench_with_input(
                BenchmarkId::new("replay_all_banks/events", name),
                bytes,
                |b, bytes| b.iter(|| replay(&EventLog::parse(black_box(bytes)).unwrap()).unwrap()),
            );
            g.bench_with_input(
                BenchmarkId::new("replay_one_bank/events", name),
                bytes,
                |b, bytes| {
                    b.iter(|| {
                        replay_banks(&EventLog::parse(black_box(bytes)).unwrap(), &[first]).unwrap()
                    })
                },
            );
            if name.contains("win") {
                // What a verifier does: replay the bank its quote covers and take claims from
                // events whose digest in that bank covers their data.
                let bank = hgs_tcglog::ReferenceLog::new(log).unwrap().bank();
                g.bench_with_input(
                    BenchmarkId::new("replay_and_claims_one_bank/events", name),
                    bytes,
                    |b, bytes| {
                        b.iter(|| {
                            let log = EventLog::parse(black_box(bytes)).unwrap();
                            (
                                replay_banks(&log, &[bank]).unwrap(),
                                BootClaims::from_reference(
                                    &hgs_tcglog::ReferenceLog::new(log).unwrap(),
                                ),
                            )
                        })
                    },
                );
                g.bench_with_input(
                    BenchmarkId::new("replay_and_claims/events", name),
                    bytes,
                    |b, bytes| {
                        b.iter(|| {
                            let log = EventLog::parse(black_box(bytes)).unwrap();
                            (
                                replay(&log).unwrap(),
                                BootClaims::from_reference(
                                    &hgs_tcglog::ReferenceLog::new(log).unwrap(),
                                ),
                            )
                        })
                    },
                );
            }
            g.bench_with_input(
                BenchmarkId::new("floor_all_banks/events", name),
                &ops,
                |b, ops| {
                    b.iter(|| {
                        let mut pcrs = [[0u8; 64]; 24 * 5];
                        floor(black_box(ops), &mut pcrs);
                        pcrs[7][0]
                    })
                },
            );
        }
    }
    g.finish();
}

fn corpus(c: &mut Criterion) {
    let logs = corpus_logs();
    // The median log by size, the largest, and three named ones (Windows VM, Windows full boot on
    // hardware, RHEL 8 with three banks); set HGS_BENCH_ALL=1 for every log.
    let all = std::env::var_os("HGS_BENCH_ALL").is_some();
    let mid = logs.len() / 2;
    for (i, (name, bytes)) in logs.iter().enumerate() {
        let pick = all
            || i == mid
            || i + 1 == logs.len()
            || name == "ga_windows_gcp_shielded_vm"
            || name == "gtt_rhel8-uefi"
            || name == "imm_win_dell-notebook-boot0";
        if pick {
            bench_log(c, "tcglog_corpus", name, bytes);
        }
    }
}

fn synthetic_logs(c: &mut Criterion) {
    for n in [10_000usize, 100_000] {
        let bytes = synthetic(n);
        bench_log(c, "tcglog_synthetic", &format!("{n}_events"), &bytes);
    }
}

fn extend_cost(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcglog_extend");
    for alg in HashAlg::ALL {
        let digest = vec![0x5a; alg.digest_len()];
        g.bench_function(alg.name(), |b| {
            let mut pcr = [0u8; 64];
            b.iter(|| {
                alg.extend(&mut pcr[..alg.digest_len()], black_box(&digest));
                pcr[0]
            })
        });
    }
    g.finish();
}

/// Times `f` as the median over `rounds` rounds of `iters` calls, in ns per call; the rounds of
/// the operations compared are interleaved so that load from other processes hits them alike.
fn per_call(iters: u32, f: &mut dyn FnMut()) -> f64 {
    let t = std::time::Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The numbers the targets are stated in, measured in one run and printed as a table:
/// for the median corpus log (and the other picked logs) parse+replay against the hashing floor
/// (extends per bank × the cost of one extend of that bank, measured here), and for Windows logs
/// parse+replay+claims (all banks, and the quoted bank only).
/// `HGS_BENCH_SUMMARY=0` skips it (e.g. when profiling one benchmark).
fn summary(_: &mut Criterion) {
    if std::env::var_os("HGS_BENCH_SUMMARY").is_some_and(|v| v == "0") {
        return;
    }
    let logs = corpus_logs();
    if logs.is_empty() {
        return;
    }
    let mid = logs.len() / 2;
    let rounds = 41;
    let mut extend_ns = std::collections::BTreeMap::new();
    for alg in HashAlg::ALL {
        let d = vec![0x5a; alg.digest_len()];
        let mut pcr = [0u8; 64];
        let v: Vec<f64> = (0..rounds)
            .map(|_| {
                per_call(2000, &mut || {
                    alg.extend(&mut pcr[..alg.digest_len()], black_box(&d));
                })
            })
            .collect();
        extend_ns.insert(alg, median(v));
    }
    eprintln!(
        "\ntcglog summary (median of {rounds} interleaved rounds): one extend = {}",
        extend_ns
            .iter()
            .map(|(a, ns)| format!("{a} {ns:.1} ns"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "{:<38} {:>7} {:>10} {:>12} {:>6} {:>14} {:>14}",
        "log", "extends", "floor µs", "p+replay µs", "ratio", "p+r+claims µs", "1-bank p+r+c µs"
    );
    for (i, (name, bytes)) in logs.iter().enumerate() {
        let win = name.contains("win");
        if !(i == mid || win || name == "gtt_rhel8-uefi") {
            continue;
        }
        let log = EventLog::parse(bytes).unwrap();
        let ops = extends(&log);
        let floor_ns: f64 = ops.iter().map(|(a, _, _)| extend_ns[a]).sum();
        let bank = hgs_tcglog::ReferenceLog::new(log).unwrap().bank();
        let iters = 200;
        let (mut r, mut c, mut c1) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            r.push(per_call(iters, &mut || {
                black_box(replay(&EventLog::parse(black_box(bytes)).unwrap()).unwrap());
            }));
            if win {
                c.push(per_call(iters / 4, &mut || {
                    let log = EventLog::parse(black_box(bytes)).unwrap();
                    black_box((
                        replay(&log).unwrap(),
                        BootClaims::from_reference(&hgs_tcglog::ReferenceLog::new(log).unwrap()),
                    ));
                }));
                c1.push(per_call(iters / 4, &mut || {
                    let log = EventLog::parse(black_box(bytes)).unwrap();
                    black_box((
                        replay_banks(&log, &[bank]).unwrap(),
                        BootClaims::from_reference(&hgs_tcglog::ReferenceLog::new(log).unwrap()),
                    ));
                }));
            }
        }
        let r = median(r);
        let fmt = |v: Vec<f64>| {
            if v.is_empty() {
                "-".to_string()
            } else {
                format!("{:.1}", median(v) / 1e3)
            }
        };
        let tag = if i == mid { " (median log)" } else { "" };
        eprintln!(
            "{:<38} {:>7} {:>10.2} {:>12.2} {:>6.2} {:>14} {:>14}",
            format!("{name}{tag}"),
            ops.len(),
            floor_ns / 1e3,
            r / 1e3,
            r / floor_ns,
            fmt(c),
            fmt(c1),
        );
    }
    eprintln!(
        "targets: ratio <= 1.5 on the median log; parse+replay+claims < 60 µs on a full-boot Windows log\n"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = summary, extend_cost, corpus, synthetic_logs
}
criterion_main!(benches);
