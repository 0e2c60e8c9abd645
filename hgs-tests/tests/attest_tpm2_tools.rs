//! `Evidence::from_tpm2_tools` on the files tpm2-tools 5.x really writes, against a software TPM:
//! a synthetic Windows boot log is extended into swtpm with `tpm2_pcrextend`, the host's EK and
//! AK are made with `tpm2_createek` / `tpm2_createak -u`, and `tpm2_quote -m -s -o` (plus a
//! `tpm2_pcrread -F serialized -o` of another bank) are read into evidence that evaluates Passed
//! against a host registered from `ek.pub`.
//!
//! With `HGS_WRITE_TPM2_TOOLS_FIXTURE=<dir>` the files are also copied to `<dir>` (this is how
//! `hgs-attest/tests/data/tpm2_tools/` was made). Needs swtpm and tpm2-tools; fails with
//! instructions when missing unless HGS_SKIP_TPM_TESTS=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use hgs_attest::policy::{
    BaselineProfile, CiPolicyRegistration, EkCertificateCheck, PolicyStore, PolicyVersion,
    RegistrationOptions, TpmBaseline,
};
use hgs_attest::{Attestor, Challenge, Evidence, HashAlg, Host, Public, DEFAULT_PCRS};
use hgs_tcglog::EventLog;
use hgs_testkit::swtpm::{on_path, Swtpm};
use hgs_testkit::synthetic::WindowsBoot;

const NOW: u64 = 1_800_000_000;
const NONCE: [u8; 16] = [0x4e; 16];

fn tpm2(dir: &Path, tcti: &str, args: &[&str]) {
    let out = Command::new(args[0])
        .current_dir(dir)
        .args(&args[1..])
        .env("TPM2TOOLS_TCTI", tcti)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (install tpm2-tools)", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hex(b: &[u8]) -> String {
    hgs_tpm::hex::encode(b)
}

#[test]
fn evidence_from_tpm2_tools_files_evaluates_passed() {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    if !on_path("tpm2_quote") {
        if std::env::var("HGS_SKIP_TPM_TESTS").as_deref() == Ok("1") {
            return;
        }
        panic!("tpm2-tools not on PATH: install `tpm2-tools`, or set HGS_SKIP_TPM_TESTS=1");
    }
    let tpm = Swtpm::start().unwrap();
    let tcti = tpm.tcti();
    let dir = tpm.state_dir().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| tpm2(&dir, &tcti, args);

    // The boot: every extended event of the log, in order, into both banks.
    let boot = WindowsBoot::default();
    let log = boot.build();
    for e in EventLog::parse(&log).unwrap().events() {
        let e = e.unwrap();
        if !e.is_extended() {
            continue;
        }
        let digests: Vec<String> = e
            .digests()
            .map(|(alg, d)| format!("{}={}", alg.name(), hex(d)))
            .collect();
        run(&[
            "tpm2_pcrextend",
            &format!("{}:{}", e.pcr, digests.join(",")),
        ]);
    }

    run(&["tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"]);
    run(&[
        "tpm2_createak",
        "-C",
        "ek.ctx",
        "-c",
        "ak.ctx",
        "-G",
        "rsa",
        "-g",
        "sha256",
        "-s",
        "rsassa",
        "-u",
        "ak.pub",
        "-n",
        "ak.name",
    ]);
    run(&["tpm2_flushcontext", "-t"]);
    let pcrs = DEFAULT_PCRS
        .to_vec()
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    run(&[
        "tpm2_quote",
        "-c",
        "ak.ctx",
        "-l",
        &format!("sha256:{pcrs}"),
        "-q",
        &hex(&NONCE),
        "-m",
        "quote.msg",
        "-s",
        "quote.sig",
        "-o",
        "quote.pcrs",
        "-g",
        "sha256",
    ]);
    run(&["tpm2_flushcontext", "-t"]);
    // Another bank's values, as an administrator might add them (concatenated below).
    run(&[
        "tpm2_pcrread",
        "-F",
        "serialized",
        "-o",
        "sha1.pcrs",
        "sha1:0,7,12",
    ]);

    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let (ek_pub, ak_pub, ak_name) = (read("ek.pub"), read("ak.pub"), read("ak.name"));
    let (msg, sig) = (read("quote.msg"), read("quote.sig"));
    let mut pcr_files = read("quote.pcrs");
    pcr_files.extend(read("sha1.pcrs"));
    if let Some(out) = std::env::var_os("HGS_WRITE_TPM2_TOOLS_FIXTURE") {
        let out = Path::new(&out);
        std::fs::create_dir_all(out).unwrap();
        for (name, bytes) in [
            ("ek.pub", &ek_pub),
            ("ak.pub", &ak_pub),
            ("ak.name", &ak_name),
            ("quote.msg", &msg),
            ("quote.sig", &sig),
            ("quote.pcrs", &read("quote.pcrs")),
            ("sha1.pcrs", &read("sha1.pcrs")),
            ("event_log.bin", &log),
        ] {
            std::fs::write(out.join(name), bytes).unwrap();
        }
    }

    let evidence =
        Evidence::from_tpm2_tools(&ak_pub, &[(&msg, &sig)], Some(&pcr_files), &log).unwrap();
    // The AK's name as tpm2_createak wrote it is the one the verifier computes.
    let ak = Public::parse(&ak_pub).unwrap().name().unwrap();
    assert_eq!(ak, ak_name);
    assert_eq!(evidence.quotes[0].bank, Some(HashAlg::Sha256));
    assert_eq!(evidence.quotes[0].pcrs, DEFAULT_PCRS.to_vec());
    // The reported values are the replayed ones, in both files' banks.
    let replayed = hgs_tcglog::replay(&EventLog::parse(&log).unwrap()).unwrap();
    for (bank, pcrs) in [
        (HashAlg::Sha256, DEFAULT_PCRS.to_vec()),
        (HashAlg::Sha1, vec![0, 7, 12]),
    ] {
        assert_eq!(evidence.pcr_values[&bank].len(), pcrs.len(), "{bank}");
        for p in pcrs {
            assert_eq!(
                Some(evidence.pcr_values[&bank][&p].as_slice()),
                replayed.get(bank, p),
                "{bank} PCR {p}"
            );
        }
    }

    // A host registered from ek.pub, judged on this evidence: Passed.
    let mut store = PolicyStore::default();
    store
        .add_baseline(
            TpmBaseline::from_reference_log(
                "class",
                PolicyVersion::V1,
                BaselineProfile::default(),
                &log,
                false,
            )
            .unwrap(),
        )
        .unwrap();
    store
        .add_ci_policy(
            CiPolicyRegistration::from_reference_log("ci", PolicyVersion::V1, &log, None).unwrap(),
        )
        .unwrap();
    store
        .add_host(
            "linux-1",
            &ek_pub,
            None,
            EkCertificateCheck::Missing,
            RegistrationOptions {
                version: PolicyVersion::V1,
                force: true,
            },
        )
        .unwrap();
    let host = &store.hosts["linux-1"];
    let challenge = Challenge {
        host: host.name.to_string(),
        ek_fingerprint: Some(host.ek_fingerprint),
        ak_name: ak,
        nonce: NONCE.to_vec(),
        pcrs: DEFAULT_PCRS,
        banks: vec![HashAlg::Sha256],
        issued_at: NOW - 10,
    };
    let hosts: Vec<_> = store.hosts.values().cloned().collect();
    let baselines: Vec<_> = store.baselines.values().cloned().collect();
    let ci: Vec<_> = store.ci_policies.values().cloned().collect();
    let verdict = Attestor::new().evaluate(
        &Host {
            challenge: &challenge,
            evidence: &evidence,
            registered: &hosts,
            now: NOW,
        },
        &baselines,
        &ci,
    );
    assert!(verdict.passed(), "{verdict}");
}
