//! UEFI event decoding, owned (serde) events and PCR composites, on the real corpus and on
//! hand-built data where the corpus has no example (a non-empty SignatureHeaderSize).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_tcglog::uefi::{decode, parse_signature_lists, Decoded, Guid};
use hgs_tcglog::OwnedEvent;
use hgs_tcglog::{replay, EventLog, EventType, HashAlg};

fn corpus() -> PathBuf {
    hgs_testkit::corpus("tcglog")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join(name)).unwrap()
}

/// RHEL 8 on GCE: Secure Boot on, PK/KEK/db/dbx measured in PCR 7 as EV_EFI_VARIABLE_DRIVER_CONFIG.
#[test]
fn secure_boot_databases_decode_into_signature_lists() {
    let bytes = read("gtt_rhel8-uefi.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let mut seen = Vec::new();
    for e in log.events() {
        let e = e.unwrap();
        if e.event_type != EventType::EfiVariableDriverConfig {
            continue;
        }
        let Decoded::Variable(v) = decode(&e).unwrap() else {
            panic!("event {} not a variable", e.index)
        };
        seen.push(v.name.clone());
        match v.name.as_str() {
            "SecureBoot" => {
                assert_eq!(v.guid, hgs_tcglog::uefi::EFI_GLOBAL_VARIABLE);
                assert_eq!(v.data, [1]);
            }
            "PK" | "KEK" | "db" => {
                let lists = v.signature_lists(e.index).unwrap();
                assert!(!lists.is_empty(), "{} has no signature list", v.name);
                for l in &lists {
                    assert_eq!(
                        l.signature_type,
                        hgs_tcglog::uefi::EFI_CERT_X509,
                        "{}",
                        v.name
                    );
                    for s in &l.signatures {
                        // Every X.509 certificate is a DER SEQUENCE with a two-byte length.
                        assert_eq!(&s.data[..2], &[0x30, 0x82], "{}", v.name);
                        let len = usize::from(u16::from_be_bytes([s.data[2], s.data[3]]));
                        assert_eq!(len + 4, s.data.len(), "{}: certificate length", v.name);
                    }
                }
            }
            "dbx" => {
                let lists = v.signature_lists(e.index).unwrap();
                let hashes: usize = lists
                    .iter()
                    .filter(|l| l.signature_type == hgs_tcglog::uefi::EFI_CERT_SHA256)
                    .map(|l| {
                        assert!(l.signatures.iter().all(|s| s.data.len() == 32));
                        l.signatures.len()
                    })
                    .sum();
                assert!(hashes > 0, "dbx lists no SHA-256 hashes");
            }
            _ => {}
        }
    }
    for want in ["SecureBoot", "PK", "KEK", "db", "dbx"] {
        assert!(
            seen.iter().any(|n| n == want),
            "{want} not measured; saw {seen:?}"
        );
    }
}

/// The corpus has no list with a SignatureHeaderSize; build one and check the header is skipped,
/// not read as signatures, and that a header larger than the list is refused.
#[test]
fn signature_header_size_is_honoured() {
    let owner = [0x11u8; 16];
    let mut list = hgs_tcglog::uefi::EFI_CERT_SHA256.0.to_vec();
    let header = [0xAAu8; 8];
    let sig_size = 16 + 32;
    let list_size = 28 + header.len() + 2 * sig_size;
    list.extend_from_slice(&(list_size as u32).to_le_bytes());
    list.extend_from_slice(&(header.len() as u32).to_le_bytes());
    list.extend_from_slice(&(sig_size as u32).to_le_bytes());
    list.extend_from_slice(&header);
    for fill in [0x01u8, 0x02] {
        list.extend_from_slice(&owner);
        list.extend_from_slice(&[fill; 32]);
    }
    let lists = parse_signature_lists(&list, 9).unwrap();
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].header, header);
    assert_eq!(lists[0].signatures.len(), 2);
    assert_eq!(lists[0].signatures[1].data, [0x02; 32]);
    assert_eq!(lists[0].signatures[0].owner, Guid(owner));

    let mut bad = list.clone();
    bad[20..24].copy_from_slice(&(list_size as u32).to_le_bytes()); // header as large as the list
    assert!(matches!(
        parse_signature_lists(&bad, 9),
        Err(hgs_tcglog::Error::BadEventData { index: 9, .. })
    ));
}

/// Every event of every corpus log that parses decodes, or fails with a typed error naming the
/// event; image loads at an address have a length and GPT events list partitions.
#[test]
fn corpus_events_decode_with_plausible_fields() {
    let (mut images, mut gpts, mut actions) = (0, 0, 0);
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let Ok(log) = EventLog::parse(&bytes) else {
            continue;
        };
        for e in log.events() {
            let Ok(e) = e else { break };
            match decode(&e) {
                Ok(Decoded::ImageLoad(img)) => {
                    // Images loaded from memory (shim/grub chain loads in ga_sb_cert_eventlog,
                    // tpm2-tools' fixtures) are logged at address 0 with length 0; any image with
                    // an address has a length.
                    let name = path.file_name().unwrap().to_string_lossy();
                    assert!(
                        img.length > 0 || img.location == 0,
                        "{name}: event {}",
                        e.index
                    );
                    images += 1;
                }
                Ok(Decoded::Gpt(g)) => {
                    assert!(
                        !g.partitions.is_empty(),
                        "{}: event {}",
                        path.display(),
                        e.index
                    );
                    gpts += 1;
                }
                Ok(Decoded::Action(s)) => {
                    assert!(
                        !s.is_empty() && !s.contains('\0'),
                        "{}: event {}",
                        path.display(),
                        e.index
                    );
                    actions += 1;
                }
                Ok(_) => {}
                Err(err) => {
                    let msg = err.to_string();
                    assert!(
                        msg.contains(&format!("event {}", e.index)),
                        "{}: {msg}",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(
        images > 20 && gpts > 3 && actions > 20,
        "images {images} gpts {gpts} actions {actions}"
    );
}

#[test]
fn owned_events_round_trip_through_json() {
    let bytes = read("gtt_rhel8-uefi.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let owned: Vec<OwnedEvent> = log
        .events()
        .map(|e| OwnedEvent::from(&e.unwrap()))
        .collect();
    let json = serde_json::to_string(&owned).unwrap();
    let back: Vec<OwnedEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, owned);
    for (o, e) in owned.iter().zip(log.events()) {
        let e = e.unwrap();
        assert_eq!(o.data, e.data);
        for alg in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
            assert_eq!(o.digest(alg), e.digest(alg), "event {}", e.index);
        }
    }
}

#[test]
fn composite_digest_is_the_hash_of_the_selected_pcrs_in_ascending_order() {
    let bytes = read("gtt_rhel8-uefi.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let pcrs = replay(&log).unwrap();
    let mut concat = Vec::new();
    for p in [0u32, 4, 7] {
        concat.extend_from_slice(pcrs.get(HashAlg::Sha256, p).unwrap());
    }
    let want = HashAlg::Sha256.hash(&concat);
    assert_eq!(
        pcrs.composite_digest(HashAlg::Sha256, &[7, 0, 4], HashAlg::Sha256)
            .unwrap(),
        want
    );
    assert_ne!(
        pcrs.composite_digest(HashAlg::Sha256, &[0, 4], HashAlg::Sha256)
            .unwrap(),
        want
    );
    assert_eq!(
        pcrs.composite_digest(HashAlg::Sha512, &[0], HashAlg::Sha256),
        None
    );
}

#[test]
fn compare_reports_the_first_differing_pcr_and_bank() {
    let bytes = read("gtt_rhel8-uefi.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let pcrs = replay(&log).unwrap();
    let p0 = pcrs.get(HashAlg::Sha256, 0).unwrap().to_vec();
    let wrong = vec![0u8; 48];
    let got = pcrs
        .compare([
            (HashAlg::Sha256, 0, p0.as_slice()),
            (HashAlg::Sha384, 7, wrong.as_slice()),
            (HashAlg::Sha1, 1, wrong.as_slice()),
        ])
        .unwrap_err();
    assert_eq!((got.alg, got.pcr), (HashAlg::Sha384, 7));
    assert_eq!(got.actual, pcrs.get(HashAlg::Sha384, 7).unwrap());
    assert!(pcrs.compare([(HashAlg::Sha256, 0, p0.as_slice())]).is_ok());
}
