//! A Linux host registered from the files tpm2-tools write (issue 13), end to end through the
//! `hgs` program against a software TPM: `tpm2_createek -u ek.pub`, `tpm2_readpublic -f pem`
//! and `tpm2_nvread` of the EK certificate index, then `hgs host add --ekpub --ekcert`,
//! challenge, `hgs agent attest`, and `hgs attest` Passed. Helpers copied from cli_attest.rs.
//!
//! Needs `swtpm`/`swtpm_setup`, Debian's swtpm-localca and tpm2-tools; fails with instructions
//! when missing unless HGS_SKIP_TPM_TESTS=1.
#![cfg(feature = "tpm")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hgs_tcglog::synthetic::WindowsBoot;

const HGS: &str = env!("CARGO_BIN_EXE_hgs");
/// Debian's swtpm-localca keeps its CA here; swtpm_setup --create-ek-cert signs with it.
const LOCALCA: &str = "/var/lib/swtpm-localca";
const ENFORCED: &str = "aaronlocker__SiPolicy-Block__2579f3f8.p7b";

fn swtpm_available() -> bool {
    if hgs_cli::swtpm::on_path("swtpm") && hgs_cli::swtpm::on_path("swtpm_setup") {
        return true;
    }
    if std::env::var("HGS_SKIP_TPM_TESTS").as_deref() == Ok("1") {
        eprintln!("swtpm not installed; skipped because HGS_SKIP_TPM_TESTS=1");
        return false;
    }
    panic!(
        "swtpm/swtpm_setup not on PATH: install `swtpm swtpm-tools`, or set HGS_SKIP_TPM_TESTS=1"
    );
}

fn corpus(sub: &str) -> PathBuf {
    std::env::var_os("HGS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"))
        .join(sub)
}

struct Run {
    dir: PathBuf,
    tcti: String,
}

impl Run {
    fn hgs(&self, args: &[&str]) -> Output {
        let out = Command::new(HGS)
            .current_dir(&self.dir)
            .args(args)
            .env("TPM2TOOLS_TCTI", &self.tcti)
            .output()
            .unwrap();
        eprintln!(
            "$ hgs {} -> {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.hgs(args);
        assert!(out.status.success(), "hgs {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = Command::new(HGS)
            .current_dir(&self.dir)
            .args(["swtpm", "stop", "--dir", "tpm"])
            .output();
    }
}

fn start(tag: &str) -> Run {
    let dir = std::env::temp_dir().join(format!("hgs-tpm2tools-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(HGS)
        .current_dir(&dir)
        .args(["swtpm", "start", "--dir", "tpm"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tcti = stdout
        .lines()
        .find_map(|l| l.strip_prefix("export TPM2TOOLS_TCTI=\""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_string();
    Run { dir, tcti }
}

/// Boots the TPM with `boot` (its log in boot.log), writes host.json and an AK.
fn boot_host(r: &Run, boot: &WindowsBoot) {
    std::fs::write(r.dir.join("boot.log"), boot.build()).unwrap();
    r.ok(&["swtpm", "replay-log", "boot.log"]);
    r.ok(&[
        "platform-identifier",
        "--name",
        "host1",
        "--out",
        "host.json",
    ]);
    r.ok(&["agent", "ak", "--out", "ak.pub", "--state", "agent"]);
}

/// The TPM baseline (ref.tcglog) captured from `log`.
fn capture(r: &Run, log: &str) {
    r.ok(&["baseline", "capture", "--out", "ref.tcglog", "--log", log]);
}

/// One attestation round through files: the verifier's challenge c-TAG.json, the host's evidence
/// e-TAG.json (returned).
fn round(r: &Run, tag: &str) -> String {
    let (c, e) = (format!("c-{tag}.json"), format!("e-{tag}.json"));
    challenge(r, &c);
    answer(r, &c, &e);
    e
}

/// The verifier challenges host1's AK into `c`.
fn challenge(r: &Run, c: &str) {
    r.ok(&["challenge", "--host", "host1", "--ak", "ak.pub", "--out", c]);
}

/// The host answers challenge `c` with evidence `e`.
fn answer(r: &Run, c: &str, e: &str) {
    r.ok(&[
        "agent",
        "attest",
        "--challenge",
        c,
        "--out",
        e,
        "--log",
        "boot.log",
        "--state",
        "agent",
    ]);
}

/// A healthy boot running the corpus CI policy `file` (its measured SHA-256 digest in SI_POLICY).
fn running(file: &str) -> WindowsBoot {
    let file = std::fs::read(corpus("cipolicy").join(file)).unwrap();
    let p = hgs_cipolicy::CiPolicy::parse(&file).unwrap();
    WindowsBoot {
        si_policy: Some((
            "SiPolicy.p7b".into(),
            0x000B,
            p.measured_digest(hgs_cipolicy::DigestAlg::Sha256),
        )),
        ..WindowsBoot::default()
    }
}

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
    if !hgs_cli::swtpm::on_path("tpm2_createek") {
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
