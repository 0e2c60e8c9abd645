//! Every log of the shared corpus (`../shared/corpus/tcglog`, provenance in its MANIFEST.md):
//! it parses (or fails as the manifest says), and each PCR the manifest's `replay_check` marks `ok`
//! replays to exactly the expected value, each marked `mismatch` does not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_tcglog::{replay, replay_banks, verify_digests, EventLog, HashAlg, LogFormat};

fn corpus() -> PathBuf {
    hgs_testkit::corpus("tcglog")
}

fn manifest() -> Vec<serde_json::Value> {
    let p = corpus().join("manifest.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

#[test]
fn every_corpus_log_parses_with_its_format_and_event_count_or_fails_as_stated() {
    let m = manifest();
    assert!(m.len() >= 40, "corpus shrank: {}", m.len());
    for entry in &m {
        let file = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        let format = entry["format"].as_str().unwrap();
        if entry.get("parse_errors").is_some_and(|e| !e.is_null()) {
            assert!(
                EventLog::parse(&bytes).is_err(),
                "{file} must fail to parse"
            );
            continue;
        }
        let log = EventLog::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let want = if format.starts_with("crypto-agile") {
            LogFormat::CryptoAgile
        } else {
            LogFormat::LegacySha1
        };
        assert_eq!(log.format(), want, "{file}");
        let events = log.read_all().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            events.len() as u64,
            entry["events"].as_u64().unwrap(),
            "{file}: event count"
        );
        let banks: Vec<&str> = log.banks().iter().map(|b| b.name()).collect();
        let want_banks: Vec<&str> = entry["banks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        assert_eq!(banks, want_banks, "{file}: banks");
    }
}

#[test]
fn replay_reproduces_every_ok_pcr_and_not_the_mismatched_ones() {
    let mut checked = 0;
    for entry in manifest() {
        let Some(rc) = entry.get("replay_check").and_then(|v| v.as_object()) else {
            continue;
        };
        let file = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        let log = EventLog::parse(&bytes).unwrap();
        let banks: Vec<HashAlg> = rc.keys().map(|k| HashAlg::from_name(k).unwrap()).collect();
        let pcrs = replay_banks(&log, &banks).unwrap();
        for (bank, check) in rc {
            let alg = HashAlg::from_name(bank).unwrap();
            let expected = &entry["expected_pcrs"][bank];
            for pcr in check["ok"].as_array().unwrap() {
                let pcr = pcr.as_u64().unwrap() as u32;
                let want =
                    hgs_tpm::hex::decode(expected[pcr.to_string()].as_str().unwrap()).unwrap();
                assert_eq!(
                    pcrs.get(alg, pcr),
                    Some(want.as_slice()),
                    "{file} {bank} PCR {pcr}"
                );
                checked += 1;
            }
            for pcr in check["mismatch"].as_array().unwrap() {
                let pcr = pcr.as_u64().unwrap() as u32;
                let want =
                    hgs_tpm::hex::decode(expected[pcr.to_string()].as_str().unwrap()).unwrap();
                assert_ne!(
                    pcrs.get(alg, pcr),
                    Some(want.as_slice()),
                    "{file} {bank} PCR {pcr} must not replay"
                );
            }
        }
    }
    assert!(checked > 500, "only {checked} PCR values checked");
}

#[test]
fn whole_log_replay_equals_streaming_one_event_at_a_time_on_every_corpus_log() {
    // `replay` queues extends and performs them in batches; `PcrBanks::extend` is the streaming
    // fold a caller drives event by event. Both must give every bank, PCR and flag alike.
    let mut checked = 0;
    for entry in std::fs::read_dir(corpus()).unwrap().flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let Ok(log) = EventLog::parse(&bytes) else {
            continue;
        };
        let Ok(batched) = replay(&log) else {
            continue;
        };
        let mut streamed = hgs_tcglog::PcrBanks::new(&log.banks());
        for e in log.events() {
            let e = e.unwrap();
            if e.index == 0 && log.spec_id().is_some() {
                continue;
            }
            streamed.extend(&e);
        }
        assert_eq!(batched, streamed, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} corpus logs replayed");
}

#[test]
fn startup_locality_three_sets_pcr0_initial_value() {
    // The locality-3 logs replay PCR 0 only with 00..03 as initial value.
    let bytes = std::fs::read(corpus().join("imm_win_DESKTOP-MIMU51J-EPP-ESET.bin")).unwrap();
    let log = EventLog::parse(&bytes).unwrap();
    let with = replay(&log).unwrap();
    let m = manifest();
    let entry = m
        .iter()
        .find(|e| e["file"] == "imm_win_DESKTOP-MIMU51J-EPP-ESET.bin")
        .unwrap();
    let want =
        hgs_tpm::hex::decode(entry["expected_pcrs"]["sha256"]["0"].as_str().unwrap()).unwrap();
    assert_eq!(with.get(HashAlg::Sha256, 0), Some(want.as_slice()));
    // Without the locality event the value differs: strip it by replaying events by hand.
    let mut manual = hgs_tcglog::PcrBanks::new(&[HashAlg::Sha256]);
    for e in log.events().skip(1) {
        let e = e.unwrap();
        if e.event_type != hgs_tcglog::EventType::NoAction {
            manual.extend(&e);
        }
    }
    assert_ne!(manual.get(HashAlg::Sha256, 0), Some(want.as_slice()));
}

#[test]
fn windows_sha256_only_events_do_not_extend_the_sha1_bank() {
    // Windows writes SHA-256-only digests for its own events (PCR 11-14); the TPM quoted SHA-1
    // PCR 14 at its reset value, so those events must not touch the SHA-1 bank.
    let bytes = std::fs::read(corpus().join("imm_win_IMN-SUPERMICRO-WBCL-Quote-AIKs.bin")).unwrap();
    let log = EventLog::parse(&bytes).unwrap();
    let pcrs = replay(&log).unwrap();
    assert!(pcrs.lacks_digests(HashAlg::Sha1, 14));
    assert!(!pcrs.lacks_digests(HashAlg::Sha256, 14));
    assert_eq!(pcrs.get(HashAlg::Sha1, 14), Some(&[0u8; 20][..]));
    assert!(pcrs.has_events(14));
}

#[test]
fn short_no_action_log_is_legacy_not_crypto_agile() {
    let bytes = std::fs::read(corpus().join("ga_short_no_action_eventlog.bin")).unwrap();
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.format(), LogFormat::LegacySha1);
    assert_eq!(log.read_all().unwrap().len(), 1);
}

/// Digest-covers-data findings on the whole corpus. Every mismatch must be one of the known,
/// documented firmware quirks below; anything else is a regression (or a forged log).
#[test]
fn data_bearing_events_are_covered_by_their_digests_except_known_firmware_quirks() {
    let mut found = Vec::new();
    for entry in manifest() {
        let file = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        let Ok(log) = EventLog::parse(&bytes) else {
            continue;
        };
        for m in verify_digests(&log).unwrap() {
            found.push(format!(
                "{file}#{}:pcr{}:0x{:x}:{}",
                m.event_index, m.pcr, m.event_type, m.alg
            ));
        }
    }
    let known: &[&str] = KNOWN_MISMATCHES;
    let unexpected: Vec<&String> = found
        .iter()
        .filter(|f| !known.iter().any(|k| f.starts_with(k)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected digest mismatches: {unexpected:#?}"
    );
}

/// Each entry: `file#event:pcrN:type` prefixes of mismatches seen in real logs, with the reason.
const KNOWN_MISMATCHES: &[&str] = &[];
