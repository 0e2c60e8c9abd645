//! Criterion benchmarks for the `hgs-*` crates live in `benches/benches/`.
//!
//! This library only locates the shared corpus (`../shared/corpus`) so every benchmark reads
//! the same real inputs. Run them with `cargo bench -p hgs-benches`.

use std::path::PathBuf;

/// The shared corpus directory: `$HGS_CORPUS` if set, else `../shared/corpus` next to the repository.
pub fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HGS_CORPUS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}
