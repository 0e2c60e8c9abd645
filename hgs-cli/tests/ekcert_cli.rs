//! `hgs ekcert verify/show` through the binary: the corpus against its roots, and a software TPM's
//! real EK certificates (swtpm_setup + swtpm_localca with a private, temporary CA) against that CA
//! (trusted) and against the vendor roots (untrusted root).
//!
//! The swtpm test needs `swtpm_setup` + `swtpm_localca`; if missing it FAILS with instructions,
//! unless `HGS_SKIP_TPM_TESTS=1` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const HGS: &str = env!("CARGO_BIN_EXE_hgs");

fn corpus() -> PathBuf {
    hgs_testkit::corpus("ekcert")
}

fn hgs(args: &[&str]) -> Output {
    let out = Command::new(HGS).args(args).output().unwrap();
    eprintln!(
        "hgs {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[test]
fn verify_corpus_leaves_through_the_cli() {
    let c = corpus();
    let roots = c.join("roots");
    let roots = roots.to_str().unwrap();
    let leaf = |id: &str| c.join("leaves").join(id).to_str().unwrap().to_string();

    let out = hgs(&[
        "ekcert",
        "verify",
        &leaf("stm-rsa2048-ekca05-ffpadded.der"),
        "--roots",
        roots,
        "--at",
        "2026-11-22T00:00:00Z",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let j = json(&out);
    assert_eq!(j["trusted"], true);
    assert_eq!(j["manufacturer"], "STM");
    assert_eq!(j["model"], "ST33HTPHAHB4");
    assert_eq!(j["chain"].as_array().unwrap().len(), 4);
    assert!(j["reason"].is_null());

    // An AK certificate: not an EK certificate, exit 1.
    let out = hgs(&[
        "ekcert",
        "verify",
        &leaf("msft-azure-cvm-akcert-not-ek.der"),
        "--roots",
        roots,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let j = json(&out);
    assert_eq!(j["trusted"], false);
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .starts_with("not an EK certificate"),
        "{j}"
    );

    // Expired TPM 1.2 EK: refused by default, accepted with --allow-expired.
    let stm12 = leaf("stm-st33zp24-tpm12-oaep-ekca02-nvheader.der");
    let out = hgs(&[
        "ekcert",
        "verify",
        &stm12,
        "--roots",
        roots,
        "--at",
        "2026-11-22",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(json(&out)["reason"].as_str().unwrap().contains("expired"));
    let out = hgs(&[
        "ekcert",
        "verify",
        &stm12,
        "--roots",
        roots,
        "--at",
        "2026-11-22",
        "--allow-expired",
    ]);
    assert_eq!(out.status.code(), Some(0));

    // The non-self-signed IFX root is an anchor only when installed as one.
    let ifx = leaf("ifx-oaep-ekca20-noeku.der");
    let out = hgs(&[
        "ekcert",
        "verify",
        &ifx,
        "--roots",
        roots,
        "--at",
        "2026-11-22",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let anchor = c.join("roots/IFX/IFX_TPM_EK_Root_CA_7df2c375.der");
    let out = hgs(&[
        "ekcert",
        "verify",
        &ifx,
        "--roots",
        roots,
        "--anchor",
        anchor.to_str().unwrap(),
        "--at",
        "2026-11-22",
    ]);
    assert_eq!(out.status.code(), Some(0));

    // EKpub mismatch: the leaf against another leaf's key, given as a certificate's SPKI is not
    // available here, so as a TPMT_PUBLIC built from nothing: refused as an unreadable EKpub.
    let dir = std::env::temp_dir().join(format!("hgs-ekcert-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("ek.pub");
    std::fs::write(&junk, b"not a key").unwrap();
    let out = hgs(&[
        "ekcert",
        "verify",
        &leaf("stm-rsa2048-ekca05-ffpadded.der"),
        "--roots",
        roots,
        "--ekpub",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));

    let out = hgs(&[
        "ekcert",
        "show",
        &leaf("ntc-npct6xx-oaep-root2010-padded.der"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let j = json(&out);
    assert_eq!(j["tpm"]["manufacturer"], "NTC");
    assert_eq!(j["is_ek_certificate"], true);
    assert!(j["quirks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q.as_str().unwrap().contains("OAEP")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// TrustedTpm.cab layout: VENDOR/RootCA and VENDOR/IntermediateCA decide the roles.
#[test]
fn cab_layout_roles() {
    let c = corpus();
    let dir = std::env::temp_dir().join(format!("hgs-ekcert-cab-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("IFX/RootCA")).unwrap();
    std::fs::create_dir_all(dir.join("IFX/IntermediateCA")).unwrap();
    std::fs::copy(
        c.join("roots/IFX/IFX_TPM_EK_Root_CA_7df2c375.der"),
        dir.join("IFX/RootCA/IFX TPM EK Root CA.cer"),
    )
    .unwrap();
    std::fs::copy(
        c.join("roots/IFX/IFX_TPM_EK_Intermediate_CA_20_73a42ded.der"),
        dir.join("IFX/IntermediateCA/IFX TPM EK Intermediate CA 20.cer"),
    )
    .unwrap();
    let loaded = hgs_cli::roots::load_roots(&dir).unwrap();
    assert_eq!((loaded.anchors.len(), loaded.intermediates.len()), (1, 1));
    let leaf = c.join("leaves/ifx-oaep-ekca20-noeku.der");
    let out = hgs(&[
        "ekcert",
        "verify",
        leaf.to_str().unwrap(),
        "--roots",
        dir.to_str().unwrap(),
        "--at",
        "2026-11-22",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["anchor_self_signed"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn swtpm_ek_certificates_chain_to_their_local_ca_only() {
    if !(on_path("swtpm_setup") && on_path("swtpm_localca") && on_path("swtpm")) {
        if std::env::var("HGS_SKIP_TPM_TESTS").as_deref() == Ok("1") {
            eprintln!("swtpm not installed; skipped because HGS_SKIP_TPM_TESTS=1");
            return;
        }
        panic!("swtpm_setup/swtpm_localca not on PATH: install `swtpm swtpm-tools`, or set HGS_SKIP_TPM_TESTS=1");
    }
    let t = std::env::temp_dir().join(format!("hgs-ekcert-swtpm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&t);
    for d in ["ca", "state", "out"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    // A private local CA (swtpm_localca creates root + intermediate on first use), so the test
    // does not depend on or touch /var/lib/swtpm-localca.
    let ca = t.join("ca");
    std::fs::write(
        t.join("localca.conf"),
        format!(
            "statedir = {0}\nsigningkey = {0}/signkey.pem\nissuercert = {0}/issuercert.pem\ncertserial = {0}/certserial\n",
            ca.display()
        ),
    )
    .unwrap();
    std::fs::write(
        t.join("localca.options"),
        "--platform-manufacturer hgs\n--platform-version 1\n--platform-model test\n",
    )
    .unwrap();
    std::fs::write(
        t.join("setup.conf"),
        format!(
            "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = {}\ncreate_certs_tool_options = {}\nactive_pcr_banks = sha256\n",
            t.join("localca.conf").display(),
            t.join("localca.options").display()
        ),
    )
    .unwrap();
    let out = Command::new("swtpm_setup")
        .args([
            "--tpm2",
            "--create-ek-cert",
            "--create-platform-cert",
            "--overwrite",
        ])
        .arg("--tpmstate")
        .arg(t.join("state"))
        .arg("--config")
        .arg(t.join("setup.conf"))
        .arg("--write-ek-cert-files")
        .arg(t.join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "swtpm_setup: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let vendor_roots = corpus().join("roots");
    for name in ["ek-rsa2048.crt", "ek-secp384r1.crt"] {
        let cert = t.join("out").join(name);
        let cert = cert.to_str().unwrap();
        let out = hgs(&[
            "ekcert",
            "verify",
            cert,
            "--roots",
            ca.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{name} against its local CA");
        let j = json(&out);
        assert_eq!(
            j["chain"].as_array().unwrap().len(),
            3,
            "{name}: leaf, localca intermediate, localca root"
        );
        assert_eq!(j["model"], "swtpm");
        let out = hgs(&[
            "ekcert",
            "verify",
            cert,
            "--roots",
            vendor_roots.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{name} against vendor roots");
        assert!(json(&out)["reason"]
            .as_str()
            .unwrap()
            .starts_with("untrusted root"));
    }
    let _ = std::fs::remove_dir_all(&t);
}
