//! The private half of a released JWE, done inside the TPM: `hgs_keys::KeyUnwrap` for the
//! agent's bound key, TPM2_RSA_Decrypt (OAEP, SHA-256, empty label) for `RSA-OAEP-256` and
//! TPM2_ECDH_ZGen for `ECDH-ES+A256KW`.
//!
//! `hgs_keys::decrypt` checks the JWE first (algorithms, sizes, the recipient `kid`, the
//! ephemeral point on the curve) and asks this for exactly one operation; the content key or the
//! shared secret it returns is wiped by `hgs_keys` after use, and the copies made here are wiped
//! too. Errors are typed ([`UnwrapError`]) and come back as the source of
//! `hgs_keys::JweError::Unwrap`.

use zeroize::Zeroizing;

use super::bound_key::{ecdh_zgen, rsa_decrypt, BoundKey, BoundKeyKind};
use super::{Tpm, TpmError};

/// Why the TPM could not perform a JWE's private operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnwrapError {
    /// The JWE's algorithm needs another kind of key than the bound key (an `RSA-OAEP-256` JWE
    /// to an ECC key, or the reverse); the TPM was not asked.
    #[error("the JWE needs {needed}, the bound key is {key}")]
    WrongKeyType {
        /// The bound key's kind.
        key: BoundKeyKind,
        /// What the JWE needs (`an RSA key`, `a P-256 key`).
        needed: &'static str,
    },
    /// TPM2_ECDH_ZGen answered a point whose x coordinate is not 32 octets.
    #[error("TPM2_ECDH_ZGen returned a {len}-octet x coordinate, not 32")]
    ZLength {
        /// Its length.
        len: usize,
    },
    /// The TPM refused or failed (a wrong ciphertext, the key not loadable, the connection).
    #[error("the TPM could not decrypt with the bound key")]
    Tpm(#[source] TpmError),
}

/// The bound key in the TPM as a JWE recipient: each operation loads the key under its EK, runs
/// the one command and flushes both.
#[derive(Debug)]
pub struct TpmUnwrap<'a> {
    tpm: &'a mut Tpm,
    key: &'a BoundKey,
}

impl<'a> TpmUnwrap<'a> {
    /// Unwraps with `key` in `tpm` (the TPM that created it).
    pub fn new(tpm: &'a mut Tpm, key: &'a BoundKey) -> TpmUnwrap<'a> {
        TpmUnwrap { tpm, key }
    }
}

impl hgs_keys::KeyUnwrap for TpmUnwrap<'_> {
    type Error = UnwrapError;

    fn rsa_oaep_decrypt(&mut self, encrypted_key: &[u8]) -> Result<Vec<u8>, UnwrapError> {
        if self.key.kind != BoundKeyKind::Rsa2048 {
            return Err(UnwrapError::WrongKeyType {
                key: self.key.kind,
                needed: "an RSA key",
            });
        }
        rsa_decrypt(self.tpm, self.key, encrypted_key).map_err(UnwrapError::Tpm)
    }

    fn ecdh_z(&mut self, epk_x: &[u8; 32], epk_y: &[u8; 32]) -> Result<[u8; 32], UnwrapError> {
        if self.key.kind != BoundKeyKind::EccP256 {
            return Err(UnwrapError::WrongKeyType {
                key: self.key.kind,
                needed: "a P-256 key",
            });
        }
        let z =
            Zeroizing::new(ecdh_zgen(self.tpm, self.key, epk_x, epk_y).map_err(UnwrapError::Tpm)?);
        // TPMs may drop leading zero octets of a coordinate: left-pad to 32.
        let len = z.len();
        let start = 32usize
            .checked_sub(len)
            .ok_or(UnwrapError::ZLength { len })?;
        let mut out = [0u8; 32];
        out[start..].copy_from_slice(&z);
        Ok(out)
    }
}
