//! A Linux host registered from the files tpm2-tools write (issue 13), end to end through the
//! `hgs` program against a software TPM: `tpm2_createek -u ek.pub`, `tpm2_readpublic -f pem`
//! and `tpm2_nvread` of the EK certificate index, then `hgs host add --ekpub --ekcert`,
//! challenge, `hgs agent attest`, and `hgs attest` Passed. Shared steps in tests/common.
//!
//! Needs `swtpm`/`swtpm_setup`, Debian's swtpm-localca and tpm2-tools; fails with instructions
//! when missing unless HGS_SKIP_TPM_TESTS=1.
#![cfg(feature = "demo")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;

/// Runs a tpm2-tools command against the run's TPM.
fn tpm2(r: &Run, args: &[&str]) {
    let out = Command::new(args[0])
        .current_dir(&r.dir)
        .args(&args[1..])
        .env("TPM2TOOLS_TCTI", &r.tcti)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (install tpm2-tools)", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn host_registered_from_tpm2_tools_files_attests() {
    if !swtpm_available() {
        return;
    }
    if !hgs_testkit::swtpm::on_path("tpm2_createek") {
        if std::env::var("HGS_SKIP_TPM_TESTS").as_deref() == Ok("1") {
            return;
        }
        panic!("tpm2-tools not on PATH: install `tpm2-tools`, or set HGS_SKIP_TPM_TESTS=1");
    }
    let r = start("files");
    boot_host(&r, &running(ENFORCED));
    capture(&r, "boot.log");

    // What a Linux administrator has: the EK public area, its PEM, the NV certificate blob.
    tpm2(
        &r,
        &["tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"],
    );
    tpm2(
        &r,
        &[
            "tpm2_readpublic",
            "-c",
            "ek.ctx",
            "-f",
            "pem",
            "-o",
            "ek.pem",
        ],
    );
    tpm2(&r, &["tpm2_nvread", "0x01c00002", "-C", "o", "-o", "ek.nv"]);
    // tpm2-tools leave the EK loaded as a transient object: free the slots for the agent.
    tpm2(&r, &["tpm2_flushcontext", "-t"]);
    // The PEM key rebuilt with the default EK template is the public area tpm2_createek wrote.
    let ek_pub = std::fs::read(r.dir.join("ek.pub")).unwrap();
    let pem = std::fs::read(r.dir.join("ek.pem")).unwrap();
    assert_eq!(hgs_cli::ekcheck::ek_public_from_file(&pem).unwrap(), ek_pub);

    r.ok(&["roots", "add", LOCALCA]);
    let added = r.ok(&[
        "host", "add", "--name", "host1", "--ekpub", "ek.pem", "--ekcert", "ek.nv",
    ]);
    assert!(added.contains("EK certificate trusted"), "{added}");
    // The same EK from the TPM2B_PUBLIC file is the same host: a second name is refused.
    let dup = r.hgs(&[
        "host", "add", "--name", "again", "--ekpub", "ek.pub", "--ekcert", "ek.nv",
    ]);
    assert!(!dup.status.success());
    r.ok(&[
        "tpm-policy",
        "add",
        "--path",
        "ref.tcglog",
        "--name",
        "class",
    ]);
    let policy = corpus("cipolicy").join(ENFORCED).display().to_string();
    r.ok(&["ci-policy", "add", "--path", &policy, "--name", "ci"]);

    let e = round(&r, "ok");
    let verdict = r.ok(&["attest", "--evidence", &e]);
    assert!(verdict.starts_with("Passed"), "{verdict}");
}
