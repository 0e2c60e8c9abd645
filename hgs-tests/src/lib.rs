//! Tests across crates and over the whole corpus; the code is in `tests/`.
//!
//! The published crates (`hgs-tpm`, `hgs-tcglog`, `hgs-cipolicy`, `hgs-ekcert`, `hgs-policy`,
//! `hgs-attest`) keep the tests that need only the files they ship, so `cargo test` passes inside
//! each packaged crate (`scripts/package-check`). What needs more lives here:
//! - every file of `../shared/corpus` with its manifest (`tcglog_corpus.rs`, `ekcert_corpus.rs`,
//!   `cipolicy_corpus.rs`, ...);
//! - the synthetic Windows-like boots and the attacker's evidence of `hgs-testkit`
//!   (`attest_only_quoted_counts.rs`, `policy_rules.rs`);
//! - tpm2-tss as an independent parser (`tpm_tss_crosscheck.rs`, links libtss2).
#![forbid(unsafe_code)]
