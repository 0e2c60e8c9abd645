//! Hash algorithms the SI_POLICY event can name (TPM_ALG_ID), and hashing with them.

use digest::Digest;

/// A digest algorithm of the SI_POLICY event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestAlg {
    /// SHA-1 (0x0004).
    Sha1,
    /// SHA-256 (0x000B), what Windows uses.
    Sha256,
    /// SHA-384 (0x000C).
    Sha384,
    /// SHA-512 (0x000D).
    Sha512,
    /// SM3-256 (0x0012).
    Sm3_256,
}

impl DigestAlg {
    /// From a TPM_ALG_ID.
    pub fn from_tpm_alg_id(id: u16) -> Option<Self> {
        match id {
            0x0004 => Some(Self::Sha1),
            0x000B => Some(Self::Sha256),
            0x000C => Some(Self::Sha384),
            0x000D => Some(Self::Sha512),
            0x0012 => Some(Self::Sm3_256),
            _ => None,
        }
    }

    /// The TPM_ALG_ID.
    pub fn tpm_alg_id(self) -> u16 {
        match self {
            Self::Sha1 => 0x0004,
            Self::Sha256 => 0x000B,
            Self::Sha384 => 0x000C,
            Self::Sha512 => 0x000D,
            Self::Sm3_256 => 0x0012,
        }
    }

    /// H(data).
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
            Self::Sm3_256 => sm3::Sm3::digest(data).to_vec(),
        }
    }
}
