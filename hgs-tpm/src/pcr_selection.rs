//! TPML_PCR_SELECTION: which PCRs of which banks a quote covers.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::reader::{Reader, Writer};

/// At most this many banks in one selection: TPM 2.0 defines HASH_COUNT ≤ 5 banks in practice
/// (SHA-1, SHA-256, SHA-384, SHA-512, SM3); 16 leaves room without letting a count allocate much.
pub const MAX_BANKS: usize = 16;
/// At most this many bytes of PCR bitmap per bank: PCR_SELECT_MAX is 3 on PC-client TPMs (24 PCRs);
/// 8 bytes allows 64 PCRs.
pub const MAX_SELECT_BYTES: usize = 8;

/// One bank's selection (TPMS_PCR_SELECTION).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PcrSelect {
    /// Bank hash algorithm (TPM_ALG_ID).
    pub hash: u16,
    /// Bitmap: bit `i % 8` of byte `i / 8` selects PCR `i`.
    pub bitmap: Vec<u8>,
}

impl PcrSelect {
    /// The selected PCR indices in ascending order (the order the TPM concatenates them in).
    pub fn pcrs(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for (byte_index, byte) in (0u32..).zip(self.bitmap.iter()) {
            for bit in 0..8u32 {
                if byte & (1 << bit) != 0 {
                    out.push(byte_index * 8 + bit);
                }
            }
        }
        out
    }

    /// Whether PCR `pcr` is selected.
    pub fn contains(&self, pcr: u32) -> bool {
        let byte = (pcr / 8) as usize;
        self.bitmap
            .get(byte)
            .is_some_and(|b| b & (1 << (pcr % 8)) != 0)
    }

    /// A selection of `pcrs` in bank `hash` with a 3-byte bitmap (or larger when needed).
    pub fn new(hash: u16, pcrs: &[u32]) -> Self {
        let max = pcrs.iter().copied().max().unwrap_or(0);
        let len = ((max / 8 + 1) as usize).clamp(3, MAX_SELECT_BYTES);
        let mut bitmap = vec![0u8; len];
        for &p in pcrs {
            if let Some(b) = bitmap.get_mut((p / 8) as usize) {
                *b |= 1 << (p % 8);
            }
        }
        Self { hash, bitmap }
    }
}

/// TPML_PCR_SELECTION.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PcrSelection {
    /// The banks, in the order the TPM lists (and hashes) them.
    pub banks: Vec<PcrSelect>,
}

impl PcrSelection {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let at = r.offset();
        let count = r.u32()? as usize;
        if count > MAX_BANKS {
            return Err(Error::TooLarge {
                field: Cow::Borrowed("TPML_PCR_SELECTION.count"),
                offset: at,
                size: count,
                max: MAX_BANKS,
            });
        }
        let mut banks = Vec::with_capacity(count);
        for _ in 0..count {
            let hash = r.u16()?;
            let size_at = r.offset();
            let size = usize::from(r.u8()?);
            if size > MAX_SELECT_BYTES {
                return Err(Error::TooLarge {
                    field: Cow::Borrowed("sizeofSelect"),
                    offset: size_at,
                    size,
                    max: MAX_SELECT_BYTES,
                });
            }
            banks.push(PcrSelect {
                hash,
                bitmap: r.bytes(size)?.to_vec(),
            });
        }
        Ok(Self { banks })
    }

    /// Parses a TPML_PCR_SELECTION filling `input`.
    pub fn parse(input: &[u8]) -> Result<Self> {
        let mut r = Reader::new(input, "TPML_PCR_SELECTION");
        let s = Self::read(&mut r)?;
        r.finish()?;
        Ok(s)
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        // The counts saturate and only that many entries are written, so the encoding stays
        // self-consistent even for a selection no TPM could hold.
        let count = u32::try_from(self.banks.len()).unwrap_or(u32::MAX);
        w.u32(count);
        for b in self
            .banks
            .iter()
            .take(usize::try_from(count).unwrap_or(usize::MAX))
        {
            w.u16(b.hash);
            let len = u8::try_from(b.bitmap.len()).unwrap_or(u8::MAX);
            w.u8(len);
            w.bytes(&b.bitmap[..usize::from(len)]);
        }
    }

    /// Encodes as TPML_PCR_SELECTION.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.write(&mut w);
        w.buf
    }

    /// PCRs of bank `hash` that are NOT selected, out of `required`.
    pub fn missing(&self, hash: u16, required: &[u32]) -> Vec<u32> {
        required
            .iter()
            .copied()
            .filter(|p| !self.banks.iter().any(|b| b.hash == hash && b.contains(*p)))
            .collect()
    }
}
