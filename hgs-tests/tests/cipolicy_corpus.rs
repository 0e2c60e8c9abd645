//! Every binary policy of the shared corpus (`../shared/corpus/cipolicy`, provenance in its
//! MANIFEST.md) parses to exactly the fields its manifest lists (which the corpus authors checked
//! against the paired XML sources), and signed files yield the digest of their inner policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use hgs_cipolicy::{CiPolicy, Error, HashAlg};
use hgs_tpm::hex::encode as hex;
use serde_json::Value;

fn corpus() -> PathBuf {
    hgs_testkit::corpus("cipolicy")
}

fn binaries() -> Vec<Value> {
    let m: Vec<Value> =
        serde_json::from_slice(&std::fs::read(corpus().join("manifest.json")).unwrap()).unwrap();
    m.into_iter().filter(|e| e["kind"] == "binary").collect()
}

#[test]
fn every_corpus_policy_parses_to_its_manifest_fields() {
    let all = binaries();
    assert_eq!(all.len(), 36, "the shared corpus lists 36 binaries");
    for e in &all {
        let file = e["file"].as_str().unwrap();
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        let p = CiPolicy::parse(&bytes).unwrap_or_else(|err| panic!("{file}: {err}"));
        let s = p.summary();
        assert_eq!(
            p.is_signed(),
            e["signed"].as_bool().unwrap(),
            "{file} signed"
        );
        assert_eq!(
            u64::from(s.format_version),
            e["format_version"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(
            s.version,
            e["version_ex"].as_str().unwrap(),
            "{file} version"
        );
        assert_eq!(
            s.policy_type_id,
            e["policy_type_id"].as_str().unwrap().to_uppercase(),
            "{file}"
        );
        assert_eq!(
            s.platform_id,
            e["platform_id"].as_str().unwrap().to_uppercase(),
            "{file}"
        );
        // PolicyID / BasePolicyID exist from format 6 on; before, only the PolicyTypeID.
        let ids = (
            p.policy().policy_id.map(|g| format!("{g:#}")),
            p.policy().base_policy_id.map(|g| format!("{g:#}")),
        );
        let want_ids = (
            e["policy_id"].as_str().map(str::to_uppercase),
            e["base_policy_id"].as_str().map(str::to_uppercase),
        );
        assert_eq!(ids, want_ids, "{file} policy ids");
        assert_eq!(
            s.option_flags,
            e["option_flags"].as_str().unwrap().to_lowercase(),
            "{file}"
        );
        let want: BTreeSet<&str> = e["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        let got: BTreeSet<&str> = s.options.iter().map(String::as_str).collect();
        assert_eq!(got, want, "{file} options");
        assert_eq!(
            s.audit_mode,
            e["audit_mode"].as_bool().unwrap(),
            "{file} audit"
        );
        assert_eq!(
            s.supplemental,
            e["supplemental_flag"].as_bool().unwrap(),
            "{file}"
        );
        let c = &e["counts"];
        assert_eq!(
            s.counts.ekus as u64,
            c["ekus"].as_u64().unwrap(),
            "{file} ekus"
        );
        assert_eq!(
            s.counts.file_rules as u64,
            c["file_rules"].as_u64().unwrap(),
            "{file} file rules"
        );
        assert_eq!(
            s.counts.signers as u64,
            c["signers"].as_u64().unwrap(),
            "{file} signers"
        );
        assert_eq!(
            s.counts.scenarios as u64,
            c["scenarios"].as_u64().unwrap(),
            "{file} scenarios"
        );
        assert_eq!(
            u64::from(s.hvci_options),
            e["hvci_options"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(
            s.update_policy_signers as u64,
            e["update_policy_signers"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(
            p.policy().settings.len() as u64,
            e["settings_count"].as_u64().unwrap(),
            "{file} settings"
        );
        assert_eq!(
            s.name.as_deref(),
            e["policy_info_name"].as_str(),
            "{file} name"
        );
        assert_eq!(
            s.info_id.as_deref(),
            e["policy_info_id"].as_str(),
            "{file} info id"
        );
        let scen: Vec<(u64, String)> = e["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x[0].as_u64().unwrap(), x[1].as_str().unwrap().to_string()))
            .collect();
        let ours: Vec<(u64, String)> = p
            .policy()
            .scenarios
            .iter()
            .map(|x| {
                (
                    u64::from(x.value),
                    format!("0x{:x}", x.minimum_hash_algorithm),
                )
            })
            .collect();
        assert_eq!(ours, scen, "{file} scenarios");
        // The measured-digest candidate: SHA-256 of the unsigned policy bytes.
        assert_eq!(
            hex(&p.measured_digest(HashAlg::Sha256)),
            e["inner_policy_sha256"].as_str().unwrap(),
            "{file}"
        );
        if !p.is_signed() {
            assert_eq!(p.unsigned_bytes(), bytes.as_slice());
        }
    }
}

#[test]
fn signed_and_unsigned_forms_of_one_policy_measure_the_same() {
    // Signed files whose inner policy also exists as another signed envelope: same inner digest,
    // different files.
    let all = binaries();
    let mut by_inner: std::collections::BTreeMap<String, Vec<(String, String)>> =
        Default::default();
    for e in &all {
        by_inner
            .entry(e["inner_policy_sha256"].as_str().unwrap().to_string())
            .or_default()
            .push((
                e["file"].as_str().unwrap().to_string(),
                e["sha256"].as_str().unwrap().to_string(),
            ));
    }
    let mut checked = 0;
    for files in by_inner.values().filter(|v| v.len() > 1) {
        let digests: BTreeSet<Vec<u8>> = files
            .iter()
            .map(|(f, _)| {
                CiPolicy::parse(&std::fs::read(corpus().join(f)).unwrap())
                    .unwrap()
                    .measured_digest(HashAlg::Sha256)
            })
            .collect();
        assert_eq!(digests.len(), 1, "{files:?}");
        checked += 1;
    }
    // And a signed file against its own eContent parsed as an unsigned policy.
    let signed = all.iter().find(|e| e["signed"] == true).unwrap();
    let bytes = std::fs::read(corpus().join(signed["file"].as_str().unwrap())).unwrap();
    let p = CiPolicy::parse(&bytes).unwrap();
    let inner = CiPolicy::parse(p.unsigned_bytes()).unwrap();
    assert!(!inner.is_signed());
    assert_eq!(
        inner.measured_digest(HashAlg::Sha256),
        p.measured_digest(HashAlg::Sha256)
    );
    assert_eq!(inner.summary().counts, p.summary().counts);
    assert!(checked >= 1);
}

#[test]
fn every_truncation_is_a_typed_error_never_a_panic() {
    let bytes = std::fs::read(corpus().join("pywdac__SiPolicy__b27df475.p7b")).unwrap();
    for cut in 0..bytes.len() {
        assert!(CiPolicy::parse(&bytes[..cut]).is_err(), "cut {cut}");
    }
    let signed = binaries()
        .into_iter()
        .find(|e| e["signed"] == true)
        .unwrap();
    let bytes = std::fs::read(corpus().join(signed["file"].as_str().unwrap())).unwrap();
    for cut in (0..bytes.len()).step_by(7) {
        assert!(CiPolicy::parse(&bytes[..cut]).is_err(), "signed cut {cut}");
    }
}

#[test]
fn counts_beyond_the_file_and_unknown_versions_are_refused_with_offsets() {
    let bytes = std::fs::read(corpus().join("pywdac__SiPolicy__b27df475.p7b")).unwrap();
    let mut bad = bytes.clone();
    bad[0x2C..0x30].copy_from_slice(&u32::MAX.to_le_bytes()); // FileRule count
    assert!(matches!(
        CiPolicy::parse(&bad),
        Err(Error::CountTooLarge {
            field: "FileRule count",
            offset: 0x2C,
            ..
        })
    ));
    let mut bad = bytes.clone();
    bad[0..4].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(CiPolicy::parse(&bad), Err(Error::UnknownFormatVersion(9)));
    let mut bad = bytes.clone();
    bad.extend_from_slice(&[0, 0, 0, 0]);
    assert!(matches!(
        CiPolicy::parse(&bad),
        Err(Error::TrailingBytes { count: 4, .. })
    ));
}

#[test]
fn cms_with_another_content_type_is_refused() {
    // ContentInfo { id-data (1.2.840.113549.1.7.1), [0] OCTET STRING }
    let cms = [
        0x30, 0x11, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01, 0xA0, 0x04,
        0x04, 0x02, 0x07, 0x00,
    ];
    match CiPolicy::parse(&cms) {
        Err(Error::UnexpectedContentType(oid, _)) => assert_eq!(oid, "1.2.840.113549.1.7.1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn audit_policies_are_flagged_and_enforced_ones_are_not() {
    let audit = std::fs::read(corpus().join("msvdbl__SiPolicy_Audit__7f43bef5.p7b")).unwrap();
    let enforced = std::fs::read(corpus().join("msvdbl__SiPolicy_Enforced__fc33d130.p7b")).unwrap();
    let a = CiPolicy::parse(&audit).unwrap();
    let e = CiPolicy::parse(&enforced).unwrap();
    assert!(a.audit_mode() && a.summary().enforcement.contains("blocks nothing"));
    assert!(!e.audit_mode() && e.summary().enforcement == "enforced");
}
