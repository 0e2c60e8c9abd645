//! The bound key in the agent's state directory: `bound-key.json` beside the AK's `ak.json`,
//! written mode 0600 ([`crate::private_file`]).
//!
//! Like the AK, the file holds the key's public area and its private area *as the TPM wrapped
//! it* under the EK: the blob is useless without this TPM, but it is still key material, so only
//! the agent's user may read it. [`ensure_bound_key`] creates the key on first use (an agent
//! state made before bound keys existed gets one at its next attestation) and replaces it when
//! the AK moved to another EK, or another kind of key was asked for.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ak::AkState;
use super::bound_key::{create_bound_key, BoundKey, BoundKeyKind};
use super::ek::EkProfile;
use super::{Tpm, TpmError};
use crate::hex::{hex, unhex};
use crate::private_file::{create_private_dir, write_private, PrivateFileError};

/// Current value of the state file's `format`.
pub const BOUND_KEY_STATE_FORMAT: &str = "hgs-bound-key-state/1";

/// The bound key's file in the agent's state directory.
pub fn bound_key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("bound-key.json")
}

/// The state file (JSON, bytes as lower-case hex).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoundKeyFile {
    format: String,
    /// The parent EK's profile name.
    ek_profile: String,
    /// `rsa2048` or `ecc-p256`.
    kind: String,
    /// TPMT_PUBLIC.
    public: String,
    /// TPM2B_PRIVATE contents.
    private: String,
}

/// Why the bound key's state could not be read, made or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStateError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a bound-key state document.
    #[error("{path}: not a bound-key state file")]
    Malformed {
        /// The state file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The document's fields are not what this agent writes.
    #[error("{path}: {what}")]
    Invalid {
        /// The state file.
        path: PathBuf,
        /// What is wrong (format, EK profile, kind, hex).
        what: String,
    },
    /// The file could not be written.
    #[error("cannot save the bound key")]
    Write(#[source] PrivateFileError),
    /// The AK state could not be decoded (its EK is the key's parent).
    #[error("the AK state is unusable")]
    Ak(#[source] TpmError),
    /// The TPM could not create the key.
    #[error("the TPM could not create the bound key")]
    Create(#[source] TpmError),
}

/// Reads the bound key saved in `state_dir`; `None` when there is none yet.
pub fn load_bound_key(state_dir: &Path) -> Result<Option<BoundKey>, KeyStateError> {
    let path = bound_key_path(state_dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyStateError::Read { path, source }),
    };
    let file: BoundKeyFile =
        serde_json::from_slice(&bytes).map_err(|source| KeyStateError::Malformed {
            path: path.clone(),
            source,
        })?;
    let invalid = |what: String| KeyStateError::Invalid {
        path: path.clone(),
        what,
    };
    if file.format != BOUND_KEY_STATE_FORMAT {
        return Err(invalid(format!(
            "format {:?}, expected {BOUND_KEY_STATE_FORMAT:?}",
            file.format
        )));
    }
    let ek = EkProfile::from_name(&file.ek_profile)
        .filter(|p| p.is_low_range())
        .ok_or_else(|| invalid(format!("unknown EK profile {:?}", file.ek_profile)))?;
    let kind = BoundKeyKind::from_name(&file.kind)
        .ok_or_else(|| invalid(format!("unknown key kind {:?}", file.kind)))?;
    let public = unhex(&file.public).ok_or_else(|| invalid("public is not hex".into()))?;
    let private = unhex(&file.private).ok_or_else(|| invalid("private is not hex".into()))?;
    Ok(Some(BoundKey {
        ek,
        kind,
        public,
        private,
    }))
}

/// Saves `key` in `state_dir` (created if missing), mode 0600, replacing any earlier key.
pub fn save_bound_key(state_dir: &Path, key: &BoundKey) -> Result<(), KeyStateError> {
    create_private_dir(state_dir).map_err(KeyStateError::Write)?;
    let file = BoundKeyFile {
        format: BOUND_KEY_STATE_FORMAT.into(),
        ek_profile: key.ek.name().into(),
        kind: key.kind.name().into(),
        public: hex(&key.public),
        private: hex(&key.private),
    };
    let mut bytes =
        serde_json::to_vec_pretty(&file).map_err(|source| KeyStateError::Malformed {
            path: bound_key_path(state_dir),
            source,
        })?;
    bytes.push(b'\n');
    write_private(&bound_key_path(state_dir), &bytes).map_err(KeyStateError::Write)
}

/// What [`ensure_bound_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The saved key was used.
    Saved,
    /// There was none: a new one was created and saved.
    Created,
    /// The saved key was under another EK than the AK, or of another kind than asked for: a
    /// new one replaced it.
    Replaced,
}

/// The agent's bound key: the one saved in `state_dir` if it was made under the AK's EK and is
/// of kind `want` (any kind when `None`), else a new one created under the AK's EK and saved:
/// of kind `want`, else of the saved key's kind, else RSA-2048.
pub fn ensure_bound_key(
    tpm: &mut Tpm,
    state_dir: &Path,
    ak: &AkState,
    want: Option<BoundKeyKind>,
) -> Result<(BoundKey, KeyOrigin), KeyStateError> {
    let ak_ek = ak.decode().map_err(KeyStateError::Ak)?.ek;
    let saved = load_bound_key(state_dir)?;
    let origin = match &saved {
        Some(key) if key.ek == ak_ek && want.is_none_or(|k| k == key.kind) => {
            return Ok((key.clone(), KeyOrigin::Saved))
        }
        Some(_) => KeyOrigin::Replaced,
        None => KeyOrigin::Created,
    };
    let kind = want
        .or(saved.map(|k| k.kind))
        .unwrap_or(BoundKeyKind::Rsa2048);
    let key = create_bound_key(tpm, ak_ek, kind).map_err(KeyStateError::Create)?;
    save_bound_key(state_dir, &key)?;
    Ok((key, origin))
}
