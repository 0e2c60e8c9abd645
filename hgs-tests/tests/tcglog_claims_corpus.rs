//! Boot claims from the corpus's Windows logs hold what the sources state (manifest
//! `expectations`), and Linux logs give no Windows claims without failing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::bool_assert_comparison
)]

use std::path::PathBuf;

use hgs_tcglog::{matching_log, BootClaims};
use hgs_tcglog::{EventLog, HashAlg, LogAnomaly, ReferenceLog};

fn corpus() -> PathBuf {
    hgs_testkit::corpus("tcglog")
}

fn claims(file: &str) -> BootClaims {
    let bytes = std::fs::read(corpus().join(file)).unwrap();
    reference_claims(&bytes)
}

fn reference_claims(bytes: &[u8]) -> BootClaims {
    BootClaims::from_reference(&ReferenceLog::new(EventLog::parse(bytes).unwrap()).unwrap())
}

#[test]
fn gcp_shielded_vm_claims_match_go_attestation_expectations() {
    // go-attestation TestSecureBoot / TestParseWinEvents (manifest expectations).
    let c = claims("ga_windows_gcp_shielded_vm.bin");
    assert_eq!(c.secure_boot.as_ref().unwrap().value, true);
    assert_eq!(c.secure_boot.as_ref().unwrap().pcr, 7);
    assert_eq!(c.boot_counter.as_ref().unwrap().value, 4);
    assert_eq!(c.full_boot.as_ref().unwrap().value, true, "ColdBoot=true");
    assert_eq!(c.code_integrity.as_ref().unwrap().value, true);
    assert_eq!(c.bitlocker_unlock.as_ref().unwrap().value, 0);
    assert_eq!(c.kernel_debugging.as_ref().unwrap().value, false);
    assert_eq!(c.boot_debugging.as_ref().unwrap().value, false);
    assert_eq!(c.test_signing.as_ref().unwrap().value, false);
    assert_eq!(c.vbs_running.as_ref().unwrap().value, false);
    assert!(c.anomalies.is_empty(), "{:?}", c.anomalies);
    let vioscsi = c
        .loaded_modules
        .iter()
        .find(|m| m.file_path.ends_with("vioscsi.sys"))
        .expect("vioscsi.sys is a loaded module");
    assert_eq!(
        vioscsi.file_path,
        "\\Windows\\System32\\drivers\\vioscsi.sys"
    );
    let h = hgs_tpm::hex::encode(vioscsi.authenticode_hash);
    assert!(h.starts_with("0fdce7d7") && h.ends_with("4547"), "{h}");
    assert_eq!(vioscsi.image_base, Some(81_416_192));
    assert_eq!(vioscsi.image_size, Some(86_016));
    assert_eq!(vioscsi.hash_alg.map(|a| a & 0xff), Some(0x0c));
    assert_eq!(vioscsi.validated, Some(true));
    assert_eq!(
        vioscsi.issuer,
        Some("Microsoft Windows Third Party Component CA 2014")
    );
    assert_eq!(
        vioscsi.publisher,
        Some("Microsoft Windows Hardware Compatibility Publisher")
    );
    for (suffix, prefix, end) in [
        ("ksecpkg.sys", "055a36a9", "71f4"),
        ("volmgrx.sys", "2bedd158", "ee58"),
    ] {
        let m = c
            .loaded_modules
            .iter()
            .find(|m| m.file_path.ends_with(suffix))
            .unwrap();
        let h = hgs_tpm::hex::encode(m.authenticode_hash);
        assert!(h.starts_with(prefix) && h.ends_with(end), "{suffix}: {h}");
    }
}

#[test]
fn dell_notebook_boot_is_a_full_boot_and_its_resumes_are_not() {
    let boot = claims("imm_win_dell-notebook-boot0.bin");
    assert_eq!(boot.full_boot.as_ref().unwrap().value, true);
    assert_eq!(boot.boot_counter.as_ref().unwrap().value, 168);
    for (i, counter) in (1..=4).zip(169..) {
        let c = claims(&format!("imm_win_dell-notebook-resume{i}.bin"));
        assert_eq!(c.full_boot.as_ref().unwrap().value, false, "resume{i}");
        assert_eq!(c.boot_counter.as_ref().unwrap().value, counter, "resume{i}");
    }
}

#[test]
fn only_the_last_dell_log_matches_the_quoted_pcrs() {
    let files: Vec<Vec<u8>> = std::iter::once("imm_win_dell-notebook-boot0.bin".to_string())
        .chain((1..=4).map(|i| format!("imm_win_dell-notebook-resume{i}.bin")))
        .map(|f| std::fs::read(corpus().join(f)).unwrap())
        .collect();
    let logs: Vec<EventLog<'_>> = files.iter().map(|b| EventLog::parse(b).unwrap()).collect();
    let manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(corpus().join("manifest.json")).unwrap()).unwrap();
    let entry = manifest
        .iter()
        .find(|e| e["file"] == "imm_win_dell-notebook-resume4.bin")
        .unwrap();
    let expected: Vec<Vec<u8>> = (0..24)
        .map(|i| {
            hgs_tpm::hex::decode(
                entry["expected_pcrs"]["sha256"][i.to_string()]
                    .as_str()
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();
    let pcrs: Vec<u32> = (0..24).collect();
    let found = matching_log(&logs, HashAlg::Sha256, &pcrs, |p| {
        expected.get(p as usize).map(|v| v.as_slice())
    })
    .unwrap();
    assert_eq!(found, Some(4));
    // The boot log alone does not match.
    let found = matching_log(&logs[..1], HashAlg::Sha256, &pcrs, |p| {
        expected.get(p as usize).map(|v| v.as_slice())
    })
    .unwrap();
    assert_eq!(found, None);
}

#[test]
fn si_policy_claims_carry_name_version_algorithm_and_digest() {
    let c = claims("imm_win_IMN-SUPERMICRO-WBCL-Quote-AIKs.bin");
    assert_eq!(c.si_policies.len(), 1);
    let p = &c.si_policies[0];
    assert_eq!(p.name, "SiPolicy.p7b");
    assert_eq!(p.hash_alg, 0x000B);
    assert_eq!(p.pcr, 13);
    assert_eq!(
        hgs_tpm::hex::encode(&p.digest),
        "53ecf18ecb76bb22f0cecf97ab824b4fd9a36e50892995553c9fb8eebc4648f3"
    );
    assert_eq!(p.version, 10 << 48);

    let x1 = claims("imm_win_x1carbon_2009.bin");
    assert_eq!(x1.si_policies[0].name, "DriverSiPolicy.p7b");
    assert_eq!(
        hgs_tpm::hex::encode(&x1.si_policies[0].digest),
        "8f8fc9218805fee27996a96af8b619ad4374a37edcc14913f4308a06bc0092ee"
    );
}

#[test]
fn vbs_machine_runs_vbs_with_hvci_and_counts_as_full_boot_despite_transfer_control_5() {
    let c = claims("imm_win_x1carbon_2009.bin");
    assert_eq!(c.vbs_running.as_ref().unwrap().value, true);
    assert_eq!(c.hvci_enforced.as_ref().unwrap().value, true);
    assert_eq!(c.full_boot.as_ref().unwrap().value, true);
    assert_eq!(c.hypervisor_debugging.as_ref().unwrap().value, false);
}

#[test]
fn linux_logs_give_no_windows_claims_and_no_error() {
    for f in [
        "gtt_rhel8-uefi.bin",
        "t2t_event-sd-boot-fedora37.bin",
        "imm_linux_h12ssl.bin",
    ] {
        let c = claims(f);
        assert!(
            c.boot_counter.is_none() && c.full_boot.is_none() && c.si_policies.is_empty(),
            "{f}"
        );
        assert!(c.loaded_modules.is_empty(), "{f}");
    }
    assert_eq!(
        claims("gtt_rhel8-uefi.bin").secure_boot.unwrap().value,
        true
    );
    assert_eq!(
        claims("gtt_ubuntu-2104-no-secure-boot.bin")
            .secure_boot
            .unwrap()
            .value,
        false
    );
}

#[test]
fn a_kernel_debugger_anywhere_latches_on_and_events_after_wbcl_do_not_count() {
    use hgs_tcglog::builder::LogBuilder;
    use hgs_tcglog::sipa::{encode_container, encode_records, id};
    let tb = |recs: &[(u32, Vec<u8>)]| encode_container(id::TRUSTBOUNDARY, &encode_records(recs));
    let mut b = LogBuilder::agile(&[HashAlg::Sha256]);
    b.event(12, 6, &tb(&[(id::OSKERNELDEBUG, vec![0])]));
    b.event(12, 6, &tb(&[(id::OSKERNELDEBUG, vec![1])]));
    b.event(12, 6, &tb(&[(id::OSKERNELDEBUG, vec![0])]));
    b.event(13, 4, b"WBCL");
    b.event(13, 6, &tb(&[(id::TESTSIGNING, vec![1])]));
    let log = b.build();
    let c = reference_claims(&log);
    let k = c.kernel_debugging.unwrap();
    assert!(k.value);
    assert_eq!(k.event_index, 2, "the event that turned it on");
    assert!(
        c.test_signing.is_none(),
        "after the WBCL separator on PCR 13"
    );
}

#[test]
fn an_event_whose_digest_does_not_cover_its_data_is_an_anomaly_and_gives_no_claim() {
    use hgs_tcglog::builder::LogBuilder;
    use hgs_tcglog::sipa::{encode_container, encode_records, id};
    let data = encode_container(
        id::TRUSTBOUNDARY,
        &encode_records(&[(id::OSKERNELDEBUG, vec![1])]),
    );
    let mut b = LogBuilder::agile(&[HashAlg::Sha256]);
    b.event_with_digests(12, 6, &[(HashAlg::Sha256, vec![0x11; 32])], &data);
    let log = b.build();
    let c = reference_claims(&log);
    assert!(c.kernel_debugging.is_none());
    assert_eq!(
        c.anomalies,
        vec![LogAnomaly::UntrustedData {
            event_index: 1,
            pcr: 12
        }]
    );
}

/// Claims read the quoted bank only, and an event that bank never measured (SHA-1-only records
/// on a PCR Windows extends in SHA-256) is an anomaly, not a claim.
#[test]
fn quoted_claims_read_the_quoted_bank_only_and_require_its_digest() {
    use hgs_tcglog::builder::LogBuilder;
    use hgs_tcglog::sipa::{encode_container, encode_records, id};
    use hgs_tcglog::{BankPolicy, QuotedLog};
    use hgs_testkit::synthetic::self_quotes;
    use hgs_tpm::PcrSet;
    let data = encode_container(
        id::TRUSTBOUNDARY,
        &encode_records(&[(id::OSKERNELDEBUG, vec![1])]),
    );
    let sha256 = HashAlg::Sha256.hash(&data);
    let mut b = LogBuilder::agile(&[HashAlg::Sha1, HashAlg::Sha256]);
    // Event 1: SHA-256 covers the data, the SHA-1 digest does not.
    b.event_with_digests(
        12,
        6,
        &[
            (HashAlg::Sha1, vec![0x11; 20]),
            (HashAlg::Sha256, sha256.clone()),
        ],
        &data,
    );
    // Event 2: a SHA-1-only record (forged: Windows never writes these on PCR 13).
    b.event_with_digests(13, 6, &[(HashAlg::Sha1, HashAlg::Sha1.hash(&data))], &data);
    let bytes = b.build();
    let log = EventLog::parse(&bytes).unwrap();
    let sipa = PcrSet::of(&[12, 13, 14]);
    let quotes = self_quotes(&log, &[(HashAlg::Sha256, sipa)]);
    let q = QuotedLog::bind(log, &quotes, BankPolicy::default()).unwrap();
    assert_eq!(q.bank(), HashAlg::Sha256);
    let c = BootClaims::from_quoted(&q);
    assert_eq!(c.kernel_debugging.unwrap().event_index, 1);
    assert_eq!(
        c.anomalies,
        vec![LogAnomaly::UntrustedData {
            event_index: 2,
            pcr: 13
        }]
    );
    // A SHA-1 quote of a log that declares SHA-256 is a downgrade, even when SHA-1 is allowed.
    let quotes = self_quotes(&log, &[(HashAlg::Sha1, sipa)]);
    assert!(matches!(
        QuotedLog::bind(log, &quotes, BankPolicy::AllowSha1),
        Err(hgs_tcglog::BindError::Downgrade { .. })
    ));
    assert!(matches!(
        QuotedLog::bind(log, &quotes, BankPolicy::default()),
        Err(hgs_tcglog::BindError::WeakBank { .. })
    ));
}

/// On every Windows corpus log, claims read through a quote of every PCR in its strongest bank
/// equal the reference reading, and neither has an anomaly (no false rejects).
#[test]
fn quoted_and_reference_claims_agree_on_every_windows_log_without_anomalies() {
    use hgs_tcglog::{BankPolicy, QuotedLog};
    use hgs_testkit::synthetic::self_quotes;
    use hgs_tpm::PcrSet;
    let all = PcrSet::from_indices(&(0..24).collect::<Vec<_>>()).unwrap();
    let mut compared = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.display().to_string();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") || !name.contains("_win") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let log = EventLog::parse(&bytes).unwrap();
        let reference = ReferenceLog::new(log).unwrap();
        let by_reference = BootClaims::from_reference(&reference);
        assert!(
            by_reference.anomalies.is_empty(),
            "{name}: {:?}",
            by_reference.anomalies
        );
        let policy = if reference.bank() == HashAlg::Sha1 {
            BankPolicy::AllowSha1
        } else {
            BankPolicy::default()
        };
        let quotes = self_quotes(&log, &[(reference.bank(), all)]);
        let q = QuotedLog::bind(log, &quotes, policy).unwrap();
        // No false rejects: every data-covering event carries a covering digest in that bank.
        assert!(
            q.digest_mismatches().is_empty(),
            "{name}: {:?}",
            q.digest_mismatches()
        );
        assert_eq!(BootClaims::from_quoted(&q), by_reference, "{name}");
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} Windows logs");
}

/// Claims from unquoted PCRs do not exist: a quote of PCRs 0-6 and 11 gives no Secure Boot and
/// no SIPA claim, however healthy the log says the host is.
#[test]
fn a_narrow_quote_yields_no_claims_from_the_pcrs_it_left_out() {
    use hgs_tcglog::{BankPolicy, QuotedLog};
    use hgs_testkit::synthetic::self_quotes;
    use hgs_tpm::PcrSet;
    let bytes = std::fs::read(corpus().join("imm_win_x1carbon_2009.bin")).unwrap();
    let log = EventLog::parse(&bytes).unwrap();
    let narrow = PcrSet::of(&[0, 1, 2, 3, 4, 5, 6, 11]);
    let quotes = self_quotes(&log, &[(HashAlg::Sha256, narrow)]);
    let q = QuotedLog::bind(log, &quotes, BankPolicy::default()).unwrap();
    assert_eq!(q.pcrs(), narrow);
    assert!(q.events().all(|e| narrow.contains(e.pcr)));
    let c = BootClaims::from_quoted(&q);
    assert!(c.secure_boot.is_none());
    assert!(c.si_policies.is_empty());
    assert!(c.boot_counter.is_none());
    assert!(c.vbs_running.is_none());
    assert!(c.loaded_modules.is_empty());
}

/// An edited SecureBoot byte makes that event an anomaly and gives no Secure Boot claim.
#[test]
fn an_edited_secure_boot_event_is_an_anomaly() {
    let bytes = std::fs::read(corpus().join("imm_win_x1carbon_2009.bin")).unwrap();
    let pristine = EventLog::parse(&bytes).unwrap();
    let sb = pristine
        .events()
        .map(Result::unwrap)
        .find(|e| e.pcr == 7 && e.event_type == hgs_tcglog::EventType::EfiVariableDriverConfig)
        .unwrap();
    let mut edited = bytes.clone();
    let at = (sb.data.as_ptr() as usize - bytes.as_ptr() as usize) + sb.data.len() - 1;
    edited[at] ^= 1;
    let c = reference_claims(&edited);
    assert!(c.anomalies.contains(&LogAnomaly::UntrustedData {
        event_index: sb.index,
        pcr: 7
    }));
    assert!(c.secure_boot.is_none_or(|s| s.event_index != sb.index));
}
