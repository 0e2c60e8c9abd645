//! A bounds-checked little-endian reader for the binary policy's primitives (u32, u64, GUID,
//! blob, string), each failure naming the field and offset.

use crate::error::{Error, Result};
use hgs_tpm::Guid;

/// Longest string or blob accepted: 16 MiB (real policies are < 1 MiB in total).
pub const MAX_FIELD: u32 = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8]> {
        let rest = &self.buf[self.pos..];
        let b = rest.get(..n).ok_or_else(|| Error::Truncated {
            field,
            offset: self.pos,
            needed: n - rest.len(),
        })?;
        self.pos += n;
        Ok(b)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8> {
        Ok(self.bytes(1, field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32> {
        let b = self.bytes(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64> {
        let b = self.bytes(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn guid(&mut self, field: &'static str) -> Result<Guid> {
        let b = self.bytes(16, field)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(Guid(a))
    }

    /// A count of items each at least `min_item` bytes long, checked against what is left.
    pub(crate) fn count(&mut self, field: &'static str, min_item: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.u32(field)?;
        let need = (n as usize).checked_mul(min_item.max(1));
        match need {
            Some(need) if need <= self.remaining() => Ok(n as usize),
            _ => Err(Error::CountTooLarge {
                field,
                offset: at,
                count: u64::from(n),
                remaining: self.remaining(),
            }),
        }
    }

    fn padded_len(&mut self, field: &'static str) -> Result<(u32, usize)> {
        let at = self.pos;
        let len = self.u32(field)?;
        if len > MAX_FIELD || len as usize > self.remaining() {
            return Err(Error::CountTooLarge {
                field,
                offset: at,
                count: u64::from(len),
                remaining: self.remaining(),
            });
        }
        Ok((len, at))
    }

    /// Zero padding after `len` bytes up to a 4-byte boundary; non-zero padding is refused so
    /// every accepted policy has one encoding.
    fn padding(&mut self, len: usize, field: &'static str) -> Result<()> {
        let at = self.pos;
        let pad = self.bytes((4 - len % 4) % 4, field)?;
        match pad.iter().find(|b| **b != 0) {
            Some(b) => Err(Error::InvalidValue {
                field,
                offset: at,
                value: u64::from(*b),
            }),
            None => Ok(()),
        }
    }

    /// Blob: u32 length, bytes, zero padding to a 4-byte boundary.
    pub(crate) fn blob(&mut self, field: &'static str) -> Result<&'a [u8]> {
        let (len, _) = self.padded_len(field)?;
        let b = self.bytes(len as usize, field)?;
        self.padding(len as usize, field)?;
        Ok(b)
    }

    /// String: u32 byte length, UTF-16LE (no NUL), zero padding to 4, then a u32 0 terminator.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String> {
        let (len, at) = self.padded_len(field)?;
        if len % 2 != 0 {
            return Err(Error::OddStringLength {
                field,
                offset: at,
                len,
            });
        }
        let b = self.bytes(len as usize, field)?;
        self.padding(len as usize, field)?;
        let term_at = self.pos;
        let term = self.u32(field)?;
        if term != 0 {
            return Err(Error::InvalidValue {
                field,
                offset: term_at,
                value: u64::from(term),
            });
        }
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(String::from_utf16_lossy(&units))
    }

    /// `u32 n` followed by `n` u32 values.
    pub(crate) fn u32_list(&mut self, field: &'static str) -> Result<Vec<u32>> {
        let n = self.count(field, 4)?;
        (0..n).map(|_| self.u32(field)).collect()
    }
}
