//! The admin store: a directory holding one versioned JSON document, safe against crashes and
//! concurrent `hgs` processes.
//!
//! HGS keeps its registrations (TPM hosts, baselines, CI policies, attestation-policy states,
//! trusted roots) in a database; we keep them in `DIR/store.json`, in the library's own
//! persistence format (`hgs_policy::PolicyStore`), beside the two things only the CLI keeps:
//!
//! ```json
//! {
//!   "format": "hgs-store/2",
//!   "registrations": { "format": "hgs-policy-store/1", "hosts": { "HOST1": { "...": "..." } }, "...": "..." },
//!   "challenges": { "<id>": { "host": "HOST1", "...": "..." } },
//!   "root_sources": { "<sha256 of DER>": { "file": "TrustedTpm.cab" } }
//! }
//! ```
//!
//! Every record is typed ([`StoreData`]); `hgs store put` reads a record as its collection's type
//! before storing it. A document of the earlier generic format (`hgs-store/1`, untyped
//! collections) is refused with [`StoreError::LegacyFormat`], not guessed at: re-register from the
//! original files (the registrations are derived from them).
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
//! use hgs_cli::store::{RootSource, Store, StoreError};
//! let dir = std::env::temp_dir().join(format!("hgs-store-doc-{}", std::process::id()));
//! let store = Store::open(&dir).unwrap();
//! store
//!     .update(|data| {
//!         data.root_sources.insert("00".into(), RootSource { file: "TrustedTpm.cab".into() });
//!         Ok::<_, StoreError>(())
//!     })
//!     .unwrap();
//! let data = store.read().unwrap();
//! assert_eq!(data.root_sources["00"].file, "TrustedTpm.cab");
//! assert!(data.registrations.hosts.is_empty());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod verbs;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use hgs_attest::Challenge;
use hgs_policy::PolicyStore;
use hgs_policy::TrustedCertificate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The value of the top-level `format` field this code reads and writes.
pub const FORMAT: &str = "hgs-store/2";

/// The earlier, generic document format (untyped collections of JSON records), refused with
/// [`StoreError::LegacyFormat`].
pub const LEGACY_FORMAT: &str = "hgs-store/1";

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
    /// The document was written by an earlier hgs in the generic [`LEGACY_FORMAT`].
    #[error("{path}: store written in the earlier generic format {LEGACY_FORMAT:?}, which this hgs (format {FORMAT:?}) does not read; re-register the hosts, baselines, CI policies and roots into a new store")]
    LegacyFormat {
        /// The store document.
        path: PathBuf,
    },
    /// `hgs store` was given a collection the store does not have.
    #[error("no collection {0:?} (the store has {COLLECTIONS:?})")]
    UnknownCollection(String),
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

/// The collections of the store document, as `hgs store` names them.
pub const COLLECTIONS: [&str; 7] = [
    HOSTS,
    BASELINES,
    CI_POLICIES,
    ROOTS,
    SETTINGS,
    CHALLENGES,
    ROOT_SOURCES,
];
/// TPM hosts (`hgs_policy::TpmHost`), by host name.
pub const HOSTS: &str = "hosts";
/// TPM baselines (`hgs_policy::TpmBaseline`), by class name.
pub const BASELINES: &str = "baselines";
/// CI policies (`hgs_policy::CiPolicyRegistration`), by policy name.
pub const CI_POLICIES: &str = "ci_policies";
/// Trusted TPM certificates (`hgs_policy::TrustedCertificate`), by [`cert_key`].
pub const ROOTS: &str = "roots";
/// The `Hgs_*` settings (`hgs_policy::PolicySettings`): one record, [`SETTINGS_RECORD`].
pub const SETTINGS: &str = "settings";
/// The one record of [`SETTINGS`].
pub const SETTINGS_RECORD: &str = "attestation-policies";
/// Pending challenges (`hgs_attest::Challenge`, single use), by challenge id.
pub const CHALLENGES: &str = "challenges";
/// Where each installed certificate came from ([`RootSource`]), by [`cert_key`].
pub const ROOT_SOURCES: &str = "root_sources";

/// Record name of a trusted certificate: SHA-256 of its DER, hex.
pub fn cert_key(der: &[u8]) -> String {
    crate::hex::hex(&Sha256::digest(der))
}

/// Where an installed certificate came from, for `hgs roots list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootSource {
    /// The file given to `hgs roots add` (the cabinet) or the certificate file under the folder.
    pub file: String,
}

/// The whole store document in memory: the library's registrations plus what only the CLI
/// keeps, each typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreData {
    /// Always [`FORMAT`].
    pub format: String,
    /// Every HGS registration, in `hgs-policy`'s own persistence format (the same
    /// [`PolicyStore`] an embedder keeps).
    pub registrations: PolicyStore,
    /// Pending challenges by id; `hgs attest` consumes one (single use).
    #[serde(default)]
    pub challenges: BTreeMap<String, Challenge>,
    /// Where each installed certificate came from, by [`cert_key`].
    #[serde(default)]
    pub root_sources: BTreeMap<String, RootSource>,
}

impl Default for StoreData {
    fn default() -> Self {
        StoreData {
            format: FORMAT.to_string(),
            registrations: PolicyStore::default(),
            challenges: BTreeMap::new(),
            root_sources: BTreeMap::new(),
        }
    }
}

fn not_found(collection: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        collection: collection.to_string(),
        name: name.to_string(),
    }
}

fn bad_record(collection: &str, name: &str, message: impl ToString) -> StoreError {
    StoreError::BadRecord {
        collection: collection.to_string(),
        name: name.to_string(),
        message: message.to_string(),
    }
}

fn to_json<T: Serialize>(collection: &str, name: &str, v: &T) -> Result<Value, StoreError> {
    serde_json::to_value(v).map_err(|e| bad_record(collection, name, e))
}

fn from_json<T: DeserializeOwned>(collection: &str, name: &str, v: Value) -> Result<T, StoreError> {
    T::deserialize(v).map_err(|e| bad_record(collection, name, e))
}

/// Inserts `value` under `name`, refusing to overwrite unless `replace`.
fn put_in<K: Ord + Into<String>, T>(
    map: &mut BTreeMap<K, T>,
    collection: &str,
    name: K,
    value: T,
    replace: bool,
) -> Result<(), StoreError> {
    if !replace && map.contains_key(&name) {
        return Err(StoreError::Exists {
            collection: collection.to_string(),
            name: name.into(),
        });
    }
    map.insert(name, value);
    Ok(())
}

impl StoreData {
    /// The record names of `collection` with the policy version each was registered under
    /// (`None` for unversioned records), sorted by name.
    pub fn names(
        &self,
        collection: &str,
    ) -> Result<Vec<(String, Option<&'static str>)>, StoreError> {
        let r = &self.registrations;
        Ok(match collection {
            HOSTS => r
                .hosts
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.policy_version.name())))
                .collect(),
            BASELINES => r
                .baselines
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.policy_version.name())))
                .collect(),
            CI_POLICIES => r
                .ci_policies
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.policy_version.name())))
                .collect(),
            ROOTS => {
                let mut keys: Vec<_> = r
                    .trusted_certificates
                    .iter()
                    .map(|c| (cert_key(&c.der), None))
                    .collect();
                keys.sort();
                keys
            }
            SETTINGS => vec![(SETTINGS_RECORD.to_string(), None)],
            CHALLENGES => self.challenges.keys().map(|k| (k.clone(), None)).collect(),
            ROOT_SOURCES => self
                .root_sources
                .keys()
                .map(|k| (k.clone(), None))
                .collect(),
            other => return Err(StoreError::UnknownCollection(other.to_string())),
        })
    }

    /// The record `collection/name` as JSON.
    pub fn get_json(&self, collection: &str, name: &str) -> Result<Value, StoreError> {
        let r = &self.registrations;
        let nf = || not_found(collection, name);
        match collection {
            HOSTS => to_json(collection, name, r.hosts.get(name).ok_or_else(nf)?),
            BASELINES => to_json(collection, name, r.baselines.get(name).ok_or_else(nf)?),
            CI_POLICIES => to_json(collection, name, r.ci_policies.get(name).ok_or_else(nf)?),
            ROOTS => to_json(
                collection,
                name,
                r.trusted_certificates
                    .iter()
                    .find(|c| cert_key(&c.der) == name)
                    .ok_or_else(nf)?,
            ),
            SETTINGS if name == SETTINGS_RECORD => to_json(collection, name, &r.settings),
            SETTINGS => Err(nf()),
            CHALLENGES => to_json(collection, name, self.challenges.get(name).ok_or_else(nf)?),
            ROOT_SOURCES => to_json(
                collection,
                name,
                self.root_sources.get(name).ok_or_else(nf)?,
            ),
            other => Err(StoreError::UnknownCollection(other.to_string())),
        }
    }

    /// Stores the JSON `value` as `collection/name` after reading it as that collection's record
    /// type (a record of the wrong shape is refused, not stored). A registration's name must be
    /// its record name, a certificate's record name its [`cert_key`]. Refuses to overwrite
    /// unless `replace`.
    pub fn put_json(
        &mut self,
        collection: &str,
        name: &str,
        value: Value,
        replace: bool,
    ) -> Result<(), StoreError> {
        let r = &mut self.registrations;
        let named = |actual: &str| {
            if actual == name {
                Ok(())
            } else {
                Err(bad_record(
                    collection,
                    name,
                    format!("the record is named {actual:?}"),
                ))
            }
        };
        match collection {
            HOSTS => {
                let v: hgs_policy::TpmHost = from_json(collection, name, value)?;
                named(&v.name)?;
                put_in(&mut r.hosts, collection, v.name.clone(), v, replace)
            }
            BASELINES => {
                let v: hgs_policy::TpmBaseline = from_json(collection, name, value)?;
                named(&v.name)?;
                put_in(&mut r.baselines, collection, v.name.clone(), v, replace)
            }
            CI_POLICIES => {
                let v: hgs_policy::CiPolicyRegistration = from_json(collection, name, value)?;
                named(&v.name)?;
                put_in(&mut r.ci_policies, collection, v.name.clone(), v, replace)
            }
            ROOTS => {
                let v: TrustedCertificate = from_json(collection, name, value)?;
                named(&cert_key(&v.der))?;
                match r
                    .trusted_certificates
                    .iter()
                    .position(|c| cert_key(&c.der) == name)
                {
                    Some(_) if !replace => Err(StoreError::Exists {
                        collection: collection.to_string(),
                        name: name.to_string(),
                    }),
                    Some(i) => {
                        r.trusted_certificates[i] = v;
                        Ok(())
                    }
                    None => {
                        r.trusted_certificates.push(v);
                        Ok(())
                    }
                }
            }
            SETTINGS => {
                named(SETTINGS_RECORD)?;
                r.settings = from_json(collection, name, value)?;
                Ok(())
            }
            CHALLENGES => {
                let v: Challenge = from_json(collection, name, value)?;
                put_in(
                    &mut self.challenges,
                    collection,
                    name.to_string(),
                    v,
                    replace,
                )
            }
            ROOT_SOURCES => {
                let v: RootSource = from_json(collection, name, value)?;
                put_in(
                    &mut self.root_sources,
                    collection,
                    name.to_string(),
                    v,
                    replace,
                )
            }
            other => Err(StoreError::UnknownCollection(other.to_string())),
        }
    }

    /// Removes `collection/name` (the settings record cannot be removed, only changed).
    pub fn remove(&mut self, collection: &str, name: &str) -> Result<(), StoreError> {
        let r = &mut self.registrations;
        let found = match collection {
            HOSTS => r.hosts.remove(name).is_some(),
            BASELINES => r.baselines.remove(name).is_some(),
            CI_POLICIES => r.ci_policies.remove(name).is_some(),
            ROOTS => {
                let before = r.trusted_certificates.len();
                r.trusted_certificates.retain(|c| cert_key(&c.der) != name);
                r.trusted_certificates.len() != before
            }
            CHALLENGES => self.challenges.remove(name).is_some(),
            ROOT_SOURCES => self.root_sources.remove(name).is_some(),
            SETTINGS => false,
            other => return Err(StoreError::UnknownCollection(other.to_string())),
        };
        if found {
            Ok(())
        } else {
            Err(not_found(collection, name))
        }
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
    /// The format field alone: read first, so an old or foreign document is named as such
    /// rather than as a shape error.
    #[derive(Deserialize)]
    struct Head {
        format: String,
    }
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let head: Head = serde_json::from_slice(bytes).map_err(corrupt)?;
    if head.format == LEGACY_FORMAT {
        return Err(StoreError::LegacyFormat {
            path: path.to_path_buf(),
        });
    }
    if head.format != FORMAT {
        return Err(StoreError::UnsupportedFormat {
            path: path.to_path_buf(),
            found: head.format,
        });
    }
    serde_json::from_slice(bytes).map_err(corrupt)
}

/// Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename,
/// fsync of the directory (`hgs_agent::private_file::write_atomic`). Readers see the old or the
/// new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    hgs_agent::private_file::write_atomic(path, bytes).map_err(|e| StoreError::Io {
        path: e.path,
        op: e.op,
        source: e.source,
    })
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

    fn source(file: &str) -> Value {
        serde_json::json!({ "file": file })
    }

    #[test]
    fn insert_refuses_duplicate_unless_replace() {
        let mut d = StoreData::default();
        d.put_json(ROOT_SOURCES, "a", source("x"), false).unwrap();
        assert!(matches!(
            d.put_json(ROOT_SOURCES, "a", source("y"), false),
            Err(StoreError::Exists { .. })
        ));
        d.put_json(ROOT_SOURCES, "a", source("y"), true).unwrap();
        assert_eq!(d.get_json(ROOT_SOURCES, "a").unwrap(), source("y"));
    }

    #[test]
    fn a_record_of_the_wrong_type_or_name_is_refused_not_stored() {
        let mut d = StoreData::default();
        let err = d
            .put_json(HOSTS, "h", serde_json::json!({"ek": "00"}), false)
            .unwrap_err();
        assert!(matches!(err, StoreError::BadRecord { .. }), "{err}");
        assert!(d.registrations.hosts.is_empty());
        let err = d.put_json("nope", "x", source("x"), false).unwrap_err();
        assert!(matches!(err, StoreError::UnknownCollection(_)), "{err}");
    }

    #[test]
    fn roundtrip_through_disk() {
        let dir = tempdir("rt");
        let s = Store::open(&dir).unwrap();
        s.update(|d| d.put_json(ROOT_SOURCES, "p", source("x"), false))
            .unwrap();
        let d = s.read().unwrap();
        assert_eq!(d.root_sources["p"].file, "x");
        s.update(|d| d.remove(ROOT_SOURCES, "p")).unwrap();
        assert_eq!(s.read().unwrap(), StoreData::default());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_update_writes_nothing() {
        let dir = tempdir("fail");
        let s = Store::open(&dir).unwrap();
        s.update(|d| d.put_json(ROOT_SOURCES, "a", source("x"), false))
            .unwrap();
        let before = fs::read(s.document_path()).unwrap();
        let r = s.update(|d| {
            d.put_json(ROOT_SOURCES, "b", source("x"), false)?;
            d.put_json(ROOT_SOURCES, "a", source("x"), false)
        });
        assert!(r.is_err());
        assert_eq!(fs::read(s.document_path()).unwrap(), before);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_store_in_the_old_generic_format_is_refused_with_its_own_error() {
        let old = br#"{"format": "hgs-store/1", "collections": {"hosts": {"H": {"policy_version": "v1", "value": {}}}}}"#;
        let err = parse_document(Path::new("old/store.json"), old).unwrap_err();
        assert!(matches!(err, StoreError::LegacyFormat { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("old/store.json") && msg.contains("hgs-store/1"),
            "{msg}"
        );
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
