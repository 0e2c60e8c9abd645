//! The whole HGS workflow through the `hgs` program and files, against a software TPM:
//! host side (boot, platform identifier, baseline capture, AK, attest) and admin side (roots,
//! host, TPM baseline and CI policy registration, challenge, verdict). Passed first; then tampered
//! runs, each with its exit code and its reason.
//!
//! Needs `swtpm`/`swtpm_setup` (and Debian's swtpm-localca, which signs the EK certificates);
//! fails with instructions when missing unless HGS_SKIP_TPM_TESTS=1.
#![cfg(feature = "demo")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use hgs_testkit::synthetic::WindowsBoot;

/// Host side: boot (extend the log), identify, capture the baseline, make an AK.
fn host_side(r: &Run, boot: &WindowsBoot) {
    boot_host(r, boot);
    capture(r, "boot.log");
}

/// Admin side under v2: the swtpm CA as root, host1, ref.tcglog as "class", `ci_file` as "ci".
fn register_v2(r: &Run, ci_file: &str) {
    r.ok(&["roots", "add", LOCALCA]);
    r.ok(&["host", "add", "--path", "host.json"]);
    r.ok(&[
        "tpm-policy",
        "add",
        "--path",
        "ref.tcglog",
        "--name",
        "class",
    ]);
    let policy = corpus("cipolicy").join(ci_file).display().to_string();
    r.ok(&["ci-policy", "add", "--path", &policy, "--name", "ci"]);
}

fn read_json(r: &Run, name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(r.dir.join(name)).unwrap()).unwrap()
}

fn write_json(r: &Run, name: &str, v: &serde_json::Value) {
    std::fs::write(r.dir.join(name), serde_json::to_vec(v).unwrap()).unwrap();
}

/// A healthy boot running the enforced corpus CI policy.
fn running_enforced() -> WindowsBoot {
    running(ENFORCED)
}

#[test]
fn cli_flow_passes_under_v2_then_tampering_fails_with_exit_code_and_reason() {
    if !swtpm_available() {
        return;
    }
    let r = start("v2");
    host_side(&r, &running_enforced());
    let policy = corpus("cipolicy").join(ENFORCED).display().to_string();

    // Admin side. v2 needs the EK certificate to chain to an installed root: first without roots.
    let out = r.hgs(&["host", "add", "--path", "host.json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // The library's reason, and the program's advice.
    assert!(err.contains("not trusted"), "{err}");
    assert!(err.contains("hgs roots add"), "{err}");
    let out = r.hgs(&["host", "add", "--path", "host.json", "--force"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("force applies to policy v1 only"), "{err}");
    assert!(err.contains("or without --force"), "{err}");
    r.ok(&["roots", "add", LOCALCA]);
    let added = r.ok(&["host", "add", "--path", "host.json"]);
    assert!(added.contains("EK certificate trusted"), "{added}");
    r.ok(&[
        "tpm-policy",
        "add",
        "--path",
        "ref.tcglog",
        "--name",
        "class",
    ]);
    r.ok(&["ci-policy", "add", "--path", &policy, "--name", "enforced"]);
    let listed = r.ok(&["policy", "list"]);
    assert!(
        listed.contains("Hgs_BitLockerEnabled               Disabled"),
        "{listed}"
    );
    let out = r.hgs(&["policy", "disable", "Hgs_CiPolicy"]);
    assert_eq!(out.status.code(), Some(2), "locked policies refuse");

    // Passed, human-readable and JSON.
    let e = round(&r, "ok");
    let verdict = r.ok(&["attest", "--evidence", &e]);
    assert!(verdict.starts_with("Passed (policy v2)"), "{verdict}");
    // The challenge was consumed: the same evidence cannot be judged twice.
    let out = r.hgs(&["attest", "--evidence", &e]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already used"));
    let e = round(&r, "json");
    let json: serde_json::Value =
        serde_json::from_slice(&r.hgs(&["attest", "--evidence", &e, "--json"]).stdout).unwrap();
    assert_eq!(json["status"], "Passed");
    assert_eq!(json["policy_version"], "v2");
    assert_eq!(json["baseline"], "class");
    assert_eq!(json["ci_policy"], "enforced");

    // A log event removed from the evidence: exit 1, the PCR named.
    let e = round(&r, "removed");
    let mut doc = read_json(&r, &e);
    let log = hgs_cli::hex::unhex(doc["event_log"].as_str().unwrap()).unwrap();
    let parsed = hgs_tcglog::EventLog::parse(&log).unwrap();
    let events: Vec<_> = parsed.events().map(Result::unwrap).collect();
    let i = events.iter().position(|ev| ev.pcr == 13).unwrap();
    let cut = [&log[..events[i].offset], &log[events[i + 1].offset..]].concat();
    doc["event_log"] = hgs_cli::hex::hex(&cut).into();
    write_json(&r, &e, &doc);
    let out = r.hgs(&["attest", "--evidence", &e]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PCR 13 replays to"), "{text}");
    assert!(text.contains("TcgLogVerification"), "{text}");

    // A disabled policy no longer counts; an unregistered host is refused.
    r.ok(&["policy", "disable", "Hgs_NoDumps"]);
    let e = round(&r, "unregistered");
    r.ok(&["host", "remove", "host1"]);
    let out = r.hgs(&["attest", "--evidence", &e]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("UnauthorizedHost"));
}

#[test]
fn cli_v1_host_with_v2_artifacts_fails_then_all_v1_passes() {
    if !swtpm_available() {
        return;
    }
    let r = start("v1");
    host_side(
        &r,
        &WindowsBoot {
            kernel_debugging: false,
            ..running_enforced()
        },
    );
    let policy = corpus("cipolicy").join(ENFORCED).display().to_string();
    // No roots installed: v1 with force registers the host.
    r.ok(&[
        "host",
        "add",
        "--path",
        "host.json",
        "--policy-version",
        "v1",
        "--force",
    ]);
    r.ok(&[
        "tpm-policy",
        "add",
        "--path",
        "ref.tcglog",
        "--name",
        "class2",
    ]);
    r.ok(&["ci-policy", "add", "--path", &policy, "--name", "ci2"]);
    let e = round(&r, "mismatch");
    let out = r.hgs(&["attest", "--evidence", &e]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("UnauthorizedHost"), "{text}");
    assert!(text.contains("no single policy version"), "{text}");

    r.ok(&[
        "tpm-policy",
        "add",
        "--path",
        "ref.tcglog",
        "--name",
        "class1",
        "--policy-version",
        "v1",
    ]);
    r.ok(&[
        "ci-policy",
        "add",
        "--from-log",
        "ref.tcglog",
        "--name",
        "ci1",
        "--policy-version",
        "v1",
    ]);
    let e = round(&r, "v1");
    let text = r.ok(&["attest", "--evidence", &e]);
    assert!(text.starts_with("Passed (policy v1)"), "{text}");
    assert!(text.contains("CI policy: ci1"), "{text}");
}

const AUDIT: &str = "aaronlocker__SiPolicy-Audit__3b070fcd.p7b";

/// A host of the reference class booted with `boot` on its own software TPM; the admin installed
/// the TPM's roots, registered it (v2), the class's baseline captured on a healthy reference host
/// (`running_enforced`) and `registered_ci` as CI policy. One attestation round through files:
/// the verdict's exit code and text.
fn tampered_host_verdict(tag: &str, boot: &WindowsBoot, registered_ci: &str) -> (i32, String) {
    let r = start(tag);
    // Host side, without capture: a tampered host is not where the baseline comes from.
    boot_host(&r, boot);
    std::fs::write(r.dir.join("reference.log"), running_enforced().build()).unwrap();
    capture(&r, "reference.log");
    register_v2(&r, registered_ci);
    let e = round(&r, tag);
    let out = r.hgs(&["attest", "--evidence", &e]);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn cli_tampered_boots_each_fail_with_exit_code_and_reason() {
    if !swtpm_available() {
        return;
    }
    // (tag, boot, registered CI policy, exit code, verdict start, reasons the text must name)
    type Case = (
        &'static str,
        WindowsBoot,
        &'static str,
        i32,
        &'static str,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "secureboot-off",
            WindowsBoot {
                secure_boot: false,
                ..running_enforced()
            },
            ENFORCED,
            1,
            "InsecureHostConfiguration",
            vec!["Hgs_SecureBootEnabled", "no TPM baseline matches"],
        ),
        (
            "kernel-debugger",
            WindowsBoot {
                kernel_debugging: true,
                ..running_enforced()
            },
            ENFORCED,
            1,
            "InsecureHostConfiguration",
            vec!["Hgs_UefiDebugDisabled"],
        ),
        (
            "resume",
            WindowsBoot {
                resume: true,
                ..running_enforced()
            },
            ENFORCED,
            1,
            "InsecureHostConfiguration",
            vec!["Hgs_FullBoot"],
        ),
        (
            "ci-unregistered",
            running_enforced(),
            AUDIT,
            1,
            "InsecureHostConfiguration",
            vec!["a measured code integrity policy is not registered"],
        ),
        (
            "audit-mode",
            running(AUDIT),
            AUDIT,
            0,
            "Passed (policy v2)",
            vec!["flagged: the CI policy is in audit mode"],
        ),
    ];
    for (tag, boot, ci, code, start, reasons) in cases {
        let (got, text) = tampered_host_verdict(tag, &boot, ci);
        assert_eq!(got, code, "{tag}: {text}");
        assert!(text.starts_with(start), "{tag}: {text}");
        for reason in reasons {
            assert!(text.contains(reason), "{tag}: no {reason:?} in {text}");
        }
    }
}

#[test]
fn cli_evidence_for_another_challenge_a_narrowed_quote_or_edited_event_data_is_refused() {
    if !swtpm_available() {
        return;
    }
    let r = start("evidence");
    host_side(&r, &running_enforced());
    register_v2(&r, ENFORCED);

    // Evidence answering challenge A, submitted as the answer to challenge B: B's nonce is not
    // in the quote.
    let e = round(&r, "a");
    challenge(&r, "c-b.json");
    let mut doc = read_json(&r, &e);
    doc["challenge_id"] = read_json(&r, "c-b.json")["id"].clone();
    write_json(&r, "e-swapped.json", &doc);
    let out = r.hgs(&["attest", "--evidence", "e-swapped.json"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("TpmError"), "{text}");
    assert!(text.contains("nonce"), "{text}");

    // A host that answers a narrower challenge than the verifier issued (its copy of the
    // challenge edited): a quote omitting PCR 13, then a quote in another bank. The verifier
    // judges against the challenge it kept.
    for (tag, edit, reason) in [
        (
            "subset",
            serde_json::json!({ "pcrs": [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 14] }),
            "quote omits PCRs [13] of bank 0x000b",
        ),
        (
            "other-bank",
            serde_json::json!({ "banks": ["sha1"] }),
            "quote covers banks [4], not the required bank 0x000b",
        ),
    ] {
        let (c, e) = (format!("c-{tag}.json"), format!("e-{tag}.json"));
        challenge(&r, &c);
        let mut doc = read_json(&r, &c);
        for (k, v) in edit.as_object().unwrap() {
            doc[k] = v.clone();
        }
        write_json(&r, &c, &doc);
        answer(&r, &c, &e);
        let out = r.hgs(&["attest", "--evidence", &e]);
        assert_eq!(out.status.code(), Some(1), "{tag}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("TpmError"), "{tag}: {text}");
        assert!(text.contains(reason), "{tag}: {text}");
    }

    // One byte of a SIPA event's data changed, its digest left alone: the replay still matches
    // the TPM, but the event is refused by its digest (and its claims are not used).
    let e = round(&r, "edited");
    let mut doc = read_json(&r, &e);
    let mut log = hgs_cli::hex::unhex(doc["event_log"].as_str().unwrap()).unwrap();
    let parsed = hgs_tcglog::EventLog::parse(&log).unwrap();
    let ev = parsed
        .events()
        .map(Result::unwrap)
        .find(|ev| ev.pcr == 13 && ev.event_type == hgs_tcglog::EventType::EventTag)
        .unwrap();
    // The last byte of its data (inside the last SIPA record: the framing stays valid).
    let (index, at) = (
        ev.index,
        ev.data.as_ptr() as usize - log.as_ptr() as usize + ev.data.len() - 1,
    );
    log[at] ^= 0x01;
    doc["event_log"] = hgs_cli::hex::hex(&log).into();
    write_json(&r, &e, &doc);
    let out = r.hgs(&["attest", "--evidence", &e]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("InsecureHostConfiguration [TcgLogVerification]"),
        "{text}"
    );
    assert!(
        text.contains(&format!("event {index} (PCR 13): its data hashes to")),
        "{text}"
    );
}

/// `hgs serve` killed when the test ends, however it ends.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The service flow on the software TPM: `hgs serve` (SQLite, loopback, self-signed TLS) and
/// `hgs agent run --once`: Passed, with a token that verifies offline against the service's
/// published key; then the host's registration removed, and the next round refused by name.
#[test]
fn cli_serve_and_agent_run_attest_over_https() {
    if !swtpm_available() {
        return;
    }
    let r = start("serve");
    host_side(&r, &running_enforced());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(r.dir.join("admin-token"), "serve-test-admin-token").unwrap();
    let listen = format!("127.0.0.1:{port}");
    let _served = Served(
        Command::new(HGS)
            .current_dir(&r.dir)
            .args([
                "serve",
                "--listen",
                &listen,
                "--db",
                "sqlite:server.db",
                "--admin-token-file",
                "admin-token",
                "--cert-out",
                "server.pem",
            ])
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() || !r.dir.join("server.pem").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "hgs serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let url = format!("https://{listen}");
    let cert =
        reqwest::Certificate::from_pem(&std::fs::read(r.dir.join("server.pem")).unwrap()).unwrap();
    let http = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert)
        .build()
        .unwrap();
    // Administered with the same verbs as the file store, against the server.
    let admin = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "--server",
            &url,
            "--server-cert",
            "server.pem",
            "--admin-token-file",
            "admin-token",
        ]);
        r.ok(&all)
    };
    admin(&[
        "host",
        "add",
        "--path",
        "host.json",
        "--name",
        "host1",
        "--policy-version",
        "v1",
        "--force",
    ]);
    admin(&[
        "tpm-policy",
        "add",
        "--path",
        "ref.tcglog",
        "--name",
        "class",
        "--policy-version",
        "v1",
    ]);
    admin(&[
        "ci-policy",
        "add",
        "--from-log",
        "ref.tcglog",
        "--name",
        "ci",
        "--policy-version",
        "v1",
    ]);

    let agent_run = || {
        r.hgs(&[
            "agent",
            "run",
            "--once",
            "--retries",
            "0",
            "--server",
            &url,
            "--server-cert",
            "server.pem",
            "--host",
            "host1",
            "--log",
            "boot.log",
            "--state",
            "agent",
        ])
    };
    let out = agent_run();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Passed (policy v1)"));
    let token = std::fs::read_to_string(r.dir.join("agent/token.jwt")).unwrap();
    let jwk = http
        .get(format!("{url}/v1/token-key"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = hgs_attest::TokenVerifier::new()
        .with_public_jwk(&jwk)
        .unwrap()
        .verify(&token, now)
        .unwrap();
    assert!(verified.is_affirming(now));
    assert_eq!(verified.claims().host.as_deref(), Some("host1"));

    // Registration removed: the service no longer knows the host; no new token.
    admin(&["host", "remove", "host1"]);
    std::fs::remove_file(r.dir.join("agent/token.jwt")).unwrap();
    let out = agent_run();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown_host"), "{err}");
    assert!(!r.dir.join("agent/token.jwt").exists());
}
