//! Boot claims of every corpus log, pinned: `tests/data/claims_golden.json` holds what the claims
//! reader returned for each log before the claims fast path, and before reading moved behind
//! `QuotedLog`/`ReferenceLog` (one bank, quoted PCRs, PCR 7 before its separator); the reference
//! reading must still give exactly that, and no Windows log may show an anomaly.
//! Regenerate (after a deliberate change of claims) with `HGS_BLESS=1 cargo test -p hgs-tcglog
//! --test claims_golden`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use hgs_tcglog::BootClaims;
use hgs_tcglog::{EventLog, ReferenceLog};

fn corpus() -> PathBuf {
    hgs_testkit::corpus("tcglog")
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

/// The claims of a log as the reference reading gives them (every PCR, strongest declared bank),
/// with the anomaly list apart: the pinned claims predate anomalies.
fn reference_json(bytes: &[u8]) -> (serde_json::Value, Vec<hgs_tcglog::LogAnomaly>) {
    let log = EventLog::parse(bytes).unwrap();
    match ReferenceLog::new(log) {
        Ok(r) => {
            let c = BootClaims::from_reference(&r);
            let mut v = claims_json(&c);
            if let Some(o) = v.as_object_mut() {
                o.remove("anomalies");
            }
            (v, c.anomalies)
        }
        Err(e) => (serde_json::Value::String(format!("error: {e}")), Vec::new()),
    }
}

/// What a pinned entry says, without the field the pin had and the reading no longer has
/// (`untrusted_events`: every pinned log had it empty, checked here).
fn pinned(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        let untrusted = o.remove("untrusted_events");
        assert!(untrusted.is_none_or(|u| u == serde_json::json!([])));
    }
    v
}

#[test]
fn claims_of_every_corpus_log_equal_the_pinned_ones() {
    let mut now = BTreeMap::new();
    for (name, bytes) in logs() {
        now.insert(name, reference_json(&bytes));
    }
    if std::env::var_os("HGS_BLESS").is_some() {
        let blessed: BTreeMap<_, _> = now.iter().map(|(k, (v, _))| (k, v)).collect();
        let mut text = serde_json::to_string_pretty(&blessed).unwrap();
        text.push('\n');
        std::fs::write(golden_path(), text).unwrap();
        return;
    }
    let want: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(golden_path()).unwrap()).unwrap();
    assert_eq!(want.len(), now.len(), "logs pinned vs now");
    let windows = want.keys().filter(|k| k.contains("_win")).count();
    assert!(windows >= 10, "pinned Windows logs: {windows}");
    for (name, (got, anomalies)) in &now {
        let want = want.get(name).map(pinned);
        assert_eq!(
            Some(got),
            want.as_ref(),
            "claims of {name} (anomalies {anomalies:?})"
        );
        // No false rejects: no real Windows log has an anomaly.
        if name.contains("_win") {
            assert!(anomalies.is_empty(), "{name}: {anomalies:?}");
        }
    }
}
