//! The SIPA walker on every Windows log of the corpus reproduces, value for value and in order,
//! the records the corpus manifest lists under `sipa_observed` (an independent throwaway walk by
//! the research team), and hostile SIPA payloads are typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use hgs_tcglog::sipa::{self, SiPolicy};
use hgs_tcglog::{Error, EventLog};
use serde_json::{json, Value};

fn corpus() -> PathBuf {
    hgs_testkit::corpus("tcglog")
}

fn observed(bytes: &[u8]) -> BTreeMap<String, Vec<Value>> {
    let log = EventLog::parse(bytes).unwrap();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in log.events() {
        let e = e.unwrap();
        if !sipa::is_sipa_event(&e) {
            continue;
        }
        let pcr = if e.pcr == u32::MAX {
            "PCR-1".to_string()
        } else {
            format!("PCR{}", e.pcr)
        };
        let _ = sipa::walk(e.data, e.index, |r| {
            let Some(name) = sipa::name_of(r.id) else {
                return;
            };
            let v = match r.id {
                sipa::id::SYSTEMROOT | sipa::id::ELAM_KEYNAME | sipa::id::AIKID => {
                    json!(r.as_utf16())
                }
                sipa::id::SI_POLICY => {
                    let p = SiPolicy::parse(r.data, e.index).unwrap();
                    json!({"version": p.version_string(), "name": p.name, "hash_alg": p.hash_alg, "digest": hgs_tpm::hex::encode(&p.digest)})
                }
                _ => match r.as_uint() {
                    Some(v) => json!(v),
                    None => return,
                },
            };
            out.entry(format!("{pcr}:{name}")).or_default().push(v);
        });
    }
    out
}

#[test]
fn sipa_walk_matches_the_manifest_observations_for_every_windows_log() {
    let manifest: Vec<Value> =
        serde_json::from_slice(&std::fs::read(corpus().join("manifest.json")).unwrap()).unwrap();
    let mut logs = 0;
    let mut values = 0;
    for entry in &manifest {
        let Some(obs) = entry.get("sipa_observed") else {
            continue;
        };
        let file = entry["file"].as_str().unwrap();
        let ours = observed(&std::fs::read(corpus().join(file)).unwrap());
        for (key, want) in obs["values"].as_object().unwrap() {
            let got = ours.get(key).unwrap_or_else(|| panic!("{file}: no {key}"));
            assert_eq!(got, want.as_array().unwrap(), "{file} {key}");
            values += got.len();
        }
        logs += 1;
    }
    assert_eq!(logs, 11);
    assert!(values > 300, "{values}");
}

#[test]
fn linux_efi_stub_event_tags_are_not_sipa() {
    let bytes = std::fs::read(corpus().join("t2t_event-sd-boot-fedora37.bin")).unwrap();
    let log = EventLog::parse(&bytes).unwrap();
    let tags: Vec<_> = log
        .events()
        .map(Result::unwrap)
        .filter(|e| e.event_type == hgs_tcglog::EventType::EventTag)
        .collect();
    assert!(!tags.is_empty());
    assert!(tags.iter().all(|e| !sipa::is_sipa_event(e)));
}

#[test]
fn record_overflowing_its_container_is_a_typed_error_with_offset() {
    // Container of 16 bytes whose child claims 100.
    let mut d = Vec::new();
    d.extend_from_slice(&sipa::id::TRUSTBOUNDARY.to_le_bytes());
    d.extend_from_slice(&16u32.to_le_bytes());
    d.extend_from_slice(&sipa::id::BOOTCOUNTER.to_le_bytes());
    d.extend_from_slice(&100u32.to_le_bytes());
    d.extend_from_slice(&[0; 8]);
    let err = sipa::walk(&d, 5, |_| {}).unwrap_err();
    assert_eq!(
        err,
        Error::BadEventData {
            index: 5,
            what: "SIPA record".into(),
            data_offset: 8,
            reason: "record size overflows its container".into()
        }
    );
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let mut d = Vec::new();
    for _ in 0..=sipa::MAX_DEPTH + 1 {
        let mut outer = sipa::id::TRUSTBOUNDARY.to_le_bytes().to_vec();
        outer.extend_from_slice(&(d.len() as u32).to_le_bytes());
        outer.extend_from_slice(&d);
        d = outer;
    }
    assert!(matches!(
        sipa::walk(&d, 0, |_| {}),
        Err(Error::BadEventData { reason, .. }) if reason == "nesting deeper than MAX_DEPTH"
    ));
}

#[test]
fn si_policy_with_odd_name_length_or_short_digest_is_refused() {
    let mut p = 0u64.to_le_bytes().to_vec();
    p.extend_from_slice(&3u16.to_le_bytes());
    p.extend_from_slice(&0x000Bu16.to_le_bytes());
    p.extend_from_slice(&32u32.to_le_bytes());
    p.extend_from_slice(&[0x41, 0, 0]);
    assert!(SiPolicy::parse(&p, 0).is_err());
    p[8] = 2;
    assert!(matches!(
        SiPolicy::parse(&p, 0),
        Err(Error::BadEventData { reason, .. }) if reason == "digest runs past the payload"
    ));
}

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encoded_records_walk_back_in_order(leaves in proptest::collection::vec((0u32..0x000F_FFFF, proptest::collection::vec(any::<u8>(), 0..16)), 0..20)) {
            let inner = sipa::encode_records(&leaves);
            let data = sipa::encode_container(sipa::id::TRUSTBOUNDARY, &inner);
            let mut seen = Vec::new();
            sipa::walk(&data, 0, |r| seen.push((r.id, r.data.to_vec(), r.depth))).unwrap();
            prop_assert_eq!(seen.len(), leaves.len() + 1);
            prop_assert_eq!(seen[0].0, sipa::id::TRUSTBOUNDARY);
            for ((id, data, depth), (lid, ldata)) in seen[1..].iter().zip(&leaves) {
                prop_assert_eq!(id, lid);
                prop_assert_eq!(data, ldata);
                prop_assert_eq!(*depth, 1);
            }
        }

        #[test]
        fn si_policy_round_trips(version in any::<u64>(), name in "[A-Za-z0-9.]{0,20}", digest in proptest::collection::vec(any::<u8>(), 0..64)) {
            let p = SiPolicy { version, name, hash_alg: 0x000B, digest };
            prop_assert_eq!(SiPolicy::parse(&sipa::encode_si_policy(&p), 0).unwrap(), p);
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = sipa::walk(&data, 0, |_| {});
            let _ = SiPolicy::parse(&data, 0);
            let _ = sipa::VsmIdk::parse(&data, 0);
        }
    }
}
