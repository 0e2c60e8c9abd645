//! The real `TrustedTpm.cab` (`../shared/corpus/ekcert/trustedtpm`, provenance in its README):
//! its Authenticode signature verifies to the pinned Microsoft root, a changed byte or a cut-off
//! signature is refused, its certificates are the ones `cabextract` expands, and every corpus EK
//! leaf gets the same outcome against the cabinet as against the expanded tree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hgs_ekcert::{
    read_cabinet, read_trusted_tpm_cab, verify_cabinet, verify_chain, AuthenticodeError, CabError,
    Error, Options, PackageError, SignaturePolicy, TrustStore, TrustedTpmPackage, UnixTime,
    MICROSOFT_CODE_SIGNING_ROOT, MICROSOFT_TIMESTAMP_ROOT,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn corpus() -> PathBuf {
    hgs_testkit::corpus("ekcert")
}

fn cab_path() -> PathBuf {
    corpus().join("trustedtpm/TrustedTpm.cab")
}

fn cab() -> Vec<u8> {
    std::fs::read(cab_path()).unwrap()
}

fn now() -> UnixTime {
    UnixTime::parse_rfc3339("2026-12-01T00:00:00Z").unwrap()
}

use hgs_tpm::hex::encode as hex;

#[test]
fn pinned_roots_are_the_published_microsoft_roots() {
    assert_eq!(
        hex(&Sha256::digest(MICROSOFT_CODE_SIGNING_ROOT)),
        "847df6a78497943f27fc72eb93f9a637320a02b561d0a91b09e87a7807ed7c61"
    );
    assert_eq!(
        hex(&Sha256::digest(MICROSOFT_TIMESTAMP_ROOT)),
        "df545bf919a2439c36983b54cdfc903dfa4f37d3996d8d84b4c31eec6f3c163e"
    );
}

#[test]
fn real_cabinet_signature_verifies() {
    let bytes = cab();
    let t = Instant::now();
    let sig = verify_cabinet(&bytes, now()).unwrap();
    eprintln!("signature verified in {:?}", t.elapsed());
    // The digest osslsigncode reports for this cabinet, and the one Microsoft signed.
    assert_eq!(
        hex(&sig.digest),
        "193f0f83b5b358a97f893065a98b15c13c5a3056f0dda1cf3c48812345b80c09"
    );
    let ts = UnixTime::parse_rfc3339("2024-11-22T00:03:32Z").unwrap();
    assert_eq!(sig.timestamp, Some(ts));
    assert_eq!(sig.checked_at, ts);
    assert_eq!(sig.chain.len(), 3, "{:?}", sig.chain);
    assert!(
        sig.chain[0].contains("CN=Microsoft Corporation"),
        "{:?}",
        sig.chain
    );
    assert!(sig.chain[2].contains("Microsoft Root Certificate Authority 2011"));
    // The signer expired in 2025: only the verified timestamp makes it acceptable today. A "now"
    // before the timestamp is refused.
    let before = UnixTime::parse_rfc3339("2024-11-01T00:00:00Z").unwrap();
    let e = verify_cabinet(&bytes, before).unwrap_err();
    assert!(
        matches!(&e, AuthenticodeError::Timestamp(inner)
            if matches!(**inner, AuthenticodeError::TimestampInFuture { .. })),
        "{e:?}"
    );
}

#[test]
fn changed_byte_is_refused() {
    let bytes = cab();
    // A byte of compressed data, of the header's cFiles, and of the signature itself.
    for at in [bytes.len() / 2, 28, bytes.len() - 5000] {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        let e = verify_cabinet(&b, now()).unwrap_err();
        eprintln!("byte {at}: {e}");
        if at < 2_508_387 {
            assert!(
                matches!(e, AuthenticodeError::CabinetDigestMismatch { .. }),
                "{e:?}"
            );
        }
        let e = read_trusted_tpm_cab(&b, now(), SignaturePolicy::Require).unwrap_err();
        assert!(matches!(e, PackageError::Signature(_)), "{e:?}");
    }
}

#[test]
fn cut_off_signature_is_refused_unless_allowed() {
    let bytes = cab();
    let cb = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let cut = &bytes[..cb];
    let e = verify_cabinet(cut, now()).unwrap_err();
    assert!(
        matches!(e, AuthenticodeError::SignatureArea { .. }),
        "{e:?}"
    );
    // Signature cut off and the reserve's pointer zeroed: "not signed".
    let mut zeroed = cut.to_vec();
    zeroed[44..52].fill(0);
    assert_eq!(
        verify_cabinet(&zeroed, now()).unwrap_err(),
        AuthenticodeError::NotSigned
    );
    assert!(matches!(
        read_trusted_tpm_cab(&zeroed, now(), SignaturePolicy::Require),
        Err(PackageError::Signature(AuthenticodeError::NotSigned))
    ));
    let p = read_trusted_tpm_cab(&zeroed, now(), SignaturePolicy::AllowUnsigned).unwrap();
    assert_eq!(p.unverified, Some(AuthenticodeError::NotSigned));
    assert!(p.signature.is_none());
    assert!(p.anchors.len() > 40);
    // A synthetic unsigned cabinet too.
    let tiny =
        hgs_ekcert::cab_builder::build(&[("X/RootCA/a.cer", MICROSOFT_CODE_SIGNING_ROOT)], true);
    assert_eq!(
        read_trusted_tpm_cab(&tiny, now(), SignaturePolicy::Require).unwrap_err(),
        PackageError::Signature(AuthenticodeError::NotSigned)
    );
    let p = read_trusted_tpm_cab(&tiny, now(), SignaturePolicy::AllowUnsigned).unwrap();
    assert_eq!(p.anchors.len(), 1);
    assert_eq!(p.anchors[0].vendor, "X");
}

#[test]
fn bounds_are_enforced() {
    // A header claiming more files than allowed is refused before anything is read.
    let mut b = hgs_ekcert::cab_builder::build(&[("a", b"x")], false);
    b[28..30].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(matches!(
        read_cabinet(&b),
        Err(CabError::TooLarge {
            what: "file count",
            ..
        })
    ));
}

fn package() -> TrustedTpmPackage {
    let t = Instant::now();
    let p = read_trusted_tpm_cab(&cab(), now(), SignaturePolicy::Require).unwrap();
    eprintln!("verified and read in {:?}", t.elapsed());
    p
}

fn store_of(p: &TrustedTpmPackage) -> TrustStore {
    let mut s = TrustStore::new();
    for c in &p.anchors {
        s.add_anchor_cert(c.certificate.clone());
    }
    for c in &p.intermediates {
        s.add_intermediate_cert(c.certificate.clone());
    }
    s
}

/// The tree `cabextract` expands, loaded the same way (VENDOR/RootCA anchors,
/// VENDOR/IntermediateCA intermediates); `None` when cabextract is not installed.
fn expanded_store() -> Option<(TrustStore, usize, usize)> {
    let dir = std::env::temp_dir().join(format!("hgs-trustedtpm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ok = std::process::Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(&dir)
        .arg(cab_path())
        .status()
        .ok()?
        .success();
    assert!(ok, "cabextract failed");
    let mut s = TrustStore::new();
    let (mut a, mut i) = (0, 0);
    for vendor in std::fs::read_dir(&dir).unwrap() {
        let vendor = vendor.unwrap().path();
        for (role, anchor) in [("RootCA", true), ("IntermediateCA", false)] {
            let Ok(files) = std::fs::read_dir(vendor.join(role)) else {
                continue;
            };
            for f in files {
                let f: &Path = &f.unwrap().path();
                let ext = f
                    .extension()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_ascii_lowercase();
                if !["cer", "crt", "der", "pem"].contains(&ext.as_str()) {
                    continue;
                }
                for der in hgs_ekcert::certificates_in(&std::fs::read(f).unwrap()).unwrap() {
                    if anchor {
                        s.add_anchor(&der).unwrap();
                        a += 1;
                    } else {
                        s.add_intermediate(&der).unwrap();
                        i += 1;
                    }
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    Some((s, a, i))
}

fn outcome(r: Result<hgs_ekcert::Verified, Error>) -> String {
    match r {
        Ok(v) => format!(
            "ok {}",
            v.chain
                .iter()
                .map(|l| l.subject.to_string())
                .collect::<Vec<_>>()
                .join(" <- ")
        ),
        Err(e) => format!("err {e}"),
    }
}

#[test]
fn every_corpus_leaf_same_outcome_as_expanded_tree() {
    let p = package();
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);
    let mut per_vendor: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for c in &p.anchors {
        per_vendor.entry(&c.vendor).or_default().0 += 1;
    }
    for c in &p.intermediates {
        per_vendor.entry(&c.vendor).or_default().1 += 1;
    }
    eprintln!("anchors/intermediates per vendor: {per_vendor:?}");
    assert_eq!(per_vendor["STMicro"], (6, 22));
    assert_eq!(per_vendor["Nuvoton"], (17, 4));
    let cab_store = store_of(&p);
    let Some((tree, a, i)) = expanded_store() else {
        eprintln!("cabextract not installed: comparing against the expanded tree skipped");
        return;
    };
    assert_eq!((a, i), (p.anchors.len(), p.intermediates.len()));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(corpus().join("manifest.json")).unwrap()).unwrap();
    let opts = Options::at(UnixTime::parse_rfc3339("2026-11-22T00:00:00Z").unwrap());
    let mut chained = Vec::new();
    for leaf in manifest["leaves"].as_array().unwrap() {
        let id = leaf["id"].as_str().unwrap();
        let bytes = std::fs::read(corpus().join("leaves").join(format!("{id}.der"))).unwrap();
        let from_cab = outcome(verify_chain(&bytes, &cab_store, None, &opts));
        let from_tree = outcome(verify_chain(&bytes, &tree, None, &opts));
        assert_eq!(from_cab, from_tree, "{id}");
        if from_cab.starts_with("ok") {
            chained.push(id.to_string());
        }
    }
    eprintln!("chain to the cabinet: {chained:?}");
    for vendor in ["stm-", "ntc-", "ifx-", "intc-"] {
        assert!(
            chained.iter().any(|c| c.starts_with(vendor)),
            "{vendor}: {chained:?}"
        );
    }
    assert!(!chained.iter().any(|c| c.starts_with("goog-gce-ek")));
}

#[test]
fn fuzz_seed_reads_and_its_borrowed_signature_is_refused() {
    let seed = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cab/synthetic-signed-stm.cab"),
    )
    .unwrap();
    let c = read_cabinet(&seed).unwrap();
    assert_eq!(c.files[0].name, "STMicro/RootCA/root.crt");
    // The real cabinet's signature, moved onto other bytes: the digest no longer matches.
    assert!(matches!(
        verify_cabinet(&seed, now()),
        Err(AuthenticodeError::CabinetDigestMismatch { .. })
    ));
    let p = read_trusted_tpm_cab(&seed, now(), SignaturePolicy::AllowUnsigned).unwrap();
    assert_eq!((p.anchors.len(), p.intermediates.len()), (1, 0));
}

#[test]
fn truncations_and_flips_of_the_seed_never_panic() {
    let seed = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cab/synthetic-signed-stm.cab"),
    )
    .unwrap();
    for n in (0..seed.len()).step_by(3) {
        let _ = read_cabinet(&seed[..n]);
        let _ = verify_cabinet(&seed[..n], now());
    }
    for i in (0..seed.len()).step_by(5) {
        let mut b = seed.clone();
        b[i] ^= 0x80;
        let _ = read_trusted_tpm_cab(&b, now(), SignaturePolicy::AllowUnsigned);
    }
}
