//! Files only their owner may read: the bound key's state, the attestation token, a released
//! secret or transport key.
//!
//! [`write_private`] creates a temporary file beside the target with mode 0600 *at creation*
//! (`O_CREAT | O_EXCL`, mode given to `open`), writes and fsyncs it, renames it over the target
//! and fsyncs the directory: the bytes are never in a file another user can open, not even
//! between creation and a later `chmod`, and a reader never sees half a file. The umask can
//! only take permissions away. (On platforms without Unix modes the file gets the platform's
//! default.)

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a private file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {path}")]
pub struct PrivateFileError {
    /// The step that failed (`create`, `write`, `fsync`, `rename into place`, ...).
    pub op: &'static str,
    /// The file or directory it failed on.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// The mode of every file [`write_private`] creates: read and write for the owner only.
pub const PRIVATE_MODE: u32 = 0o600;

/// A new file (`O_CREAT | O_EXCL`), created with `mode` when one is given (Unix).
fn open_new(path: &Path, mode: Option<u32>) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Writes `bytes` to `path` as a file of mode [`PRIVATE_MODE`], atomically (a temporary file in
/// the same directory, renamed over `path`). An existing file at `path` is replaced, whatever
/// its mode was; the temporary file is removed on error.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PrivateFileError> {
    write_atomic_with(path, bytes, Some(PRIVATE_MODE))
}

/// Writes `bytes` to `path` atomically like [`write_private`], with the platform's default
/// mode (for files that hold nothing secret: the admin store, a key protector). Readers see the
/// old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PrivateFileError> {
    write_atomic_with(path, bytes, None)
}

/// Temporary file beside `path` (created with `mode`, if any), write, fsync, rename over
/// `path`, fsync of the directory; the temporary file is removed on error.
fn write_atomic_with(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), PrivateFileError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let err = |op: &'static str, p: &Path| {
        let path = p.to_path_buf();
        move |source| PrivateFileError { op, path, source }
    };
    let mut file = open_new(&tmp, mode).map_err(err("create", &tmp))?;
    let written = (|| {
        file.write_all(bytes).map_err(err("write", &tmp))?;
        file.sync_all().map_err(err("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(err("rename into place", path))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    // The rename is durable once the directory is; a failure here leaves the file in place.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(err("fsync directory", &dir))
}

/// Creates `dir` (and its parents) if it does not exist; a new directory gets mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), PrivateFileError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| PrivateFileError {
        op: "create directory",
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("hgs-agent-private-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_is_mode_0600_even_when_it_replaces_a_world_readable_one() {
        use std::os::unix::fs::PermissionsExt as _;
        let d = tempdir("mode");
        let path = d.join("secret.bin");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new secret").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new secret");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_write_into_a_missing_directory_names_the_step_and_leaves_nothing() {
        let d = tempdir("missing");
        let path = d.join("no/such/dir/secret.bin");
        let e = write_private(&path, b"x").unwrap_err();
        assert_eq!(e.op, "create");
        assert!(!path.exists());
        fs::remove_dir_all(&d).unwrap();
    }
}
