//! The encoder (feature `builder`) and the parser agree: every corpus binary re-encodes to its
//! exact bytes, and random policies round-trip (proptest).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_cipolicy::builder::encode;
use hgs_cipolicy::{
    BinaryPolicy, CertRoot, FileRule, FileRuleKind, Scenario, Setting, SettingValue, Signer,
    SignerGroup,
};
use hgs_cipolicy::{Guid, Version};
use proptest::prelude::*;

fn corpus() -> PathBuf {
    hgs_testkit::corpus("cipolicy")
}

#[test]
fn every_corpus_binary_reencodes_byte_for_byte() {
    let m: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(corpus().join("manifest.json")).unwrap()).unwrap();
    let mut n = 0;
    for e in m.iter().filter(|e| e["kind"] == "binary") {
        let bytes = std::fs::read(corpus().join(e["file"].as_str().unwrap())).unwrap();
        let p = hgs_cipolicy::CiPolicy::parse(&bytes).unwrap();
        assert_eq!(encode(p.policy()), p.unsigned_bytes(), "{}", e["file"]);
        n += 1;
    }
    assert_eq!(n, 36);
}

fn s() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 ._-]{0,12}"
}

fn list() -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(any::<u32>(), 0..4)
}

prop_compose! {
    fn arb_group()(allowed in proptest::collection::vec((any::<u32>(), list()), 0..3),
                   denied in proptest::collection::vec((any::<u32>(), list()), 0..3),
                   file_rules in list()) -> SignerGroup {
        SignerGroup { allowed, denied, file_rules }
    }
}

fn arb_policy(hashes: &'static [u8]) -> impl Strategy<Value = BinaryPolicy<'static>> {
    (
        prop_oneof![Just(3u32), Just(5), Just(7), Just(8)],
        any::<[u8; 16]>(),
        any::<u32>(),
        any::<u64>(),
        proptest::collection::vec(
            (
                0u32..3,
                s(),
                any::<u64>(),
                0usize..hashes.len(),
                s(),
                proptest::collection::vec(s(), 0..2),
            ),
            0..5,
        ),
        proptest::collection::vec((any::<bool>(), any::<u32>(), list(), s(), s()), 0..4),
        proptest::collection::vec(
            (
                prop_oneof![Just(131u32), Just(12)],
                list(),
                arb_group(),
                arb_group(),
                arb_group(),
            ),
            0..3,
        ),
        proptest::collection::vec(
            (
                s(),
                s(),
                s(),
                prop_oneof![Just(0u8), Just(1), Just(2), Just(3)],
                any::<u32>(),
                s(),
            ),
            0..3,
        ),
        (list(), list(), any::<u32>(), any::<[u8; 16]>()),
    )
        .prop_map(
            move |(fv, gid, flags, ver, rules, signers, scen, settings, (upd, ci, hvci, pid))| {
                let file_rules = rules
                    .into_iter()
                    .map(|(k, name, minv, h, path, app_ids)| FileRule {
                        kind: [
                            FileRuleKind::Deny,
                            FileRuleKind::Allow,
                            FileRuleKind::FileAttrib,
                        ][k as usize],
                        file_name: name,
                        minimum_version: Version(minv),
                        hash: &hashes[..h],
                        maximum_version: (fv >= 3).then_some(Version(minv / 2)),
                        app_ids: if fv >= 3 { app_ids } else { vec![] },
                        metadata: (fv >= 4).then(|| [path.clone(), String::new(), path.clone()]),
                        package: (fv >= 5).then(|| (path.clone(), Version(1))),
                        file_path: (fv >= 7).then_some(path),
                    })
                    .collect();
                let signers = signers
                    .into_iter()
                    .map(|(tbs, wk, ekus, issuer, publisher)| Signer {
                        root: if tbs {
                            CertRoot::Tbs(&hashes[..32])
                        } else {
                            CertRoot::WellKnown(wk)
                        },
                        ekus,
                        issuer,
                        publisher,
                        oem_id: String::new(),
                        file_attribs: vec![],
                        sign_time_after: (fv >= 3).then_some(u64::from(wk)),
                    })
                    .collect();
                let scenarios = scen
                    .into_iter()
                    .map(|(value, inherited, a, b, c)| Scenario {
                        value,
                        inherited,
                        minimum_hash_algorithm: 0x800C,
                        groups: [a, b, c],
                    })
                    .collect();
                let settings = settings
                    .into_iter()
                    .map(|(provider, key, value_name, t, v, text)| Setting {
                        provider,
                        key,
                        value_name,
                        value: match t {
                            0 => SettingValue::Bool(v % 2 == 1),
                            1 => SettingValue::DWord(v),
                            2 => SettingValue::Binary(&hashes[..(v % 9) as usize]),
                            _ => SettingValue::String(text),
                        },
                    })
                    .collect();
                BinaryPolicy {
                    format_version: fv,
                    policy_type_id: Guid(gid),
                    platform_id: Guid(pid),
                    option_flags: flags,
                    version: Version(ver),
                    ekus: vec![&hashes[..3]],
                    file_rules,
                    signers,
                    update_policy_signers: upd,
                    ci_signers: ci,
                    scenarios,
                    hvci_options: hvci,
                    settings,
                    policy_id: (fv >= 6).then_some(Guid(pid)),
                    base_policy_id: (fv >= 6).then_some(Guid(gid)),
                    supplemental_signers: vec![],
                    app_settings: 0,
                }
            },
        )
}

static HASHES: [u8; 64] = [0xA5; 64];

proptest! {
    #[test]
    fn random_policies_round_trip(p in arb_policy(&HASHES)) {
        let bytes = encode(&p);
        let back = BinaryPolicy::parse(&bytes).unwrap();
        prop_assert_eq!(back, p);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = hgs_cipolicy::CiPolicy::parse(&data);
    }
}
