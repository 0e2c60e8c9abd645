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
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), bytes));
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
