//! Criterion benchmarks for the `hgs-*` crates live in `benches/benches/`.
//!
//! This library only locates the shared corpus (`../shared/corpus`) so every benchmark reads
//! the same real inputs. Run them with `cargo bench -p hgs-benches`.

use std::path::PathBuf;

/// The shared corpus directory: `$HGS_CORPUS` if set, else `../shared/corpus` next to the repository.
pub fn corpus_dir() -> PathBuf {
    hgs_testkit::corpus_root()
}
