//! TPM_ALG_ID values used by the structures this crate reads, and hashing by algorithm.

use digest::Digest;

/// TPM_ALG_RSA.
pub const TPM_ALG_RSA: u16 = 0x0001;
/// TPM_ALG_SHA1.
pub const TPM_ALG_SHA1: u16 = 0x0004;
/// TPM_ALG_HMAC.
pub const TPM_ALG_HMAC: u16 = 0x0005;
/// TPM_ALG_AES.
pub const TPM_ALG_AES: u16 = 0x0006;
/// TPM_ALG_KEYEDHASH.
pub const TPM_ALG_KEYEDHASH: u16 = 0x0008;
/// TPM_ALG_XOR.
pub const TPM_ALG_XOR: u16 = 0x000A;
/// TPM_ALG_SHA256.
pub const TPM_ALG_SHA256: u16 = 0x000B;
/// TPM_ALG_SHA384.
pub const TPM_ALG_SHA384: u16 = 0x000C;
/// TPM_ALG_SHA512.
pub const TPM_ALG_SHA512: u16 = 0x000D;
/// TPM_ALG_NULL.
pub const TPM_ALG_NULL: u16 = 0x0010;
/// TPM_ALG_SM3_256.
pub const TPM_ALG_SM3_256: u16 = 0x0012;
/// TPM_ALG_RSASSA (PKCS#1 v1.5 signatures).
pub const TPM_ALG_RSASSA: u16 = 0x0014;
/// TPM_ALG_RSAES.
pub const TPM_ALG_RSAES: u16 = 0x0015;
/// TPM_ALG_RSAPSS.
pub const TPM_ALG_RSAPSS: u16 = 0x0016;
/// TPM_ALG_OAEP.
pub const TPM_ALG_OAEP: u16 = 0x0017;
/// TPM_ALG_ECDSA.
pub const TPM_ALG_ECDSA: u16 = 0x0018;
/// TPM_ALG_ECDH.
pub const TPM_ALG_ECDH: u16 = 0x0019;
/// TPM_ALG_ECDAA.
pub const TPM_ALG_ECDAA: u16 = 0x001A;
/// TPM_ALG_SM2.
pub const TPM_ALG_SM2: u16 = 0x001B;
/// TPM_ALG_ECSCHNORR.
pub const TPM_ALG_ECSCHNORR: u16 = 0x001C;
/// TPM_ALG_KDF1_SP800_56A.
pub const TPM_ALG_KDF1_SP800_56A: u16 = 0x0020;
/// TPM_ALG_KDF2.
pub const TPM_ALG_KDF2: u16 = 0x0021;
/// TPM_ALG_KDF1_SP800_108.
pub const TPM_ALG_KDF1_SP800_108: u16 = 0x0022;
/// TPM_ALG_ECC.
pub const TPM_ALG_ECC: u16 = 0x0023;
/// TPM_ALG_SYMCIPHER.
pub const TPM_ALG_SYMCIPHER: u16 = 0x0025;
/// TPM_ALG_CFB.
pub const TPM_ALG_CFB: u16 = 0x0043;

/// A hash algorithm a TPM structure can name, with the hashing this crate can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// The algorithm for a TPM_ALG_ID, if it is one of the hashes above.
    pub fn from_tpm_alg_id(id: u16) -> Option<Self> {
        match id {
            TPM_ALG_SHA1 => Some(Self::Sha1),
            TPM_ALG_SHA256 => Some(Self::Sha256),
            TPM_ALG_SHA384 => Some(Self::Sha384),
            TPM_ALG_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Its TPM_ALG_ID.
    pub fn tpm_alg_id(self) -> u16 {
        match self {
            Self::Sha1 => TPM_ALG_SHA1,
            Self::Sha256 => TPM_ALG_SHA256,
            Self::Sha384 => TPM_ALG_SHA384,
            Self::Sha512 => TPM_ALG_SHA512,
        }
    }

    /// Digest size in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Lower-case name: `sha1`, `sha256`, `sha384`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Hash of the concatenation of `parts`.
    pub fn hash_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<sha1::Sha1>(parts),
            Self::Sha256 => run::<sha2::Sha256>(parts),
            Self::Sha384 => run::<sha2::Sha384>(parts),
            Self::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// Hash of `data`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        self.hash_parts(&[data])
    }
}
