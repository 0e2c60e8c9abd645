//! End-to-end host side against a real software TPM (swtpm): platform identifier, log replay,
//! AK, credential activation, quote, evidence — through the `hgs` binary.
//!
//! Needs `swtpm` + `swtpm_setup` on PATH. If they are missing the tests FAIL with instructions,
//! unless `HGS_SKIP_TPM_TESTS=1` is set.
#![cfg(feature = "tpm")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hgs_agent::tpm::ak::{hex, unhex};
use hgs_agent::tpm::quote::Bank;
use hgs_agent::tpm::Tpm;
use hgs_testkit::swtpm::Swtpm;
use sha2::Digest as _;
use tss_esapi::constants::CapabilityType;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::structures::{Attest, AttestInfo, CapabilityData, Digest, Name, Public, Signature};
use tss_esapi::traits::UnMarshall;

const HGS: &str = env!("CARGO_BIN_EXE_hgs");

/// True when the swtpm tools are there; false (skip) only when HGS_SKIP_TPM_TESTS=1; else fails.
fn swtpm_available() -> bool {
    hgs_testkit::swtpm_available()
}

fn corpus() -> PathBuf {
    hgs_testkit::corpus_root()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hgs-swtpm-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hgs(args: &[&str], tcti: &str) -> Output {
    let out = Command::new(HGS)
        .args(args)
        .arg("--tcti")
        .arg(tcti)
        .output()
        .unwrap();
    eprintln!(
        "$ hgs {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn tpmt_public(tpm2b: &[u8]) -> Public {
    let len = u16::from_be_bytes([tpm2b[0], tpm2b[1]]) as usize;
    assert_eq!(len + 2, tpm2b.len(), "TPM2B_PUBLIC size prefix");
    Public::unmarshall(&tpm2b[2..]).unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Number of transient objects loaded: must be 0 after every hgs command (no resource manager).
fn transient_objects(tcti: &str) -> usize {
    let mut tpm = Tpm::open(tcti).unwrap();
    let (data, _) = tpm
        .context()
        .get_capability(CapabilityType::Handles, 0x8000_0000, 32)
        .unwrap();
    match data {
        CapabilityData::Handles(h) => h.into_inner().len(),
        _ => panic!("unexpected capability"),
    }
}

// ---- A minimal crypto-agile TCG log reader, for this test only (replay into the TPM). ----

struct Event {
    pcr: u8,
    event_type: u32,
    digests: Vec<(u16, Vec<u8>)>,
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn read_agile_log(log: &[u8]) -> Vec<Event> {
    // Legacy header event: pcr, type, sha1[20], size, data (the Spec ID event).
    let hdr_size = le32(log, 28) as usize;
    let spec = &log[32..32 + hdr_size];
    assert_eq!(&spec[..16], b"Spec ID Event03\0");
    let n = le32(spec, 24) as usize;
    let mut sizes = BTreeMap::new();
    for i in 0..n {
        let o = 28 + i * 4;
        sizes.insert(
            u16::from_le_bytes([spec[o], spec[o + 1]]),
            u16::from_le_bytes([spec[o + 2], spec[o + 3]]) as usize,
        );
    }
    let mut events = Vec::new();
    let mut o = 32 + hdr_size;
    while o + 12 <= log.len() {
        let pcr = le32(log, o) as u8;
        let event_type = le32(log, o + 4);
        let count = le32(log, o + 8) as usize;
        o += 12;
        let mut digests = Vec::new();
        for _ in 0..count {
            let alg = u16::from_le_bytes([log[o], log[o + 1]]);
            let size = sizes[&alg];
            digests.push((alg, log[o + 2..o + 2 + size].to_vec()));
            o += 2 + size;
        }
        let data_len = le32(log, o) as usize;
        o += 4 + data_len;
        events.push(Event {
            pcr,
            event_type,
            digests,
        });
    }
    events
}

/// Extends every extendable event of the log into the TPM (banks the TPM lacks are skipped).
fn replay_into(tcti: &str, log: &[u8]) -> usize {
    const EV_NO_ACTION: u32 = 3;
    let mut tpm = Tpm::open(tcti).unwrap();
    let events = read_agile_log(log)
        .into_iter()
        .filter(|ev| ev.event_type != EV_NO_ACTION)
        .map(|ev| {
            let d = ev
                .digests
                .into_iter()
                .map(|(alg, d)| (Bank { alg_id: alg }, d))
                .collect();
            (ev.pcr, d)
        });
    hgs_agent::tpm::pcr::replay(&mut tpm, events).unwrap()
}

#[test]
fn platform_identifier_has_ek_certs_whose_keys_are_the_ekpubs() {
    if !swtpm_available() {
        return;
    }
    let tpm = Swtpm::start().unwrap();
    let tcti = tpm.tcti();
    let dir = tempdir("pi");
    let out = dir.join("host.json");
    let o = hgs(
        &[
            "platform-identifier",
            "--name",
            "host1",
            "--out",
            out.to_str().unwrap(),
        ],
        &tcti,
    );
    assert!(o.status.success());
    assert_eq!(transient_objects(&tcti), 0, "hgs leaked transient handles");

    let id = json(&out);
    assert_eq!(id["format"], "hgs-platform-identifier/1");
    assert_eq!(id["name"], "host1");
    let eks = id["endorsement_keys"].as_array().unwrap();
    let by = |p: &str| eks.iter().find(|e| e["profile"] == p).unwrap().clone();

    // RSA 2048 (template L-1, certificate at the low index 0x01c00002).
    let rsa = by("rsa2048");
    assert_eq!(rsa["certificate_nv_index"], "0x01c00002");
    let cert = unhex(rsa["certificate"].as_str().unwrap()).unwrap();
    assert_eq!(cert[0], 0x30, "DER SEQUENCE");
    assert!(
        cert.len() > 600,
        "swtpm's RSA EK certificate is ~1 KB (read in NV chunks)"
    );
    let Public::Rsa { unique, .. } = tpmt_public(&unhex(rsa["public"].as_str().unwrap()).unwrap())
    else {
        panic!("rsa2048 EK is not RSA")
    };
    assert_eq!(unique.value().len(), 256);
    // The SPKI of the certificate carries the same modulus (INTEGER 0x00 || n).
    let mut int = vec![0x02, 0x82, 0x01, 0x01, 0x00];
    int.extend_from_slice(unique.value());
    assert!(contains(&cert, &int), "EK certificate key is not the EKpub");

    // ECC P-384 (template H-3, high index 0x01c00016): same check on the point.
    let ecc = by("ecc-p384");
    let cert = unhex(ecc["certificate"].as_str().unwrap()).unwrap();
    let Public::Ecc { unique, .. } = tpmt_public(&unhex(ecc["public"].as_str().unwrap()).unwrap())
    else {
        panic!("ecc-p384 EK is not ECC")
    };
    let mut point = vec![0x04];
    point.extend_from_slice(unique.x().value());
    point.extend_from_slice(unique.y().value());
    assert_eq!(point.len(), 97);
    assert!(
        contains(&cert, &point),
        "ECC EK certificate key is not the EKpub"
    );

    // The low-range ECC P-256 EK has no certificate on swtpm: a clear entry says so.
    let p256 = by("ecc-p256");
    assert!(p256["certificate"].is_null());
    assert!(p256["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("no EK certificate"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs the agent against a TPM whose PCRs replayed `gtt_rhel8-uefi.bin`; returns what the test
/// needs to check the evidence.
struct AgentRun {
    evidence: serde_json::Value,
    secret: Vec<u8>,
    ak_public: Vec<u8>,
}

fn make_challenge(
    tcti: &str,
    ek_tpm2b: &[u8],
    ak_tpm2b: &[u8],
    secret: &[u8],
) -> serde_json::Value {
    // TPM2_MakeCredential uses only public data; the TPM here is just a calculator for it.
    let mut tpm = Tpm::open(tcti).unwrap();
    let ctx = tpm.context();
    let ek = ctx
        .load_external_public(tpmt_public(ek_tpm2b), Hierarchy::Null)
        .unwrap();
    let ak_name = hgs_agent::tpm::ak::name_of(&tpmt_public(ak_tpm2b)).unwrap();
    let (blob, enc) = ctx
        .execute_without_session(|c| {
            c.make_credential(
                ek,
                Digest::try_from(secret.to_vec()).unwrap(),
                Name::try_from(ak_name).unwrap(),
            )
        })
        .unwrap();
    ctx.flush_context(ek.into()).unwrap();
    serde_json::json!({
        "credential_blob": hex(blob.value()),
        "encrypted_secret": hex(enc.value()),
        "pcrs": (0u8..24).collect::<Vec<_>>(),
    })
}

fn run_agent(tcti: &str, dir: &Path, log: &Path, ek_profile: &str) -> AgentRun {
    let state = dir.join("agent");
    let ak_pub = dir.join("ak.pub");
    let o = hgs(
        &[
            "agent",
            "ak",
            "--out",
            ak_pub.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--ek",
            ek_profile,
        ],
        tcti,
    );
    assert!(o.status.success());
    let ak_public = std::fs::read(&ak_pub).unwrap();

    let host = dir.join("host.json");
    let o = hgs(
        &[
            "platform-identifier",
            "--name",
            "h",
            "--out",
            host.to_str().unwrap(),
        ],
        tcti,
    );
    assert!(o.status.success());
    let id = json(&host);
    let ek = id["endorsement_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["profile"] == ek_profile)
        .unwrap()["public"]
        .as_str()
        .unwrap()
        .to_string();
    let ek = unhex(&ek).unwrap();

    let secret: Vec<u8> = sha2::Sha256::digest(b"verifier nonce for this test").to_vec();
    let challenge = dir.join("challenge.json");
    std::fs::write(
        &challenge,
        serde_json::to_vec(&make_challenge(tcti, &ek, &ak_public, &secret)).unwrap(),
    )
    .unwrap();
    let ev = dir.join("evidence.json");
    let o = hgs(
        &[
            "agent",
            "attest",
            "--challenge",
            challenge.to_str().unwrap(),
            "--out",
            ev.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        tcti,
    );
    assert!(o.status.success());
    assert_eq!(transient_objects(tcti), 0, "hgs leaked transient handles");
    AgentRun {
        evidence: json(&ev),
        secret,
        ak_public,
    }
}

#[test]
fn agent_quotes_replayed_pcrs_with_the_activated_secret_rsa() {
    agent_quotes_replayed_pcrs_with_the_activated_secret("rsa2048");
}

#[test]
fn agent_quotes_replayed_pcrs_with_the_activated_secret_ecc() {
    agent_quotes_replayed_pcrs_with_the_activated_secret("ecc-p256");
}

fn agent_quotes_replayed_pcrs_with_the_activated_secret(ek_profile: &str) {
    if !swtpm_available() {
        return;
    }
    let tpm = Swtpm::start().unwrap();
    let tcti = tpm.tcti();
    let dir = tempdir(&format!("agent-{ek_profile}"));
    let log_path = corpus().join("tcglog/gtt_rhel8-uefi.bin");
    let log = std::fs::read(&log_path).unwrap();
    let n = replay_into(&tcti, &log);
    assert!(n > 50, "replayed only {n} events");

    let run = run_agent(&tcti, &dir, &log_path, ek_profile);
    let ak = tpmt_public(&run.ak_public);
    match ek_profile {
        "rsa2048" => assert!(matches!(ak, Public::Rsa { .. }), "RSA EK gets an RSA AK"),
        _ => assert!(matches!(ak, Public::Ecc { .. }), "ECC EK gets an ECC AK"),
    }
    let attrs = ak.object_attributes();
    assert!(attrs.restricted() && attrs.sign_encrypt() && attrs.fixed_tpm() && !attrs.decrypt());
    let ev = &run.evidence;
    assert_eq!(ev["event_log"].as_str().unwrap(), hex(&log));
    assert_eq!(
        unhex(ev["ak_public"].as_str().unwrap()).unwrap(),
        run.ak_public
    );

    // The PCR values the agent read equal the machine's values the corpus records for this log:
    // replay + read are right.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus().join("tcglog/manifest.json")).unwrap())
            .unwrap();
    let entry = manifest
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == "gtt_rhel8-uefi.bin")
        .unwrap();
    for bank in ["sha1", "sha256"] {
        let expected = entry["expected_pcrs"][bank].as_object().unwrap();
        for (pcr, value) in expected {
            assert_eq!(
                ev["pcr_values"][bank][pcr.as_str()],
                *value,
                "{bank} PCR {pcr} after replay"
            );
        }
    }

    let quotes = ev["quotes"].as_array().unwrap();
    assert_eq!(
        quotes
            .iter()
            .map(|q| q["bank"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["sha1", "sha256"],
        "one quote per active bank"
    );
    let mut check = Tpm::open(&tcti).unwrap();
    let ctx = check.context();
    let ak = ctx
        .load_external_public(tpmt_public(&run.ak_public), Hierarchy::Null)
        .unwrap();
    for q in quotes {
        let bank = q["bank"].as_str().unwrap();
        let attest_bytes = unhex(q["attest"].as_str().unwrap()).unwrap();
        let attest = Attest::unmarshall(&attest_bytes).unwrap();
        // The nonce is the secret only the TPM holding both EK and AK could recover.
        assert_eq!(attest.extra_data().value(), run.secret.as_slice());
        let AttestInfo::Quote { info } = attest.attested() else {
            panic!("not a quote")
        };
        // PCR digest = H(concatenation of the selected PCR values, ascending), in the AK's hash.
        let mut cat = Vec::new();
        for i in 0u8..24 {
            cat.extend(unhex(ev["pcr_values"][bank][i.to_string()].as_str().unwrap()).unwrap());
        }
        assert_eq!(
            info.pcr_digest().value(),
            sha2::Sha256::digest(&cat).as_slice()
        );
        // The AK's signature over the exact attest bytes verifies (checked by the TPM itself).
        let sig = Signature::unmarshall(&unhex(q["signature"].as_str().unwrap()).unwrap()).unwrap();
        let digest = Digest::try_from(sha2::Sha256::digest(&attest_bytes).to_vec()).unwrap();
        ctx.verify_signature(ak, digest, sig.clone()).unwrap();
        // ... and does not verify over tampered bytes.
        let mut bad = attest_bytes.clone();
        *bad.last_mut().unwrap() ^= 1;
        let bad_digest = Digest::try_from(sha2::Sha256::digest(&bad).to_vec()).unwrap();
        assert!(ctx.verify_signature(ak, bad_digest, sig).is_err());
    }
    // The bound key, certified by the same AK with the same nonce (TPM2_Certify): the TPM
    // checks the AK's signature over the certification too.
    let bound = &ev["bound_key"];
    let attest_bytes = unhex(bound["attest"].as_str().unwrap()).unwrap();
    let attest = Attest::unmarshall(&attest_bytes).unwrap();
    assert_eq!(attest.extra_data().value(), run.secret.as_slice());
    let AttestInfo::Certify { info } = attest.attested() else {
        panic!("not a certification")
    };
    let public = Public::unmarshall(&unhex(bound["public"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(
        info.name().value(),
        hgs_agent::tpm::ak::name_of(&public).unwrap().as_slice(),
        "the certified Name is the presented key's"
    );
    let sig = Signature::unmarshall(&unhex(bound["signature"].as_str().unwrap()).unwrap()).unwrap();
    let digest = Digest::try_from(sha2::Sha256::digest(&attest_bytes).to_vec()).unwrap();
    ctx.verify_signature(ak, digest, sig).unwrap();
    ctx.flush_context(ak.into()).unwrap();
    drop(check);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn challenge_for_another_ak_fails_activation_with_tpm_error_text() {
    if !swtpm_available() {
        return;
    }
    let tpm = Swtpm::start().unwrap();
    let tcti = tpm.tcti();
    let dir = tempdir("wrongak");
    let state = dir.join("agent");
    let ak_pub = dir.join("ak.pub");
    let o = hgs(
        &[
            "agent",
            "ak",
            "--out",
            ak_pub.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        &tcti,
    );
    assert!(o.status.success());
    // A second AK: the challenge is bound to its name, the agent uses the first.
    let other = dir.join("other.pub");
    let o = hgs(
        &[
            "agent",
            "ak",
            "--out",
            other.to_str().unwrap(),
            "--state",
            dir.join("other").to_str().unwrap(),
        ],
        &tcti,
    );
    assert!(o.status.success());
    let host = dir.join("host.json");
    assert!(hgs(
        &[
            "platform-identifier",
            "--name",
            "h",
            "--out",
            host.to_str().unwrap()
        ],
        &tcti
    )
    .status
    .success());
    let ek = unhex(
        json(&host)["endorsement_keys"][0]["public"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let challenge = dir.join("c.json");
    let c = make_challenge(&tcti, &ek, &std::fs::read(&other).unwrap(), &[7u8; 32]);
    std::fs::write(&challenge, serde_json::to_vec(&c).unwrap()).unwrap();
    let log = corpus().join("tcglog/gtt_rhel8-uefi.bin");
    let o = hgs(
        &[
            "agent",
            "attest",
            "--challenge",
            challenge.to_str().unwrap(),
            "--out",
            dir.join("ev.json").to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        &tcti,
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("TPM2_ActivateCredential"), "{err}");
    assert!(err.contains("TPM error"), "{err}");
    assert!(!dir.join("ev.json").exists());
    assert_eq!(
        transient_objects(&tcti),
        0,
        "handles leaked on the error path"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
