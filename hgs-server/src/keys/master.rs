//! The master key: a 256-bit key from a file that seals (AES-256-GCM) every secret the database
//! holds, so that a copy of the database alone holds none.
//!
//! Sealed form, one TEXT column: `hgs-sealed/1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
//! The nonce is 96 random bits per seal (a server seals a few rows per administrator action,
//! far below the 2^32 seals a random-nonce AES-GCM key is good for). The additional data is
//! the row's place: `hgs-sealed/1 \0 <table> \0 <name> \0 <context>` (the context of a secret
//! is its release policy's JSON, so a write to the database alone cannot loosen a policy, move
//! a value to another name or swap two rows: each then fails to open). The key id (the first 8
//! bytes of SHA-256 over a label and the key, hex) says which master key sealed a row, so a
//! rotation interrupted by a crash leaves rows each readable by the old or the new key.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Prefix of a sealed value.
const SEALED_PREFIX: &str = "hgs-sealed/1";

/// Length of a master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// Why a master key cannot be read or a sealed value cannot be opened. No variant holds key
/// material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyError {
    /// The master key file could not be read or created.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits (surrounding whitespace ignored).
    #[error("master key file {path} does not hold a 256-bit key as 64 hex digits")]
    Format {
        /// The file.
        path: String,
    },
    /// The master key file is readable by group or others (it must be 0600 or stricter).
    #[error("master key file {path} is readable by others (mode {mode:o}); chmod 600 it")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// A stored value is not in the sealed form.
    #[error("a stored {what} is not sealed (hgs-sealed/1)")]
    NotSealed {
        /// What (`secret`, `guardian key`, `token key`).
        what: &'static str,
    },
    /// A stored value was sealed by a master key that is not configured.
    #[error(
        "a stored {what} is sealed by master key {key_id}, which is neither the configured key \
         ({current}) nor the previous one; start with that key file (--master-key-file, or \
         --previous-master-key-file to rotate)"
    )]
    UnknownKey {
        /// What.
        what: &'static str,
        /// The key id in the row.
        key_id: String,
        /// The configured key's id.
        current: String,
    },
    /// The value does not open: altered, moved to another row, or its context changed.
    #[error("a stored {what} fails authentication (altered, moved, or its policy changed)")]
    Integrity {
        /// What.
        what: &'static str,
    },
}

/// A 256-bit master key (wiped on drop; `Debug` shows its id only).
#[derive(Clone)]
pub struct MasterKey {
    key: Zeroizing<[u8; MASTER_KEY_LEN]>,
    id: String,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// The key of these bytes.
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> MasterKey {
        let mut h = Sha256::new();
        h.update(b"hgs-master-key-id/1\0");
        h.update(bytes);
        let id = hgs_tpm::hex::encode(&h.finalize()[..8]);
        MasterKey {
            key: Zeroizing::new(bytes),
            id,
        }
    }

    /// A fresh random key from the OS.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        let key = MasterKey::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    /// The key's id: 16 hex digits, safe to log (a hash of the key, not the key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reads the key from `path` (64 hex digits). On Unix the file must not be readable by
    /// group or others.
    pub fn from_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let shown = path.display().to_string();
        let io = |source| MasterKeyError::Io {
            path: shown.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(MasterKeyError::Permissions { path: shown, mode });
            }
        }
        if meta.len() > 256 {
            return Err(MasterKeyError::Format { path: shown });
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let bytes = Zeroizing::new(hgs_tpm::hex::decode(text.trim()).ok_or(
            MasterKeyError::Format {
                path: shown.clone(),
            },
        )?);
        let arr: [u8; MASTER_KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MasterKeyError::Format { path: shown })?;
        Ok(MasterKey::from_bytes(arr))
    }

    /// Reads the key from `path`, or, if there is no such file, generates one into it (mode
    /// 0600, created exclusively and synced, so two processes starting together keep one).
    /// Returns the key and whether it was generated.
    pub fn load_or_generate(path: &Path) -> Result<(MasterKey, bool), MasterKeyError> {
        if path.exists() {
            return MasterKey::from_file(path).map(|k| (k, false));
        }
        let key = MasterKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let shown = path.display().to_string();
        let io = |source| MasterKeyError::Io {
            path: shown.clone(),
            source,
        };
        match options.open(path) {
            Ok(mut f) => {
                let text = Zeroizing::new(format!("{}\n", hgs_tpm::hex::encode(&key.key[..])));
                f.write_all(text.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok((key, true))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                MasterKey::from_file(path).map(|k| (k, false))
            }
            Err(e) => Err(io(e)),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&*self.key).into())
    }

    /// Seals `plaintext` for the row (`table`, `name`) with `context` bound in.
    pub(crate) fn seal(&self, place: &Place<'_>, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let aad = place.aad();
        let mut blob = Vec::with_capacity(12 + plaintext.len() + 16);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(plaintext);
        // AES-GCM encryption of a bounded buffer does not fail (only past 64 GiB); an empty
        // tag would make the value fail to open, never open wrongly.
        let tag = self
            .cipher()
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut blob[12..])
            .map(|t| t.to_vec())
            .unwrap_or_default();
        blob.extend_from_slice(&tag);
        format!(
            "{SEALED_PREFIX}.{}.{}",
            self.id,
            Base64UrlUnpadded::encode_string(&blob)
        )
    }

    /// The id of the key that sealed `sealed`, if it is in the sealed form.
    pub(crate) fn key_id_of(sealed: &str) -> Option<&str> {
        let rest = sealed.strip_prefix(SEALED_PREFIX)?.strip_prefix('.')?;
        let (id, _) = rest.split_once('.')?;
        Some(id)
    }
}

/// Where a sealed value lives: its table, its row's name, and what else it is bound to.
#[derive(Debug, Clone)]
pub(crate) struct Place<'a> {
    pub(crate) what: &'static str,
    pub(crate) table: &'static str,
    pub(crate) name: &'a str,
    pub(crate) context: &'a str,
}

impl Place<'_> {
    fn aad(&self) -> Vec<u8> {
        [
            SEALED_PREFIX.as_bytes(),
            b"\0",
            self.table.as_bytes(),
            b"\0",
            self.name.as_bytes(),
            b"\0",
            self.context.as_bytes(),
        ]
        .concat()
    }
}

/// The configured master key, and during a rotation the previous one.
#[derive(Debug, Clone)]
pub(crate) struct Keyring {
    pub(crate) current: MasterKey,
    pub(crate) previous: Option<MasterKey>,
}

impl Keyring {
    /// Opens a sealed value with whichever configured key sealed it.
    pub(crate) fn open(
        &self,
        place: &Place<'_>,
        sealed: &str,
    ) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
        let what = place.what;
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(MasterKeyError::NotSealed { what })?;
        let (id, body) = rest
            .split_once('.')
            .ok_or(MasterKeyError::NotSealed { what })?;
        let key = if id == self.current.id {
            &self.current
        } else {
            match &self.previous {
                Some(p) if p.id == id => p,
                _ => {
                    return Err(MasterKeyError::UnknownKey {
                        what,
                        key_id: id.chars().take(16).collect(),
                        current: self.current.id.clone(),
                    })
                }
            }
        };
        let blob =
            Base64UrlUnpadded::decode_vec(body).map_err(|_| MasterKeyError::NotSealed { what })?;
        if blob.len() < 12 + 16 {
            return Err(MasterKeyError::NotSealed { what });
        }
        let aad = place.aad();
        let (nonce, rest) = blob.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let mut plain = Zeroizing::new(ct.to_vec());
        key.cipher()
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                &aad,
                &mut plain,
                aes_gcm::Tag::from_slice(tag),
            )
            .map_err(|_| MasterKeyError::Integrity { what })?;
        Ok(plain)
    }

    /// Seals under the current key.
    pub(crate) fn seal(&self, place: &Place<'_>, plaintext: &[u8]) -> String {
        self.current.seal(place, plaintext)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn place<'a>(name: &'a str, context: &'a str) -> Place<'a> {
        Place {
            what: "secret",
            table: "kps_secrets",
            name,
            context,
        }
    }

    #[test]
    fn sealed_values_open_only_in_their_place_and_under_their_key() {
        let a = MasterKey::from_bytes([1; 32]);
        let b = MasterKey::from_bytes([2; 32]);
        let ring = Keyring {
            current: a.clone(),
            previous: None,
        };
        let s = ring.seal(&place("db", "{}"), b"value");
        assert_eq!(MasterKey::key_id_of(&s), Some(a.id()));
        assert_eq!(&ring.open(&place("db", "{}"), &s).unwrap()[..], b"value");
        // Another row, another context: integrity failures.
        assert!(matches!(
            ring.open(&place("other", "{}"), &s),
            Err(MasterKeyError::Integrity { .. })
        ));
        assert!(matches!(
            ring.open(&place("db", "{\"x\":1}"), &s),
            Err(MasterKeyError::Integrity { .. })
        ));
        // Another key: unknown, unless configured as the previous one.
        let ring_b = Keyring {
            current: b.clone(),
            previous: None,
        };
        assert!(matches!(
            ring_b.open(&place("db", "{}"), &s),
            Err(MasterKeyError::UnknownKey { .. })
        ));
        let rotating = Keyring {
            current: b,
            previous: Some(a),
        };
        assert_eq!(
            &rotating.open(&place("db", "{}"), &s).unwrap()[..],
            b"value"
        );
        // Not sealed at all.
        assert!(matches!(
            ring.open(&place("db", "{}"), "00ff"),
            Err(MasterKeyError::NotSealed { .. })
        ));
        // Two seals of one value differ (random nonce).
        assert_ne!(s, ring.seal(&place("db", "{}"), b"value"));
    }
}
