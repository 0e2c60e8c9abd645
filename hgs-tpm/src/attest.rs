//! TPMS_ATTEST: what a TPM signs for a quote (and certify / creation attestations).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::pcr_selection::PcrSelection;
use crate::reader::{Reader, Writer, MAX_TPM2B};

/// TPM_GENERATED_VALUE: every TPM-made attestation starts with it, so a restricted key can tell its
/// own structures from caller data.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_CERTIFY.
pub const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
/// TPM_ST_ATTEST_QUOTE.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;
/// TPM_ST_ATTEST_CREATION.
pub const TPM_ST_ATTEST_CREATION: u16 = 0x801A;

/// TPMS_CLOCK_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered.
    pub clock: u64,
    /// TPM resets since the last TPM2_Clear.
    pub reset_count: u32,
    /// Restarts (resume from hibernation) since the last reset.
    pub restart_count: u32,
    /// Whether the clock value is known not to have gone backwards.
    pub safe: bool,
}

/// The attested payload (TPMU_ATTEST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attested<'a> {
    /// TPMS_QUOTE_INFO.
    Quote {
        /// PCRs quoted.
        selection: PcrSelection,
        /// Digest of the selected PCR values, in the quote's signing hash.
        pcr_digest: &'a [u8],
    },
    /// TPMS_CERTIFY_INFO.
    Certify {
        /// Name of the certified object.
        name: &'a [u8],
        /// Qualified name of the certified object.
        qualified_name: &'a [u8],
    },
    /// TPMS_CREATION_INFO.
    Creation {
        /// Name of the created object.
        object_name: &'a [u8],
        /// Hash of the creation data.
        creation_hash: &'a [u8],
    },
    /// Any other attestation type, kept raw.
    Other {
        /// TPM_ST value.
        tag: u16,
        /// The undecoded payload.
        bytes: &'a [u8],
    },
}

/// A parsed TPMS_ATTEST, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attest<'a> {
    /// The exact TPMS_ATTEST bytes: what the signature covers.
    pub bytes: &'a [u8],
    /// Attestation type (TPM_ST_ATTEST_*).
    pub tag: u16,
    /// Qualified name of the signing key.
    pub qualified_signer: &'a [u8],
    /// Caller-supplied qualifying data: the verifier's nonce.
    pub extra_data: &'a [u8],
    /// Clock information.
    pub clock_info: ClockInfo,
    /// TPM firmware version.
    pub firmware_version: u64,
    /// The payload.
    pub attested: Attested<'a>,
}

impl<'a> Attest<'a> {
    /// Parses a TPMS_ATTEST, or a TPM2B_ATTEST wrapping one (detected by the magic value).
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        let is_bare = input.get(..4) == Some(&TPM_GENERATED_VALUE.to_be_bytes()[..]);
        if is_bare {
            return Self::parse_bare(input);
        }
        let mut r = Reader::new(input, "TPM2B_ATTEST");
        let inner = r.tpm2b("TPM2B_ATTEST", MAX_TPM2B * 2)?;
        r.finish()?;
        Self::parse_bare(inner)
    }

    fn parse_bare(input: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(input, "TPMS_ATTEST");
        let magic = r.u32()?;
        if magic != TPM_GENERATED_VALUE {
            return Err(Error::BadMagic { found: magic });
        }
        let tag = r.u16()?;
        let qualified_signer = r.tpm2b("qualifiedSigner", 2 + 64)?;
        let extra_data = r.tpm2b("extraData", 64)?;
        let clock = r.u64()?;
        let reset_count = r.u32()?;
        let restart_count = r.u32()?;
        let safe_at = r.offset();
        let safe = match r.u8()? {
            0 => false,
            1 => true,
            v => {
                return Err(Error::InvalidValue {
                    field: Cow::Borrowed("clockInfo.safe"),
                    offset: safe_at,
                    value: u64::from(v),
                })
            }
        };
        let firmware_version = r.u64()?;
        let attested = match tag {
            TPM_ST_ATTEST_QUOTE => {
                let selection = PcrSelection::read(&mut r)?;
                let pcr_digest = r.tpm2b("pcrDigest", 64)?;
                Attested::Quote {
                    selection,
                    pcr_digest,
                }
            }
            TPM_ST_ATTEST_CERTIFY => Attested::Certify {
                name: r.tpm2b("name", 2 + 64)?,
                qualified_name: r.tpm2b("qualifiedName", 2 + 64)?,
            },
            TPM_ST_ATTEST_CREATION => Attested::Creation {
                object_name: r.tpm2b("objectName", 2 + 64)?,
                creation_hash: r.tpm2b("creationHash", 64)?,
            },
            other => {
                let rest = r.remaining();
                let bytes = r.bytes(rest.len())?;
                Attested::Other { tag: other, bytes }
            }
        };
        r.finish()?;
        Ok(Attest {
            bytes: input,
            tag,
            qualified_signer,
            extra_data,
            clock_info: ClockInfo {
                clock,
                reset_count,
                restart_count,
                safe,
            },
            firmware_version,
            attested,
        })
    }

    /// Re-encodes as TPMS_ATTEST (equal to [`Attest::bytes`] for parsed input).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(TPM_GENERATED_VALUE);
        w.u16(self.tag);
        w.tpm2b(self.qualified_signer);
        w.tpm2b(self.extra_data);
        w.u64(self.clock_info.clock);
        w.u32(self.clock_info.reset_count);
        w.u32(self.clock_info.restart_count);
        w.u8(u8::from(self.clock_info.safe));
        w.u64(self.firmware_version);
        match &self.attested {
            Attested::Quote {
                selection,
                pcr_digest,
            } => {
                selection.write(&mut w);
                w.tpm2b(pcr_digest);
            }
            Attested::Certify {
                name,
                qualified_name,
            } => {
                w.tpm2b(name);
                w.tpm2b(qualified_name);
            }
            Attested::Creation {
                object_name,
                creation_hash,
            } => {
                w.tpm2b(object_name);
                w.tpm2b(creation_hash);
            }
            Attested::Other { bytes, .. } => w.bytes(bytes),
        }
        w.buf
    }
}
