//! `hgs roots add TrustedTpm.cab` (issue 13) through the binary: the real cabinet installs with
//! its signature verified and per-vendor counts, `hgs roots list` says what came from which file,
//! a changed or signature-less cabinet is refused unless `--allow-unsigned`, and a real STMicro
//! EK registered from its files (`--ekpub` SPKI, `--ekcert` padded NV blob) is trusted through it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HGS: &str = env!("CARGO_BIN_EXE_hgs");

fn corpus(sub: &str) -> PathBuf {
    hgs_testkit::corpus(sub)
}

fn hgs(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(HGS)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "$ hgs {} -> {:?}\n{}{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .take(15)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hgs-roots-cab-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn real_cabinet_installs_and_lists_per_vendor_and_file() {
    let d = tmp("real");
    let cab = corpus("ekcert/trustedtpm/TrustedTpm.cab")
        .display()
        .to_string();
    let out = hgs(&d, &["roots", "add", &cab]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("signature verified"), "{stdout}");
    assert!(
        stdout.contains("Microsoft Root Certificate Authority 2011"),
        "{stdout}"
    );
    assert!(
        stdout.contains("STMicro    6 anchors, 22 intermediates"),
        "{stdout}"
    );
    let out = hgs(&d, &["roots", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&format!(
            "from {cab}: STMicro    6 anchors, 22 intermediates"
        )),
        "{}",
        &listed[..2000.min(listed.len())]
    );

    // A real STMicro EK from its files: the SPKI (PEM) and the raw NV blob (0xFF padded).
    let leaf = corpus("ekcert/leaves/stm-rsa2048-ekca05-ffpadded.der");
    let pem = corpus("ekcert/leaves/stm-rsa2048-ekca05-ffpadded.pem");
    let spki = Command::new("openssl")
        .args(["x509", "-in"])
        .arg(&pem)
        .args(["-noout", "-pubkey"])
        .output();
    let Ok(spki) = spki else {
        eprintln!("openssl not installed: the --ekpub SPKI part is skipped");
        return;
    };
    std::fs::write(d.join("ek.pem"), &spki.stdout).unwrap();
    let out = hgs(
        &d,
        &[
            "host",
            "add",
            "--name",
            "stm",
            "--ekpub",
            "ek.pem",
            "--ekcert",
            &leaf.display().to_string(),
            "--at",
            "2026-11-22T00:00:00Z",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("EK certificate trusted: STM"), "{stdout}");
}

#[test]
fn changed_or_unsigned_cabinet_is_refused_unless_allowed() {
    let d = tmp("bad");
    let real = std::fs::read(corpus("ekcert/trustedtpm/TrustedTpm.cab")).unwrap();
    let mut changed = real.clone();
    changed[1_000_000] ^= 1;
    std::fs::write(d.join("changed.cab"), &changed).unwrap();
    let cb = u32::from_le_bytes(real[8..12].try_into().unwrap()) as usize;
    std::fs::write(d.join("cut.cab"), &real[..cb]).unwrap();
    for (file, why) in [
        ("changed.cab", "cabinet digest"),
        ("cut.cab", "does not end the"),
    ] {
        let out = hgs(&d, &["roots", "add", file]);
        assert!(!out.status.success(), "{file}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("refused") && stderr.contains(why),
            "{file}: {stderr}"
        );
    }
    let out = hgs(&d, &["roots", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
    let out = hgs(&d, &["roots", "add", "changed.cab", "--allow-unsigned"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARNING"));
}
