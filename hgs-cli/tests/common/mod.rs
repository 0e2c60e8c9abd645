//! Shared by the tests that drive the `hgs` program against a software TPM (swtpm): a run
//! directory with its own TPM, the program's invocations, and the steps both the admin-flow and
//! the tpm2-tools tests take (boot, capture, challenge, answer).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use hgs_testkit::synthetic::WindowsBoot;

pub const HGS: &str = env!("CARGO_BIN_EXE_hgs");
/// Debian's swtpm-localca keeps its CA here; swtpm_setup --create-ek-cert signs with it.
pub const LOCALCA: &str = "/var/lib/swtpm-localca";
pub const ENFORCED: &str = "aaronlocker__SiPolicy-Block__2579f3f8.p7b";

pub fn swtpm_available() -> bool {
    hgs_testkit::swtpm_available()
}

pub fn corpus(sub: &str) -> PathBuf {
    hgs_testkit::corpus(sub)
}

pub struct Run {
    pub dir: PathBuf,
    pub tcti: String,
}

impl Run {
    pub fn hgs(&self, args: &[&str]) -> Output {
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

    pub fn ok(&self, args: &[&str]) -> String {
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

pub fn start(tag: &str) -> Run {
    let dir = std::env::temp_dir().join(format!("hgs-cli-{tag}-{}", std::process::id()));
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
pub fn boot_host(r: &Run, boot: &WindowsBoot) {
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
pub fn capture(r: &Run, log: &str) {
    r.ok(&["baseline", "capture", "--out", "ref.tcglog", "--log", log]);
}

/// One attestation round through files: the verifier's challenge c-TAG.json, the host's evidence
/// e-TAG.json (returned).
pub fn round(r: &Run, tag: &str) -> String {
    let (c, e) = (format!("c-{tag}.json"), format!("e-{tag}.json"));
    challenge(r, &c);
    answer(r, &c, &e);
    e
}

/// The verifier challenges host1's AK into `c`.
pub fn challenge(r: &Run, c: &str) {
    r.ok(&["challenge", "--host", "host1", "--ak", "ak.pub", "--out", c]);
}

/// The host answers challenge `c` with evidence `e`.
pub fn answer(r: &Run, c: &str, e: &str) {
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
pub fn running(file: &str) -> WindowsBoot {
    let file = std::fs::read(corpus("cipolicy").join(file)).unwrap();
    let p = hgs_cipolicy::CiPolicy::parse(&file).unwrap();
    WindowsBoot {
        si_policy: Some((
            "SiPolicy.p7b".into(),
            0x000B,
            p.measured_digest(hgs_cipolicy::HashAlg::Sha256),
        )),
        ..WindowsBoot::default()
    }
}
