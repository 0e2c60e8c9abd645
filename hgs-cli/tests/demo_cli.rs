//! `hgs demo` end to end through the real binary: the bundled Windows evidence is evaluated (quote
//! and log verify; the host is refused with its reasons) and its tampered copy is refused; with the
//! `demo` feature and swtpm installed, the whole HGS flow passes under v2 and a replayed quote is
//! refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const HGS: &str = env!("CARGO_BIN_EXE_hgs");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(HGS)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn offline_demo_evaluates_the_bundled_evidence_and_refuses_the_tampered_copy() {
    let (ok, text) = run(&["demo", "--offline"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("[ok  ] quote:sha1: signed by the AK"),
        "{text}"
    );
    assert!(
        text.contains("[ok  ] baseline: matches gce-n1 (v1)"),
        "{text}"
    );
    assert!(
        text.contains("secure_boot = true (event 1, PCR 7)"),
        "{text}"
    );
    assert!(text.contains("UnauthorizedHost"), "{text}");
    assert!(
        text.contains("Hgs_VsmIdkPresent: virtualization-based security is not running"),
        "{text}"
    );
    assert!(
        text.contains("the log does not replay to the quoted PCRs"),
        "{text}"
    );
    assert!(text.contains("0 policies checked"), "{text}");
}

#[cfg(feature = "demo")]
#[test]
fn full_demo_passes_on_a_software_tpm_and_refuses_a_replayed_quote_then_attests_to_the_service_and_releases_keys(
) {
    if !(hgs_testkit::swtpm::on_path("swtpm") && hgs_testkit::swtpm::on_path("swtpm_setup")) {
        if std::env::var("HGS_SKIP_TPM_TESTS").as_deref() == Ok("1") {
            return;
        }
        panic!("swtpm/swtpm_setup not on PATH: install `swtpm swtpm-tools`, or set HGS_SKIP_TPM_TESTS=1");
    }
    let (ok, text) = run(&["demo"]);
    assert!(ok, "{text}");
    assert!(text.contains("EK certificate trusted: chain"), "{text}");
    assert!(text.contains("Passed (policy v2)"), "{text}");
    assert!(
        text.contains("REFUSED (TpmError): sha256 quote refused: quote nonce"),
        "{text}"
    );
    // Part 3: the service and its agent.
    assert!(text.contains("Passed (policy v1)"), "{text}");
    assert!(text.contains("status Passed, policy v1"), "{text}");
    assert!(text.contains("affirming: true"), "{text}");
    assert!(text.contains("REFUSED (409): challenge_used"), "{text}");
    // Part 4: key protection.
    assert!(text.contains("= the stored secret"), "{text}");
    assert!(
        text.contains("vm.key = the transport key the owner made"),
        "{text}"
    );
    assert!(
        text.contains("REFUSED: InsecureHostConfiguration [SecureBoot"),
        "{text}"
    );
    assert!(text.contains("Demo complete."), "{text}");
}
