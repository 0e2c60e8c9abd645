//! Hash algorithms of PCR banks, their sizes, and the one operation replay needs: extend.

use digest::Digest;

/// Largest digest of any supported bank (SHA-512).
pub const MAX_DIGEST: usize = 64;

/// A PCR bank's hash algorithm.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum HashAlg {
    /// SHA-1 (TPM_ALG_SHA1 = 0x0004).
    Sha1,
    /// SHA-256 (0x000B).
    Sha256,
    /// SHA-384 (0x000C).
    Sha384,
    /// SHA-512 (0x000D).
    Sha512,
    /// SM3-256 (0x0012).
    #[serde(rename = "sm3_256")]
    Sm3_256,
}

impl HashAlg {
    /// Every supported bank.
    pub const ALL: [HashAlg; 5] = [
        Self::Sha1,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
        Self::Sm3_256,
    ];

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

    /// Digest size in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 | Self::Sm3_256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Lower-case name: `sha1`, `sha256`, `sha384`, `sha512`, `sm3_256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Sm3_256 => "sm3_256",
        }
    }

    /// From [`HashAlg::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Writes H(parts...) into `out[..digest_len]` without allocating.
    pub fn hash_into(self, parts: &[&[u8]], out: &mut [u8; MAX_DIGEST]) {
        fn run<D: Digest>(parts: &[&[u8]], out: &mut [u8; MAX_DIGEST]) {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            let d = h.finalize();
            out[..d.len()].copy_from_slice(&d);
        }
        match self {
            Self::Sha1 => run::<sha1::Sha1>(parts, out),
            Self::Sha256 => run::<sha2::Sha256>(parts, out),
            Self::Sha384 => run::<sha2::Sha384>(parts, out),
            Self::Sha512 => run::<sha2::Sha512>(parts, out),
            Self::Sm3_256 => run::<sm3::Sm3>(parts, out),
        }
    }

    /// H(data) as a vector.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_DIGEST];
        self.hash_into(&[data], &mut out);
        out[..self.digest_len()].to_vec()
    }

    /// PCR extend in place: `pcr = H(pcr || digest)`. `pcr` must be `digest_len()` long.
    pub fn extend(self, pcr: &mut [u8], digest: &[u8]) {
        let mut out = [0u8; MAX_DIGEST];
        self.hash_into(&[pcr, digest], &mut out);
        let n = pcr.len().min(self.digest_len());
        pcr[..n].copy_from_slice(&out[..n]);
    }
}

impl core::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
