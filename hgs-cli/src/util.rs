//! Small I/O helpers shared by the verb modules.

use std::path::Path;

use anyhow::Context;

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Lower-case hex ([`hgs_tpm::hex::encode`]).
pub use hgs_tpm::hex::encode as hex;
