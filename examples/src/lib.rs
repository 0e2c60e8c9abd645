//! Embedding programs over the `hgs-*` libraries; run them with
//! `cargo run -p hgs-examples --example verify_evidence` and
//! `cargo run -p hgs-examples --example register_and_judge`.
//!
//! This library only locates the real Windows evidence bundled in `examples/data/` (a GCE
//! Shielded VM's AK, SHA-1 quote and boot log; Apache-2.0, from go-attestation's testdata, see
//! `data/ga_windows_gcp_shielded_vm/README.md`), which the examples, `hgs demo`, the tests,
//! the benches and the fuzz seeds read.
//!
//! ```
//! assert!(hgs_examples::bundled_evidence_dir().join("quote_attest.bin").is_file());
//! ```

#![forbid(unsafe_code)]

use std::path::PathBuf;

/// The directory of the bundled Windows evidence (`examples/data/ga_windows_gcp_shielded_vm`).
pub fn bundled_evidence_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/ga_windows_gcp_shielded_vm")
}
