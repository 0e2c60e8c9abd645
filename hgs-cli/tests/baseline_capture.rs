//! `hgs baseline capture` copies the log byte for byte and refuses an unusable one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

const HGS: &str = env!("CARGO_BIN_EXE_hgs");

fn corpus() -> PathBuf {
    hgs_testkit::corpus_root()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hgs-baseline-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn capture_copies_the_log_exactly() {
    let dir = tempdir("copy");
    let log = corpus().join("tcglog/imm_win_DESKTOP-MIMU51J-EPP-ESET.bin");
    let out = dir.join("ref.tcglog");
    let o = Command::new(HGS)
        .args(["baseline", "capture", "--skip-validation", "--log"])
        .arg(&log)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&log).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn capture_of_a_missing_or_empty_log_fails_naming_it() {
    let dir = tempdir("bad");
    let empty = dir.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    for log in [empty, dir.join("missing.bin")] {
        let o = Command::new(HGS)
            .args(["baseline", "capture", "--skip-validation", "--log"])
            .arg(&log)
            .arg("--out")
            .arg(dir.join("ref.tcglog"))
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(log.file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
        assert!(!dir.join("ref.tcglog").exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn capture_validates_like_the_hgs_cmdlet_and_skip_validation_only_silences() {
    // The GCE Shielded VM boots with Secure Boot but without VBS, an IOMMU requirement or a CI
    // policy event: HGS would refuse it as a reference host.
    let dir = tempdir("validate");
    let log = corpus().join("tcglog/ga_windows_gcp_shielded_vm.bin");
    let strict = dir.join("strict.tcglog");
    let o = Command::new(HGS)
        .args(["baseline", "capture", "--log"])
        .arg(&log)
        .arg("--out")
        .arg(&strict)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    for why in [
        "virtualization-based security is not running",
        "no IOMMU is required",
        "no code integrity policy is applied",
    ] {
        assert!(err.contains(why), "{err}");
    }
    assert!(!err.contains("Secure Boot is not enabled"), "{err}");
    assert!(!strict.exists());

    let skipped = dir.join("skipped.tcglog");
    let o = Command::new(HGS)
        .args(["baseline", "capture", "--skip-validation", "--log"])
        .arg(&log)
        .arg("--out")
        .arg(&skipped)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("virtualization-based security is not running")
    );
    assert_eq!(
        std::fs::read(&skipped).unwrap(),
        std::fs::read(&log).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
