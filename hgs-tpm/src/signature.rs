//! TPMT_SIGNATURE: a TPM signature with its scheme and hash.

use std::borrow::Cow;

use crate::alg::*;
use crate::error::{Error, Result};
use crate::reader::{Reader, Writer};

/// A parsed TPMT_SIGNATURE, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature<'a> {
    /// TPM_ALG_RSASSA (PKCS#1 v1.5).
    RsaSsa {
        /// Hash algorithm (TPM_ALG_ID).
        hash: u16,
        /// Signature bytes.
        sig: &'a [u8],
    },
    /// TPM_ALG_RSAPSS.
    RsaPss {
        /// Hash algorithm (TPM_ALG_ID).
        hash: u16,
        /// Signature bytes.
        sig: &'a [u8],
    },
    /// TPM_ALG_ECDSA.
    Ecdsa {
        /// Hash algorithm (TPM_ALG_ID).
        hash: u16,
        /// r, big-endian.
        r: &'a [u8],
        /// s, big-endian.
        s: &'a [u8],
    },
}

impl<'a> Signature<'a> {
    /// Parses a TPMT_SIGNATURE filling `input`.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(input, "TPMT_SIGNATURE");
        let alg_at = r.offset();
        let alg = r.u16()?;
        let hash = r.u16()?;
        let sig = match alg {
            TPM_ALG_RSASSA => Signature::RsaSsa {
                hash,
                sig: r.tpm2b("signature.rsa", 512)?,
            },
            TPM_ALG_RSAPSS => Signature::RsaPss {
                hash,
                sig: r.tpm2b("signature.rsa", 512)?,
            },
            TPM_ALG_ECDSA => Signature::Ecdsa {
                hash,
                r: r.tpm2b("signature.ecdsa.r", 128)?,
                s: r.tpm2b("signature.ecdsa.s", 128)?,
            },
            other => {
                return Err(Error::UnsupportedAlgorithm {
                    field: Cow::Borrowed("sigAlg"),
                    offset: alg_at,
                    alg: other,
                })
            }
        };
        r.finish()?;
        Ok(sig)
    }

    /// Signature scheme (TPM_ALG_ID).
    pub fn scheme(&self) -> u16 {
        match self {
            Signature::RsaSsa { .. } => TPM_ALG_RSASSA,
            Signature::RsaPss { .. } => TPM_ALG_RSAPSS,
            Signature::Ecdsa { .. } => TPM_ALG_ECDSA,
        }
    }

    /// Hash algorithm (TPM_ALG_ID) the signer hashed the message with.
    pub fn hash_alg(&self) -> u16 {
        match self {
            Signature::RsaSsa { hash, .. }
            | Signature::RsaPss { hash, .. }
            | Signature::Ecdsa { hash, .. } => *hash,
        }
    }

    /// Encodes as TPMT_SIGNATURE.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u16(self.scheme());
        w.u16(self.hash_alg());
        match self {
            Signature::RsaSsa { sig, .. } | Signature::RsaPss { sig, .. } => w.tpm2b(sig),
            Signature::Ecdsa { r, s, .. } => {
                w.tpm2b(r);
                w.tpm2b(s);
            }
        }
        w.buf
    }
}
