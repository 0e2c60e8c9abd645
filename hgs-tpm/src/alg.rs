//! TPM_ALG_ID values used by the structures this crate reads, and [`HashAlg`]: the one hash
//! algorithm type of every hgs crate (PCR banks, names, quotes, CI-policy digests), with hashing,
//! the PCR extend, names, `FromStr` and serde.

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

/// Largest digest of any supported bank (SHA-512).
pub const MAX_DIGEST: usize = 64;

/// A hash algorithm a TPM can name (TPM_ALG_ID): a PCR bank's, an object's nameAlg, a digest's.
///
/// Serialized as its lower-case name (`sha1`, `sha256`, `sha384`, `sha512`, `sm3_256`), which is
/// also what [`HashAlg::name`], `Display` and `FromStr` use.
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
            TPM_ALG_SHA1 => Some(Self::Sha1),
            TPM_ALG_SHA256 => Some(Self::Sha256),
            TPM_ALG_SHA384 => Some(Self::Sha384),
            TPM_ALG_SHA512 => Some(Self::Sha512),
            TPM_ALG_SM3_256 => Some(Self::Sm3_256),
            _ => None,
        }
    }

    /// The TPM_ALG_ID.
    pub fn tpm_alg_id(self) -> u16 {
        match self {
            Self::Sha1 => TPM_ALG_SHA1,
            Self::Sha256 => TPM_ALG_SHA256,
            Self::Sha384 => TPM_ALG_SHA384,
            Self::Sha512 => TPM_ALG_SHA512,
            Self::Sm3_256 => TPM_ALG_SM3_256,
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
        self.hash_parts(&[data])
    }

    /// The hash of the concatenation of `parts`, as a vector.
    pub fn hash_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut out = [0u8; MAX_DIGEST];
        self.hash_into(parts, &mut out);
        out[..self.digest_len()].to_vec()
    }

    /// PCR extend in place: `pcr = H(pcr || digest)`. `pcr` must be `digest_len()` long.
    ///
    /// When both are `digest_len()` long (always, in replay) the message has a fixed length, so
    /// its padding is fixed too: SHA-1/SHA-256/SHA-384/SHA-512 extends build the padded blocks
    /// on the stack and call the compression function directly (SHA-NI / AVX2 where the CPU has
    /// them), skipping the streaming hasher's buffering. The result is the same hash; the unit
    /// tests compare it with the streaming hasher.
    pub fn extend(self, pcr: &mut [u8], digest: &[u8]) {
        let n = self.digest_len();
        if pcr.len() == n && digest.len() == n && extend_fixed(self, pcr, digest) {
            return;
        }
        let mut out = [0u8; MAX_DIGEST];
        self.hash_into(&[pcr, digest], &mut out);
        let n = pcr.len().min(self.digest_len());
        pcr[..n].copy_from_slice(&out[..n]);
    }
}

const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
const SHA384_IV: [u64; 8] = [
    0xcbbb_9d5d_c105_9ed8,
    0x629a_292a_367c_d507,
    0x9159_015a_3070_dd17,
    0x152f_ecd8_f70e_5939,
    0x6733_2667_ffc0_0b31,
    0x8eb4_4a87_6858_1511,
    0xdb0c_2e0d_64f9_8fa7,
    0x47b5_481d_befa_4fa4,
];
const SHA512_IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

/// `pcr = H(pcr || digest)` for a message of exactly `2 * digest_len` bytes, through the
/// compression function on pre-padded blocks. `false` when `alg` has no such path (SM3).
fn extend_fixed(alg: HashAlg, pcr: &mut [u8], digest: &[u8]) -> bool {
    use digest::generic_array::GenericArray;
    match alg {
        HashAlg::Sha1 => {
            // 40 bytes + 0x80 + zeros + 64-bit length (320 bits): one block.
            let mut block = GenericArray::default();
            let b: &mut [u8] = &mut block;
            b[..20].copy_from_slice(pcr);
            b[20..40].copy_from_slice(digest);
            b[40] = 0x80;
            b[56..].copy_from_slice(&320u64.to_be_bytes());
            let mut st = SHA1_IV;
            sha1::compress(&mut st, core::slice::from_ref(&block));
            for (o, w) in pcr.chunks_exact_mut(4).zip(st) {
                o.copy_from_slice(&w.to_be_bytes());
            }
        }
        HashAlg::Sha256 => {
            // 64 bytes fill one block; the second is padding only (length 512 bits).
            let mut blocks = [GenericArray::default(), GenericArray::default()];
            blocks[0][..32].copy_from_slice(pcr);
            blocks[0][32..].copy_from_slice(digest);
            blocks[1][0] = 0x80;
            blocks[1][56..].copy_from_slice(&512u64.to_be_bytes());
            let mut st = SHA256_IV;
            sha2::compress256(&mut st, &blocks);
            for (o, w) in pcr.chunks_exact_mut(4).zip(st) {
                o.copy_from_slice(&w.to_be_bytes());
            }
        }
        HashAlg::Sha384 => {
            // 96 bytes + 0x80 + zeros + 128-bit length (768 bits): one 128-byte block.
            let mut block = GenericArray::default();
            let b: &mut [u8] = &mut block;
            b[..48].copy_from_slice(pcr);
            b[48..96].copy_from_slice(digest);
            b[96] = 0x80;
            b[112..].copy_from_slice(&768u128.to_be_bytes());
            let mut st = SHA384_IV;
            sha2::compress512(&mut st, core::slice::from_ref(&block));
            for (o, w) in pcr.chunks_exact_mut(8).zip(st) {
                o.copy_from_slice(&w.to_be_bytes());
            }
        }
        HashAlg::Sha512 => {
            // 128 bytes fill one block; the second is padding only (length 1024 bits).
            let mut blocks = [GenericArray::default(), GenericArray::default()];
            blocks[0][..64].copy_from_slice(pcr);
            blocks[0][64..].copy_from_slice(digest);
            blocks[1][0] = 0x80;
            blocks[1][112..].copy_from_slice(&1024u128.to_be_bytes());
            let mut st = SHA512_IV;
            sha2::compress512(&mut st, &blocks);
            for (o, w) in pcr.chunks_exact_mut(8).zip(st) {
                o.copy_from_slice(&w.to_be_bytes());
            }
        }
        HashAlg::Sm3_256 => return false,
    }
    true
}

impl core::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`HashAlg`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {0:?} (expected sha1, sha256, sha384, sha512 or sm3_256)")]
pub struct UnknownHashAlg(pub String);

impl core::str::FromStr for HashAlg {
    type Err = UnknownHashAlg;

    /// [`HashAlg::name`], case-insensitively; `sha-256` and `sm3` are accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let canonical = match lower.as_str() {
            "sha-1" => "sha1",
            "sha-256" => "sha256",
            "sha-384" => "sha384",
            "sha-512" => "sha512",
            "sm3" | "sm3-256" => "sm3_256",
            other => other,
        };
        HashAlg::from_name(canonical).ok_or_else(|| UnknownHashAlg(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-length extend equals H(pcr || digest) through the streaming hasher, for every
    /// bank and many inputs (a wrong IV, padding byte or length field changes every output).
    #[test]
    fn fixed_extend_equals_streaming_hash() {
        for alg in HashAlg::ALL {
            let n = alg.digest_len();
            for seed in 0u8..64 {
                let pcr0: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
                let d: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_add(seed)).collect();
                let mut want = [0u8; MAX_DIGEST];
                alg.hash_into(&[&pcr0, &d], &mut want);
                let mut pcr = pcr0.clone();
                alg.extend(&mut pcr, &d);
                assert_eq!(pcr, want[..n], "{alg} seed {seed}");
            }
        }
        // Known answer: SHA-256 extend of the zero PCR with the zero digest.
        let mut pcr = [0u8; 32];
        HashAlg::Sha256.extend(&mut pcr, &[0u8; 32]);
        let hex: String = pcr.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
        );
    }

    #[test]
    fn names_round_trip_through_from_str_display_and_serde() {
        for alg in HashAlg::ALL {
            assert_eq!(alg.name().parse::<HashAlg>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.name());
            assert_eq!(HashAlg::from_tpm_alg_id(alg.tpm_alg_id()), Some(alg));
            assert_eq!(alg.hash(b"").len(), alg.digest_len());
        }
        assert_eq!("SHA-256".parse::<HashAlg>(), Ok(HashAlg::Sha256));
        assert!("md5".parse::<HashAlg>().is_err());
    }
}
