//! Test support for the `hgs-*` workspace (`publish = false`): what tests, benches, fuzz targets,
//! the examples and `hgs demo` share instead of each keeping a copy.
//!
//! - [`corpus`] / [`corpus_root`]: the shared real test data (`../shared/corpus`, or `$HGS_CORPUS`).
//! - [`windows_evidence_dir`] / [`WindowsEvidence`]: the real Windows evidence bundled in
//!   `examples/data/ga_windows_gcp_shielded_vm` (AK, SHA-1 quote, boot log; Apache-2.0, from
//!   go-attestation's testdata).
//! - [`synthetic`]: a Windows-like boot log ([`synthetic::WindowsBoot`]) built with hgs-tcglog's
//!   log encoder (feature `builder`), and software self-quotes of a log.
//! - [`swtpm`]: a harness that manufactures and runs a software TPM (`swtpm`, `swtpm_setup`), and
//!   [`swtpm_available`], the tests' gate on it.
//! - `host` (feature `host`): `SimulatedHost`, a software EK and AK that answer challenges.
//!
//! Nothing here is a stand-in for a verifier part: the logs are real TCG logs that the library
//! parses, replays and binds to quotes like any other, and the keys sign real TPM structures.
//!
//! ```
//! let dir = hgs_testkit::windows_evidence_dir();
//! assert!(dir.join("event_log.bin").is_file());
//! ```

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

#[cfg(feature = "host")]
pub mod host;
pub mod swtpm;
pub mod synthetic;

/// The shared corpus directory: `$HGS_CORPUS` if set, else `../shared/corpus` beside the repository.
pub fn corpus_root() -> PathBuf {
    std::env::var_os("HGS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"))
}

/// A subdirectory of the shared corpus (`tcglog`, `ekcert`, `cipolicy`, `evidence`, ...).
pub fn corpus(sub: &str) -> PathBuf {
    corpus_root().join(sub)
}

/// The directory of the real Windows evidence bundled with the repository
/// (`examples/data/ga_windows_gcp_shielded_vm`, see its README for provenance and licence).
pub fn windows_evidence_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/ga_windows_gcp_shielded_vm")
}

/// The bundled Windows evidence, read from [`windows_evidence_dir`]: a GCE Shielded VM's AK as
/// Windows exports it, one SHA-1 quote over its PCRs (no verifier nonce), and its boot log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsEvidence {
    /// The AK's public area (bare TPMT_PUBLIC).
    pub ak_public: Vec<u8>,
    /// The quote's TPMS_ATTEST.
    pub quote_attest: Vec<u8>,
    /// The quote's TPMT_SIGNATURE.
    pub quote_sig: Vec<u8>,
    /// The TCG boot log.
    pub event_log: Vec<u8>,
}

impl WindowsEvidence {
    /// Reads the four files; an I/O error names the file.
    pub fn load() -> std::io::Result<WindowsEvidence> {
        let dir = windows_evidence_dir();
        let read = |f: &str| {
            std::fs::read(dir.join(f)).map_err(|e| {
                std::io::Error::new(e.kind(), format!("{}: {e}", dir.join(f).display()))
            })
        };
        Ok(WindowsEvidence {
            ak_public: read("ak_public.bin")?,
            quote_attest: read("quote_attest.bin")?,
            quote_sig: read("quote_sig.bin")?,
            event_log: read("event_log.bin")?,
        })
    }
}

/// True when `swtpm` and `swtpm_setup` are installed. When they are not, a test that needs them
/// fails (panics) unless `HGS_SKIP_TPM_TESTS=1`, so CI cannot pass by silently skipping them.
#[allow(clippy::panic)]
pub fn swtpm_available() -> bool {
    if swtpm::on_path("swtpm") && swtpm::on_path("swtpm_setup") {
        return true;
    }
    if std::env::var("HGS_SKIP_TPM_TESTS").as_deref() == Ok("1") {
        eprintln!("swtpm not installed; skipped because HGS_SKIP_TPM_TESTS=1");
        return false;
    }
    panic!(
        "swtpm/swtpm_setup not on PATH: install `swtpm swtpm-tools` (Debian/Ubuntu), \
         or set HGS_SKIP_TPM_TESTS=1 to skip the TPM tests"
    );
}
