//! A bounds-checked big-endian reader over TPM marshalled bytes (nom primitives underneath) that
//! knows the absolute offset of every field, so errors can say where.

use nom::number::complete::{be_u16, be_u32, be_u64, be_u8};
use nom::IResult;

use crate::error::{Error, Result};

/// The largest TPM2B buffer this crate accepts. No TPM structure this crate reads carries more
/// than a 4096-bit RSA modulus (512 bytes) or a digest; the TPM's own MAX_*_BUFFER limits are
/// ≤ 1024 in every profile, so anything larger is hostile.
pub const MAX_TPM2B: usize = 1024;

/// Cursor over one input buffer.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    structure: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8], structure: &'static str) -> Self {
        Self {
            input,
            pos: 0,
            structure,
        }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or(&[])
    }

    fn step<T>(&mut self, size: usize, f: fn(&'a [u8]) -> IResult<&'a [u8], T>) -> Result<T> {
        let rest = self.remaining();
        match f(rest) {
            Ok((after, v)) => {
                self.pos += rest.len() - after.len();
                Ok(v)
            }
            Err(_) => Err(Error::Truncated {
                structure: self.structure.into(),
                offset: self.pos,
                needed: size.saturating_sub(rest.len()),
            }),
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        self.step(1, be_u8)
    }
    pub(crate) fn u16(&mut self) -> Result<u16> {
        self.step(2, be_u16)
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.step(4, be_u32)
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.step(8, be_u64)
    }

    /// `n` raw bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let rest = self.remaining();
        match rest.get(..n) {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(Error::Truncated {
                structure: self.structure.into(),
                offset: self.pos,
                needed: n - rest.len(),
            }),
        }
    }

    /// A TPM2B: u16 size then that many bytes, at most `max`.
    pub(crate) fn tpm2b(&mut self, field: &'static str, max: usize) -> Result<&'a [u8]> {
        let at = self.pos;
        let size = usize::from(self.u16()?);
        if size > max {
            return Err(Error::TooLarge {
                field: field.into(),
                offset: at,
                size,
                max,
            });
        }
        self.bytes(size)
    }

    /// Fails when bytes are left.
    pub(crate) fn finish(&self) -> Result<()> {
        let left = self.input.len().saturating_sub(self.pos);
        if left == 0 {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                structure: self.structure.into(),
                offset: self.pos,
                count: left,
            })
        }
    }
}

/// Big-endian writer used by the encoders (tests, builders, credential blobs).
#[derive(Debug, Default, Clone)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// A TPM2B; sizes above u16::MAX are truncated by the caller's contract (encoders only write
    /// values they parsed or built within limits).
    pub(crate) fn tpm2b(&mut self, b: &[u8]) {
        let n = u16::try_from(b.len()).unwrap_or(u16::MAX);
        self.u16(n);
        self.buf
            .extend_from_slice(b.get(..usize::from(n)).unwrap_or(b));
    }
}
