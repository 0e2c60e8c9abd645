//! Hostile and malformed logs: each is a typed error carrying the offset and event index, never a
//! panic; plus proptests for the encoder round trip, replay against an independent fold, and
//! single-byte corruption.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_tcglog::builder::LogBuilder;
use hgs_tcglog::{replay, Error, EventLog, HashAlg};
use proptest::prelude::*;

fn agile_log() -> Vec<u8> {
    let mut b = LogBuilder::agile(&[HashAlg::Sha1, HashAlg::Sha256]);
    b.event(0, 0x8, b"1.0").event(7, 0x4, &[0, 0, 0, 0]).event(
        4,
        0x8000_0007,
        b"Calling EFI Application",
    );
    b.build()
}

#[test]
fn empty_and_tiny_inputs_are_too_short() {
    assert_eq!(
        EventLog::parse(&[]).unwrap_err(),
        Error::TooShort { len: 0 }
    );
    assert_eq!(
        EventLog::parse(&[0; 31]).unwrap_err(),
        Error::TooShort { len: 31 }
    );
}

#[test]
fn every_truncation_of_a_valid_log_is_an_error_not_a_panic() {
    let log = agile_log();
    for cut in 0..log.len() {
        let r = EventLog::parse(&log[..cut]).and_then(|l| l.read_all());
        // Cuts exactly at an event boundary parse fine (a shorter, valid log).
        if let Err(e) = r {
            assert!(
                matches!(
                    e,
                    Error::TooShort { .. } | Error::Truncated { .. } | Error::BadSpecId { .. }
                ),
                "cut {cut}: {e:?}"
            );
        }
    }
}

#[test]
fn data_length_past_the_end_names_the_event_and_offset() {
    let mut log = agile_log();
    // The header record (index 0, offset 0) claims 32 KiB of data in a ~200-byte log.
    log[28..32].copy_from_slice(&0x0000_7fffu32.to_le_bytes());
    match EventLog::parse(&log) {
        Err(Error::Truncated {
            index: 0,
            offset: 0,
            ref what,
            ..
        }) if what == "event data" => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn absurd_event_size_is_refused_before_use() {
    let mut b = LogBuilder::legacy();
    b.event(0, 8, b"x");
    let mut log = b.build();
    log[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    match EventLog::parse(&log) {
        Err(Error::TooLarge {
            index: 0, ref what, ..
        }) if what == "event data" => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn digest_count_above_the_header_and_unknown_algorithms_are_refused() {
    let log = agile_log();
    let parsed = EventLog::parse(&log).unwrap();
    let events = parsed.read_all().unwrap();
    let second = events[1].offset;
    let mut bad = log.clone();
    bad[second + 8..second + 12].copy_from_slice(&3u32.to_le_bytes());
    let e = EventLog::parse(&bad).unwrap().read_all().unwrap_err();
    assert_eq!(
        e,
        Error::BadDigestCount {
            index: 1,
            offset: second,
            count: 3,
            declared: 2
        }
    );

    let mut bad = log.clone();
    bad[second + 12..second + 14].copy_from_slice(&0x0027u16.to_le_bytes()); // SHA3-256, not listed
    let e = EventLog::parse(&bad).unwrap().read_all().unwrap_err();
    assert_eq!(
        e,
        Error::UnknownDigestAlgorithm {
            index: 1,
            offset: second,
            alg: 0x0027
        }
    );
}

#[test]
fn malicious_number_of_algorithms_is_a_bad_spec_id() {
    let mut log = agile_log();
    log[32 + 24..32 + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        EventLog::parse(&log),
        Err(Error::BadSpecId { offset: 32, .. })
    ));
}

#[test]
fn unknown_algorithm_in_the_header_is_skipped_by_its_declared_size() {
    // Header lists SHA-256 and SHA3-256 (0x0027, 32 bytes); events carry both.
    let mut b = LogBuilder::agile(&[HashAlg::Sha256]);
    let mut log = b.build();
    // Patch the header: 2 algorithms, add (0x0027, 32).
    let data_at = 32;
    let count_at = data_at + 24;
    log[count_at..count_at + 4].copy_from_slice(&2u32.to_le_bytes());
    log.splice(count_at + 8..count_at + 8, [0x27, 0x00, 0x20, 0x00]);
    let size = u32::from_le_bytes(log[28..32].try_into().unwrap()) + 4;
    log[28..32].copy_from_slice(&size.to_le_bytes());
    // One event with both digests.
    log.extend_from_slice(&7u32.to_le_bytes());
    log.extend_from_slice(&4u32.to_le_bytes());
    log.extend_from_slice(&2u32.to_le_bytes());
    log.extend_from_slice(&0x0027u16.to_le_bytes());
    log.extend_from_slice(&[0xAA; 32]);
    log.extend_from_slice(&0x000Bu16.to_le_bytes());
    log.extend_from_slice(&HashAlg::Sha256.hash(&[0, 0, 0, 0]));
    log.extend_from_slice(&4u32.to_le_bytes());
    log.extend_from_slice(&[0, 0, 0, 0]);
    let parsed = EventLog::parse(&log).unwrap();
    assert_eq!(parsed.banks(), vec![HashAlg::Sha256]);
    let events = parsed.read_all().unwrap();
    assert_eq!(
        events[1].digest(HashAlg::Sha256).unwrap(),
        HashAlg::Sha256.hash(&[0, 0, 0, 0]).as_slice()
    );
    assert_eq!(events[1].raw_digests().len(), 2);
    b.event(0, 8, b"");
}

#[test]
fn lenient_read_returns_the_prefix_and_says_why_it_stopped() {
    let log = agile_log();
    let cut = &log[..log.len() - 3];
    let read = EventLog::parse(cut).unwrap().read_lenient();
    assert_eq!(read.events.len(), 3);
    assert!(matches!(
        read.truncated,
        Some(Error::Truncated { index: 3, .. })
    ));
}

/// An independent, straightforward replay: one PCR at a time, SHA-256 only, from the builder's
/// own inputs (not from the parser).
fn naive_sha256(events: &[(u32, u32, Vec<u8>)]) -> Vec<Vec<u8>> {
    use sha2::Digest;
    let mut pcrs: Vec<Vec<u8>> = (0..24)
        .map(|i| {
            if (17..23).contains(&i) {
                vec![0xff; 32]
            } else {
                vec![0; 32]
            }
        })
        .collect();
    for (pcr, ty, data) in events {
        if *ty == 3 || *pcr >= 24 {
            continue;
        }
        let d = sha2::Sha256::digest(data);
        let p = &mut pcrs[*pcr as usize];
        *p = sha2::Sha256::new()
            .chain_update(&p[..])
            .chain_update(d)
            .finalize()
            .to_vec();
    }
    pcrs
}

fn arb_events() -> impl Strategy<Value = Vec<(u32, u32, Vec<u8>)>> {
    proptest::collection::vec(
        (
            prop_oneof![0u32..24, Just(0xFFFF_FFFF)],
            prop_oneof![
                Just(3u32),
                Just(4),
                Just(5),
                Just(6),
                Just(0x8000_0001),
                Just(0x8000_0007),
                any::<u32>()
            ],
            proptest::collection::vec(any::<u8>(), 0..64),
        ),
        0..40,
    )
}

proptest! {
    #[test]
    fn builder_round_trips_through_the_parser(events in arb_events(), legacy in any::<bool>()) {
        let mut b = if legacy { LogBuilder::legacy() } else { LogBuilder::agile(&[HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384]) };
        // A legacy log must not start with a Spec ID event; the strategy never makes one.
        for (pcr, ty, data) in &events {
            b.event(*pcr, *ty, data);
        }
        let bytes = b.build();
        if bytes.is_empty() {
            prop_assert!(EventLog::parse(&bytes).is_err());
            return Ok(());
        }
        let log = EventLog::parse(&bytes).unwrap();
        let parsed = log.read_all().unwrap();
        let skip = usize::from(!legacy);
        prop_assert_eq!(parsed.len(), events.len() + skip);
        for (e, (pcr, ty, data)) in parsed.iter().skip(skip).zip(&events) {
            prop_assert_eq!(e.pcr, *pcr);
            prop_assert_eq!(e.event_type.as_u32(), *ty);
            prop_assert_eq!(e.data, data.as_slice());
            if *ty != 3 {
                prop_assert_eq!(e.digest(HashAlg::Sha1).unwrap().to_vec(), HashAlg::Sha1.hash(data));
            }
        }
    }

    #[test]
    fn replay_equals_an_independent_fold(events in arb_events()) {
        let mut b = LogBuilder::agile(&[HashAlg::Sha256]);
        for (pcr, ty, data) in &events {
            // A StartupLocality EV_NO_ACTION would change PCR 0's start; the naive fold ignores it.
            if *ty == 3 && data.starts_with(b"StartupLocality") { continue; }
            b.event(*pcr, *ty, data);
        }
        // EV_EFI_HCRTM_EVENT changes PCR 0's start too; filter it for the naive fold.
        let events: Vec<_> = events.into_iter().filter(|(_, ty, d)| *ty != 0x8000_0010 && !(*ty == 3 && d.starts_with(b"StartupLocality"))).collect();
        let mut b2 = LogBuilder::agile(&[HashAlg::Sha256]);
        for (pcr, ty, data) in &events { b2.event(*pcr, *ty, data); }
        let bytes = b2.build();
        let pcrs = replay(&EventLog::parse(&bytes).unwrap()).unwrap();
        let naive = naive_sha256(&events);
        for (i, want) in naive.iter().enumerate() {
            prop_assert_eq!(pcrs.get(HashAlg::Sha256, i as u32).unwrap(), want.as_slice());
        }
        drop(b);
    }

    #[test]
    fn any_single_byte_corruption_is_an_error_or_a_different_log_never_a_panic(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let log = agile_log();
        let good = replay(&EventLog::parse(&log).unwrap()).unwrap();
        let mut bad = log.clone();
        let i = pos.index(bad.len());
        bad[i] ^= xor;
        let outcome = EventLog::parse(&bad).and_then(|l| {
            let pcrs = replay(&l)?;
            let events: Vec<(u32, u32, Vec<u8>)> = l.read_all()?.iter().map(|e| (e.pcr, e.event_type.as_u32(), e.data.to_vec())).collect();
            Ok((pcrs, events))
        });
        if let Ok((pcrs, events)) = outcome {
            let orig: Vec<(u32, u32, Vec<u8>)> = EventLog::parse(&log).unwrap().read_all().unwrap().iter().map(|e| (e.pcr, e.event_type.as_u32(), e.data.to_vec())).collect();
            // Either the replay differs, or the corruption hit a field replay does not read
            // (type, data, or the header's unused fields) and the decoded log differs.
            prop_assert!(pcrs != good || events != orig || i < 32 + 33, "corruption at {} went unnoticed", i);
        }
    }
}
