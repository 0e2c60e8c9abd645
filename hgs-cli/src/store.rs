//! The admin store: a directory holding one versioned JSON document, safe against crashes and
//! concurrent `hgs` processes.
//!
//! HGS keeps its registrations (TPM hosts, baselines, CI policies, attestation-policy states,
//! trusted roots) in a database; we keep them in `DIR/store.json`:
//!
//! ```json
//! {
//!   "format": "hgs-store/1",
//!   "collections": {
//!     "hosts": {
//!       "HOST1": { "policy_version": "v2", "value": { "...": "any serde JSON" } }
//!     }
//!   }
//! }
//! ```
//!
//! The store is generic: a *collection* is a named map from record name to [`Record`] (a serde
//! JSON value plus the policy version it was registered under). The record types themselves
//! belong to `hgs-policy`; callers convert with [`StoreData::get`] / [`StoreData::insert`].
//!
//! Guarantees:
//! - **Atomic writes.** A new document is written to a temporary file in the same directory,
//!   fsynced, renamed over `store.json`, and the directory is fsynced. A process killed at any
//!   point leaves either the old or the new document, never a torn one. Leftover temporary files
//!   are ignored by readers and removed by the next writer.
//! - **No lost updates.** [`Store::update`] holds an exclusive lock on `DIR/.lock`
//!   ([`std::fs::File::lock`], `flock`-style) across read-modify-write; [`Store::read`] takes a
//!   shared lock.
//! - **Bad files** give a one-line [`StoreError`] naming the file.
//!
//! ```
//! use hgs_cli::store::Store;
//! let dir = std::env::temp_dir().join(format!("hgs-store-doc-{}", std::process::id()));
//! let store = Store::open(&dir).unwrap();
//! store
//!     .update(|data| data.insert("hosts", "HOST1", Some("v2"), &serde_json::json!({"ek": "00"}), false))
//!     .unwrap();
//! let data = store.read().unwrap();
//! assert_eq!(data.names("hosts"), vec!["HOST1".to_string()]);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod verbs;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The value of the top-level `format` field this code reads and writes.
pub const FORMAT: &str = "hgs-store/1";

/// File name of the store document inside the store directory.
pub const DOCUMENT: &str = "store.json";

/// File name of the lock file inside the store directory.
pub const LOCK_FILE: &str = ".lock";

/// Prefix of temporary files written before the atomic rename (`.store.json.tmp.<pid>.<n>`).
const TEMP_PREFIX: &str = ".store.json.tmp.";

/// Largest store document we agree to read. A store with thousands of hosts, baselines and CI
/// policies stays far below this; anything larger is not ours and would only waste memory.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// Errors from the store. Each names the file involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O operation failed.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What we were doing.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The document is not valid JSON of the store's shape.
    #[error("{path}: not a valid hgs store document (line {line}, column {column}: {message})")]
    Corrupt {
        /// The store document.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// The document has a `format` this code does not understand.
    #[error("{path}: unsupported store format {found:?} (this hgs reads {FORMAT:?})")]
    UnsupportedFormat {
        /// The store document.
        path: PathBuf,
        /// The format found.
        found: String,
    },
    /// The document is larger than [`MAX_DOCUMENT_BYTES`].
    #[error(
        "{path}: store document is {size} bytes, more than the {MAX_DOCUMENT_BYTES}-byte limit"
    )]
    TooLarge {
        /// The store document.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// A record already exists and `replace` was not requested.
    #[error("{collection}/{name}: already registered (use --force to replace)")]
    Exists {
        /// Collection name.
        collection: String,
        /// Record name.
        name: String,
    },
    /// A record does not exist.
    #[error("{collection}/{name}: not found")]
    NotFound {
        /// Collection name.
        collection: String,
        /// Record name.
        name: String,
    },
    /// A record's value does not have the shape the caller expects.
    #[error("{collection}/{name}: stored value has the wrong shape: {message}")]
    BadRecord {
        /// Collection name.
        collection: String,
        /// Record name.
        name: String,
        /// What serde_json said.
        message: String,
    },
}

/// One stored artifact: a serde JSON value with the policy version it was registered under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The HGS policy version (`"v1"`, `"v2"`), if the artifact is versioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    /// The artifact itself (shape owned by `hgs-policy`).
    pub value: serde_json::Value,
}

/// The whole store document in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreData {
    /// Always [`FORMAT`].
    pub format: String,
    /// Collections by name, each mapping record names to records.
    #[serde(default)]
    pub collections: BTreeMap<String, BTreeMap<String, Record>>,
}

impl Default for StoreData {
    fn default() -> Self {
        StoreData {
            format: FORMAT.to_string(),
            collections: BTreeMap::new(),
        }
    }
}

impl StoreData {
    /// The record `collection/name`, if present.
    pub fn record(&self, collection: &str, name: &str) -> Option<&Record> {
        self.collections.get(collection)?.get(name)
    }

    /// Record names in a collection, sorted.
    pub fn names(&self, collection: &str) -> Vec<String> {
        self.collections
            .get(collection)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// All records of a collection, sorted by name.
    pub fn records(&self, collection: &str) -> impl Iterator<Item = (&str, &Record)> {
        self.collections
            .get(collection)
            .into_iter()
            .flat_map(|c| c.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The record `collection/name` deserialized as `T`, with its policy version.
    pub fn get<T: DeserializeOwned>(
        &self,
        collection: &str,
        name: &str,
    ) -> Result<(T, Option<String>), StoreError> {
        let rec = self
            .record(collection, name)
            .ok_or_else(|| StoreError::NotFound {
                collection: collection.to_string(),
                name: name.to_string(),
            })?;
        let value = T::deserialize(&rec.value).map_err(|e| StoreError::BadRecord {
            collection: collection.to_string(),
            name: name.to_string(),
            message: e.to_string(),
        })?;
        Ok((value, rec.policy_version.clone()))
    }

    /// Stores `value` as `collection/name`. Refuses to overwrite unless `replace`.
    pub fn insert<T: Serialize + ?Sized>(
        &mut self,
        collection: &str,
        name: &str,
        policy_version: Option<&str>,
        value: &T,
        replace: bool,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_value(value).map_err(|e| StoreError::BadRecord {
            collection: collection.to_string(),
            name: name.to_string(),
            message: e.to_string(),
        })?;
        let coll = self.collections.entry(collection.to_string()).or_default();
        if !replace && coll.contains_key(name) {
            return Err(StoreError::Exists {
                collection: collection.to_string(),
                name: name.to_string(),
            });
        }
        coll.insert(
            name.to_string(),
            Record {
                policy_version: policy_version.map(str::to_string),
                value,
            },
        );
        Ok(())
    }

    /// Removes `collection/name`, returning it.
    pub fn remove(&mut self, collection: &str, name: &str) -> Result<Record, StoreError> {
        let coll = self.collections.get_mut(collection);
        let rec = coll.and_then(|c| c.remove(name));
        let rec = rec.ok_or_else(|| StoreError::NotFound {
            collection: collection.to_string(),
            name: name.to_string(),
        })?;
        if self
            .collections
            .get(collection)
            .is_some_and(|c| c.is_empty())
        {
            self.collections.remove(collection);
        }
        Ok(rec)
    }
}

/// A store directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store directory `dir`. Does not read the document yet.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            op: "create store directory",
            source,
        })?;
        Ok(Store { dir })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the store document.
    pub fn document_path(&self) -> PathBuf {
        self.dir.join(DOCUMENT)
    }

    fn lock(&self, exclusive: bool) -> Result<File, StoreError> {
        let path = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                op: "open lock file",
                source,
            })?;
        let res = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        res.map_err(|source| StoreError::Io {
            path,
            op: "lock",
            source,
        })?;
        // The lock is released when the File is dropped (closed).
        Ok(file)
    }

    /// Reads a consistent snapshot of the store (an empty store if the document does not exist).
    pub fn read(&self) -> Result<StoreData, StoreError> {
        let _guard = self.lock(false)?;
        self.read_unlocked()
    }

    fn read_unlocked(&self) -> Result<StoreData, StoreError> {
        let path = self.document_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreData::default()),
            Err(source) => {
                return Err(StoreError::Io {
                    path,
                    op: "open",
                    source,
                })
            }
        };
        let size = file
            .metadata()
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                op: "stat",
                source,
            })?
            .len();
        if size > MAX_DOCUMENT_BYTES {
            return Err(StoreError::TooLarge { path, size });
        }
        let bytes = fs::read(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            op: "read",
            source,
        })?;
        parse_document(&path, &bytes)
    }

    /// Runs `f` on the current document under the exclusive lock and, if it succeeds, writes the
    /// result atomically. Concurrent `update`s from any number of processes serialize; none is lost.
    pub fn update<T, E>(&self, f: impl FnOnce(&mut StoreData) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let _guard = self.lock(true)?;
        self.remove_stale_temp_files()?;
        let mut data = self.read_unlocked()?;
        let out = f(&mut data)?;
        self.write_unlocked(&data)?;
        Ok(out)
    }

    /// Removes temporary files left by writers that died before their rename. Only called with the
    /// exclusive lock held, so no live writer owns them.
    fn remove_stale_temp_files(&self) -> Result<(), StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| StoreError::Io {
            path: self.dir.clone(),
            op: "list store directory",
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(|source| StoreError::Io {
                    path,
                    op: "remove stale temporary file",
                    source,
                })?;
            }
        }
        Ok(())
    }

    fn write_unlocked(&self, data: &StoreData) -> Result<(), StoreError> {
        let path = self.document_path();
        let bytes = serialize_document(&path, data)?;
        write_atomic(&path, &bytes)
    }
}

/// Serializes a store document (pretty JSON plus a final newline), the inverse of
/// [`parse_document`]. `path` only names the file in the (unexpected) error.
pub fn serialize_document(path: &Path, data: &StoreData) -> Result<Vec<u8>, StoreError> {
    let mut bytes = serde_json::to_vec_pretty(data).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Parses a store document, naming `path` in every error.
pub fn parse_document(path: &Path, bytes: &[u8]) -> Result<StoreData, StoreError> {
    let data: StoreData = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if data.format != FORMAT {
        return Err(StoreError::UnsupportedFormat {
            path: path.to_path_buf(),
            found: data.format,
        });
    }
    Ok(data)
}

/// Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename,
/// fsync of the directory. Readers see the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
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
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| StoreError::Io {
            path: p,
            op,
            source,
        }
    };
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io("create temporary file", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io("rename into place", path))?;
        let d = File::open(&dir).map_err(io("open directory", &dir))?;
        d.sync_all().map_err(io("fsync directory", &dir))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hgs-store-unit-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn insert_refuses_duplicate_unless_replace() {
        let mut d = StoreData::default();
        d.insert("hosts", "a", Some("v1"), &1, false).unwrap();
        assert!(matches!(
            d.insert("hosts", "a", Some("v1"), &2, false),
            Err(StoreError::Exists { .. })
        ));
        d.insert("hosts", "a", Some("v2"), &2, true).unwrap();
        let (v, ver): (u32, _) = d.get("hosts", "a").unwrap();
        assert_eq!((v, ver.as_deref()), (2, Some("v2")));
    }

    #[test]
    fn roundtrip_through_disk() {
        let dir = tempdir("rt");
        let s = Store::open(&dir).unwrap();
        s.update(|d| d.insert("ci", "p", None, &"x", false))
            .unwrap();
        let d = s.read().unwrap();
        assert_eq!(d.get::<String>("ci", "p").unwrap().0, "x");
        s.update(|d| d.remove("ci", "p").map(|_| ())).unwrap();
        assert!(s.read().unwrap().collections.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_update_writes_nothing() {
        let dir = tempdir("fail");
        let s = Store::open(&dir).unwrap();
        s.update(|d| d.insert("hosts", "a", None, &1, false))
            .unwrap();
        let before = fs::read(s.document_path()).unwrap();
        let r = s.update(|d| {
            d.insert("hosts", "b", None, &1, false)?;
            d.insert("hosts", "a", None, &1, false)
        });
        assert!(r.is_err());
        assert_eq!(fs::read(s.document_path()).unwrap(), before);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_document_error_names_file_on_one_line() {
        let dir = tempdir("corrupt");
        let s = Store::open(&dir).unwrap();
        fs::write(
            s.document_path(),
            b"{\"format\": \"hgs-store/1\", \"collections\": [",
        )
        .unwrap();
        let msg = s.read().unwrap_err().to_string();
        assert!(msg.contains("store.json"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        fs::write(s.document_path(), b"{\"format\": \"hgs-store/9\"}").unwrap();
        let err = s.read().unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedFormat { .. }), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
