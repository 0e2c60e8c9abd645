//! Boot claims of every corpus log, pinned: `tests/data/claims_golden.json` holds what
//! `BootClaims::from_log` returned for each log before the claims fast path (one pass, one bank,
//! no per-event allocation) replaced the all-banks one; both the default path and the
//! bank-specific path must still give exactly that on every log whose claim events carry the bank.
//! Regenerate (after a deliberate change of claims) with `HGS_BLESS=1 cargo test -p hgs-tcglog
//! --test claims_golden`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use hgs_tcglog::claims::BootClaims;
use hgs_tcglog::{EventLog, HashAlg};

fn corpus() -> PathBuf {
    std::env::var_os("HGS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"))
        .join("tcglog")
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/claims_golden.json")
}

/// Every corpus log that parses, with its bytes.
fn logs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus()).unwrap().flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if EventLog::parse(&bytes).is_ok() {
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                bytes,
            ));
        }
    }
    out.sort();
    assert!(out.len() >= 40, "corpus has {} logs", out.len());
    out
}

fn claims_json(c: &BootClaims) -> serde_json::Value {
    serde_json::to_value(c).unwrap()
}

#[test]
fn claims_of_every_corpus_log_equal_the_pinned_ones() {
    let mut now = BTreeMap::new();
    for (name, bytes) in logs() {
        let log = EventLog::parse(&bytes).unwrap();
        match BootClaims::from_log(&log) {
            Ok(c) => now.insert(name, claims_json(&c)),
            Err(e) => now.insert(name, serde_json::Value::String(format!("error: {e}"))),
        };
    }
    if std::env::var_os("HGS_BLESS").is_some() {
        let mut text = serde_json::to_string_pretty(&now).unwrap();
        text.push('\n');
        std::fs::write(golden_path(), text).unwrap();
        return;
    }
    let want: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(golden_path()).unwrap()).unwrap();
    assert_eq!(want.len(), now.len(), "logs pinned vs now");
    let windows = want.keys().filter(|k| k.contains("_win")).count();
    assert!(windows >= 10, "pinned Windows logs: {windows}");
    for (name, got) in &now {
        assert_eq!(Some(got), want.get(name), "claims of {name}");
    }
}

#[test]
fn bank_specific_claims_equal_the_pinned_ones_or_name_the_events_lacking_the_bank() {
    let want: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(golden_path()).unwrap()).unwrap();
    let mut compared = 0;
    for (name, bytes) in logs() {
        let log = EventLog::parse(&bytes).unwrap();
        let Ok(all) = BootClaims::from_log(&log) else {
            continue;
        };
        for bank in log.banks() {
            let one = BootClaims::from_log_with_bank(&log, bank).unwrap();
            if one.untrusted_events.is_empty() {
                assert_eq!(
                    Some(&claims_json(&one)),
                    want.get(&name),
                    "{name} in {bank}"
                );
                compared += 1;
            } else {
                // Nothing in the corpus is tampered: an event is untrusted in one bank only
                // because it carries no digest of that bank (Windows' SHA-256-only events).
                let events = log.read_all().unwrap();
                for i in &one.untrusted_events {
                    let e = events[*i as usize];
                    assert!(e.digest(bank).is_none(), "{name}: event {i} in {bank}");
                }
                assert!(all.untrusted_events.is_empty(), "{name}");
            }
        }
        if name.contains("_win") {
            let bank = BootClaims::default_bank(&log).unwrap();
            let one = BootClaims::from_log_with_bank(&log, bank).unwrap();
            assert_eq!(one, all, "{name}: default bank {bank}");
        }
    }
    assert!(compared >= 40, "compared {compared}");
}

/// Corrupting one data byte of an event a claim comes from makes that event untrusted on both
/// paths, and the claim it gave disappears (or comes from another event).
#[test]
fn tampered_claim_events_are_rejected_on_both_paths() {
    let bytes = std::fs::read(corpus().join("imm_win_x1carbon_2009.bin")).unwrap();
    let log = EventLog::parse(&bytes).unwrap();
    let before = BootClaims::from_log(&log).unwrap();
    let sb = before.secure_boot.clone().unwrap();
    let counter = before.boot_counter.clone().unwrap();
    for (target, what) in [
        (sb.event_index, "SecureBoot"),
        (counter.event_index, "BOOTCOUNTER"),
    ] {
        let e = log.read_all().unwrap()[target as usize];
        let mut bad = bytes.clone();
        // The last data byte: the SecureBoot value itself, or the end of a SIPA record.
        let at = (e.data.as_ptr() as usize - bytes.as_ptr() as usize) + e.data.len() - 1;
        bad[at] ^= 1;
        let bad_log = EventLog::parse(&bad).unwrap();
        for bank in [None, Some(HashAlg::Sha256), Some(HashAlg::Sha1)] {
            let c = match bank {
                None => BootClaims::from_log(&bad_log).unwrap(),
                Some(b) => BootClaims::from_log_with_bank(&bad_log, b).unwrap(),
            };
            assert!(
                c.untrusted_events.contains(&target),
                "{what} event {target} tampered, bank {bank:?}: {:?}",
                c.untrusted_events
            );
            if what == "SecureBoot" {
                assert!(c
                    .secure_boot
                    .as_ref()
                    .is_none_or(|s| s.event_index != target));
            } else {
                assert!(c
                    .boot_counter
                    .as_ref()
                    .is_none_or(|s| s.event_index != target));
            }
        }
    }
}
