//! `hgs demo` end to end through the real binary: the bundled Windows evidence verifies and its
//! tampered copies are refused; with the `tpm` feature and swtpm installed, the software-TPM round
//! trip passes and its tampered runs (stale nonce, edited log) are refused.
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
fn offline_demo_verifies_the_bundled_quote_and_refuses_both_tamperings() {
    let (ok, text) = run(&["demo", "--offline"]);
    assert!(ok, "{text}");
    assert!(text.contains("quote OK: 24 SHA-1 PCRs"), "{text}");
    assert!(
        text.contains("Secure Boot           true (event 1, PCR 7)"),
        "{text}"
    );
    assert!(text.contains("boot counter          4"), "{text}");
    assert!(text.contains("REFUSED (as it must be)"), "{text}");
    assert!(text.contains("is now untrusted"), "{text}");
}

#[cfg(feature = "tpm")]
#[test]
fn full_demo_passes_on_a_software_tpm_and_refuses_stale_and_edited_evidence() {
    if !(hgs_cli::swtpm::on_path("swtpm") && hgs_cli::swtpm::on_path("swtpm_setup")) {
        if std::env::var("HGS_SKIP_TPM_TESTS").as_deref() == Ok("1") {
            return;
        }
        panic!("swtpm/swtpm_setup not on PATH: install `swtpm swtpm-tools`, or set HGS_SKIP_TPM_TESTS=1");
    }
    let (ok, text) = run(&["demo"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("PASSED: the AK is in the TPM holding the EK"),
        "{text}"
    );
    assert!(text.contains("replayed old quote: REFUSED"), "{text}");
    assert!(
        text.contains("log with one PCR 13 measurement edited: REFUSED"),
        "{text}"
    );
    assert!(text.contains("Demo complete."), "{text}");
}
