//! [`Evidence`] from the files tpm2-tools (5.x) writes on a Linux host, so an embedder does not
//! re-implement their formats ([`Evidence::from_tpm2_tools`], whose docs give the formats).

use hgs_tpm::{Attest, Attested, HashAlg, Public, Signature};

use crate::evidence::{Evidence, PcrValues, QuoteEvidence, EVIDENCE_FORMAT};

/// Bank slots in tpm2-tools' `TPML_PCR_SELECTION` (`TPM2_NUM_PCR_BANKS`).
const PCR_FILE_BANKS: usize = 16;
/// Bytes of `pcrSelect` in each slot (`TPM2_PCR_SELECT_MAX`: 32 PCRs).
const SELECT_MAX: usize = 4;
/// One `TPMS_PCR_SELECTION` in memory: 2 + 1 + 4, padded to the `u16` alignment.
const SELECTION_SLOT: usize = 8;
/// `TPML_PCR_SELECTION` in memory.
const SELECTION_LEN: usize = 4 + PCR_FILE_BANKS * SELECTION_SLOT;
/// Digest slots in one `TPML_DIGEST` (TPM2_PCR_Read returns at most 8 digests).
const PCR_FILE_LIST_DIGESTS: usize = 8;
/// Bytes of one `TPM2B_DIGEST` buffer (`sizeof(TPMU_HA)`, SHA-512).
const DIGEST_MAX: usize = 64;
/// One `TPM2B_DIGEST` in memory.
const DIGEST_SLOT: usize = 2 + DIGEST_MAX;
/// `TPML_DIGEST` in memory.
const LIST_LEN: usize = 4 + PCR_FILE_LIST_DIGESTS * DIGEST_SLOT;
/// Most digest lists one file may declare: tpm2-tools' `tpm2_pcrs` holds 32 (`TPM2_MAX_PCRS`)
/// lists; twice that bounds a hostile count before it is multiplied by `LIST_LEN`.
pub const MAX_PCR_FILE_LISTS: usize = 64;

/// Why a tpm2-tools "serialized" PCR file cannot be read. `offset` is from the start of the
/// bytes given (files of several quotes may be concatenated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PcrFileError {
    /// The bytes end inside a structure.
    #[error("the PCR file ends inside its {what} at offset {offset}")]
    Truncated {
        /// The structure (`TPML_PCR_SELECTION`, `digest list count`, `TPML_DIGEST`).
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// More banks than the selection has slots.
    #[error(
        "the PCR selection at offset {offset} declares {count} banks, more than {PCR_FILE_BANKS}"
    )]
    TooManyBanks {
        /// Offset of the selection.
        offset: usize,
        /// Its count.
        count: u32,
    },
    /// A bank's `sizeofSelect` beyond the 4 bitmap bytes tpm2-tools has.
    #[error(
        "PCR selection slot at offset {offset} has sizeofSelect {size}, more than {SELECT_MAX}"
    )]
    SelectTooLong {
        /// Offset of the slot.
        offset: usize,
        /// Its sizeofSelect.
        size: u8,
    },
    /// A bank whose algorithm this verifier does not know.
    #[error(
        "PCR selection slot at offset {offset} names bank 0x{alg:04x}, which is not a known hash"
    )]
    UnknownBank {
        /// Offset of the slot.
        offset: usize,
        /// Its TPM_ALG_ID.
        alg: u16,
    },
    /// More digest lists than [`MAX_PCR_FILE_LISTS`].
    #[error("the PCR file at offset {offset} declares {count} digest lists, more than {MAX_PCR_FILE_LISTS}")]
    TooManyLists {
        /// Offset of the count.
        offset: usize,
        /// The count.
        count: u32,
    },
    /// A `TPML_DIGEST` with more digests than its slots.
    #[error("the digest list at offset {offset} declares {count} digests, more than {PCR_FILE_LIST_DIGESTS}")]
    TooManyDigests {
        /// Offset of the list.
        offset: usize,
        /// Its count.
        count: u32,
    },
    /// The lists hold another number of digests than the selection selects PCRs.
    #[error("the PCR file at offset {offset} selects {selected} PCRs but holds {digests} digests")]
    DigestCount {
        /// Offset of the file's selection.
        offset: usize,
        /// PCRs selected.
        selected: usize,
        /// Digests held.
        digests: usize,
    },
    /// A digest whose size is not its bank's digest length.
    #[error("the {bank} value of PCR {pcr} at offset {offset} has {size} bytes, not {}", bank.digest_len())]
    DigestSize {
        /// Offset of the digest.
        offset: usize,
        /// Its bank.
        bank: HashAlg,
        /// Its PCR.
        pcr: u32,
        /// Its declared size.
        size: u16,
    },
}

/// Why tpm2-tools files do not make an [`Evidence`] ([`Evidence::from_tpm2_tools`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Tpm2ToolsError {
    /// The AK public area does not parse as a TPM2B_PUBLIC (or TPMT_PUBLIC).
    #[error("the AK public area is not a TPM2B_PUBLIC")]
    AkPublic(#[source] hgs_tpm::Error),
    /// No quote was given.
    #[error("no quote given")]
    NoQuote,
    /// A quote's message does not parse as a TPMS_ATTEST.
    #[error("quote {quote}: the message is not a TPMS_ATTEST")]
    Message {
        /// Index of the quote.
        quote: usize,
        /// The parser's error.
        #[source]
        error: hgs_tpm::Error,
    },
    /// A quote's message is an attestation of another kind (certify, creation, ...).
    #[error("quote {quote}: the message is a TPMS_ATTEST of type 0x{tag:04x}, not a quote")]
    NotAQuote {
        /// Index of the quote.
        quote: usize,
        /// Its TPMI_ST_ATTEST.
        tag: u16,
    },
    /// A quote's signature does not parse as a TPMT_SIGNATURE (tpm2-tools' `tss` format).
    #[error("quote {quote}: the signature is not a TPMT_SIGNATURE")]
    Signature {
        /// Index of the quote.
        quote: usize,
        /// The parser's error.
        #[source]
        error: hgs_tpm::Error,
    },
    /// The PCR file does not parse.
    #[error("the PCR values are not a tpm2-tools serialized PCR file")]
    PcrFile(#[source] PcrFileError),
}

fn u16_le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads one file (selection and lists) at `start`; returns where it ends.
fn read_pcr_file(bytes: &[u8], start: usize, out: &mut PcrValues) -> Result<usize, PcrFileError> {
    let sel = bytes
        .get(start..start + SELECTION_LEN)
        .ok_or(PcrFileError::Truncated {
            what: "TPML_PCR_SELECTION",
            offset: start,
        })?;
    let count = u32_le(sel, 0);
    let banks = usize::try_from(count)
        .ok()
        .filter(|n| *n <= PCR_FILE_BANKS)
        .ok_or(PcrFileError::TooManyBanks {
            offset: start,
            count,
        })?;
    let mut selected: Vec<(HashAlg, u32)> = Vec::new();
    for i in 0..banks {
        let at = 4 + i * SELECTION_SLOT;
        let alg = u16_le(sel, at);
        let size = sel[at + 2];
        if usize::from(size) > SELECT_MAX {
            return Err(PcrFileError::SelectTooLong {
                offset: start + at,
                size,
            });
        }
        let bank = HashAlg::from_tpm_alg_id(alg).ok_or(PcrFileError::UnknownBank {
            offset: start + at,
            alg,
        })?;
        for (byte_index, byte) in (0u32..).zip(&sel[at + 3..at + 3 + usize::from(size)]) {
            for bit in 0..8u32 {
                if byte & (1 << bit) != 0 {
                    selected.push((bank, byte_index * 8 + bit));
                }
            }
        }
    }
    let at = start + SELECTION_LEN;
    let lists = bytes.get(at..at + 4).ok_or(PcrFileError::Truncated {
        what: "digest list count",
        offset: at,
    })?;
    let list_count = u32_le(lists, 0);
    let list_count = usize::try_from(list_count)
        .ok()
        .filter(|n| *n <= MAX_PCR_FILE_LISTS)
        .ok_or(PcrFileError::TooManyLists {
            offset: at,
            count: list_count,
        })?;
    let mut digests: Vec<(usize, u16, &[u8])> = Vec::new();
    let mut at = at + 4;
    for _ in 0..list_count {
        let list = bytes
            .get(at..at + LIST_LEN)
            .ok_or(PcrFileError::Truncated {
                what: "TPML_DIGEST",
                offset: at,
            })?;
        let n = u32_le(list, 0);
        let n = usize::try_from(n)
            .ok()
            .filter(|k| *k <= PCR_FILE_LIST_DIGESTS)
            .ok_or(PcrFileError::TooManyDigests {
                offset: at,
                count: n,
            })?;
        for k in 0..n {
            let d = 4 + k * DIGEST_SLOT;
            let size = u16_le(list, d);
            let len = usize::from(size).min(DIGEST_MAX);
            digests.push((at + d, size, &list[d + 2..d + 2 + len]));
        }
        at += LIST_LEN;
    }
    if digests.len() != selected.len() {
        return Err(PcrFileError::DigestCount {
            offset: start,
            selected: selected.len(),
            digests: digests.len(),
        });
    }
    for ((bank, pcr), (offset, size, value)) in selected.into_iter().zip(digests) {
        if usize::from(size) != bank.digest_len() {
            return Err(PcrFileError::DigestSize {
                offset,
                bank,
                pcr,
                size,
            });
        }
        out.entry(bank)
            .or_default()
            .entry(pcr)
            .or_insert_with(|| value.to_vec());
    }
    Ok(at)
}

/// Reads one or more concatenated tpm2-tools "serialized" PCR files into values per bank (the
/// first value of a PCR wins when files overlap).
fn read_pcr_file_values(bytes: &[u8]) -> Result<PcrValues, PcrFileError> {
    let mut out = PcrValues::new();
    let mut at = 0;
    while at < bytes.len() {
        at = read_pcr_file(bytes, at, &mut out)?;
    }
    Ok(out)
}

impl Evidence {
    /// Evidence from tpm2-tools output: the AK's TPM2B_PUBLIC (`tpm2_createak -u`), each quote
    /// as its (`tpm2_quote -m`, `tpm2_quote -s`) pair, optionally the PCR values (`tpm2_quote -o`, or `tpm2_pcrread -o` with `-F serialized`; the
    /// files of several quotes may be concatenated), and the TCG log. Every part is checked to
    /// be of its format; none is trusted until [`crate::Attestor::evaluate`] verifies it.
    ///
    /// | argument | tool | format |
    /// |---|---|---|
    /// | `ak_public` | `tpm2_createak -u` (default `-f tss`) | TPM2B_PUBLIC (a bare TPMT_PUBLIC is read too) |
    /// | each quote's message | `tpm2_quote -m` | TPMS_ATTEST |
    /// | each quote's signature | `tpm2_quote -s` (default `-f tss`) | TPMT_SIGNATURE |
    /// | `pcr_values` | `tpm2_quote -o` (default `-F serialized`), `tpm2_pcrread -F serialized -o` | see below |
    /// | `event_log` | `/sys/kernel/security/tpm0/binary_bios_measurements` | TCG log |
    ///
    /// The "serialized" PCR file is tpm2-tools' C structures written as they lie in memory,
    /// little-endian (tpm2-tools `lib/pcr.c`, `pcr_fwrite_serialized`): a `TPML_PCR_SELECTION`
    /// (`u32` count, then 16 slots of `{u16 hash, u8 sizeofSelect, u8[4] pcrSelect,
    /// u8 pad}`), a `u32` number of digest lists, and that many `TPML_DIGEST` (`u32` count, then
    /// 8 slots of `{u16 size, u8[64] buffer}`). The digests, list after list,
    /// are the selected PCRs' values in selection order (banks as listed, PCRs ascending). Files of
    /// several quotes may be concatenated.
    ///
    /// Nothing here is trusted more than the JSON evidence document: the quotes are verified by
    /// [`Attestor::evaluate`](crate::Attestor::evaluate), and PCR values only help name a PCR
    /// whose replay differs. A file declares at most [`MAX_PCR_FILE_LISTS`](crate::MAX_PCR_FILE_LISTS)
    /// digest lists.
    pub fn from_tpm2_tools(
        ak_public: &[u8],
        quotes: &[(&[u8], &[u8])],
        pcr_values: Option<&[u8]>,
        event_log: &[u8],
    ) -> Result<Evidence, Tpm2ToolsError> {
        Public::parse(ak_public).map_err(Tpm2ToolsError::AkPublic)?;
        if quotes.is_empty() {
            return Err(Tpm2ToolsError::NoQuote);
        }
        let mut out = Vec::with_capacity(quotes.len());
        for (quote, (message, signature)) in quotes.iter().enumerate() {
            let attest =
                Attest::parse(message).map_err(|error| Tpm2ToolsError::Message { quote, error })?;
            let Attested::Quote { selection, .. } = &attest.attested else {
                return Err(Tpm2ToolsError::NotAQuote {
                    quote,
                    tag: attest.tag,
                });
            };
            Signature::parse(signature)
                .map_err(|error| Tpm2ToolsError::Signature { quote, error })?;
            let bank = match selection.banks.as_slice() {
                [one] => HashAlg::from_tpm_alg_id(one.hash),
                _ => None,
            };
            let mut pcrs: Vec<u32> = selection.banks.iter().flat_map(|b| b.pcrs()).collect();
            pcrs.sort_unstable();
            pcrs.dedup();
            out.push(QuoteEvidence {
                bank,
                pcrs,
                attest: message.to_vec(),
                signature: signature.to_vec(),
            });
        }
        let pcr_values = match pcr_values {
            Some(b) => read_pcr_file_values(b).map_err(Tpm2ToolsError::PcrFile)?,
            None => PcrValues::new(),
        };
        Ok(Evidence {
            format: EVIDENCE_FORMAT.into(),
            challenge_id: None,
            ak_public: ak_public.to_vec(),
            quotes: out,
            pcr_values,
            event_log: event_log.to_vec(),
            bound_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

    use super::*;

    /// A "serialized" PCR file as tpm2-tools lays it out: `banks` selected, `values` in
    /// selection order, 8 per list.
    fn file(banks: &[(u16, &[u32])], values: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0u8; SELECTION_LEN];
        out[..4].copy_from_slice(&(banks.len() as u32).to_le_bytes());
        for (i, (alg, pcrs)) in banks.iter().enumerate() {
            let at = 4 + i * SELECTION_SLOT;
            out[at..at + 2].copy_from_slice(&alg.to_le_bytes());
            out[at + 2] = 3;
            for p in *pcrs {
                out[at + 3 + (*p as usize) / 8] |= 1 << (p % 8);
            }
        }
        let lists: Vec<&[Vec<u8>]> = values.chunks(PCR_FILE_LIST_DIGESTS).collect();
        out.extend((lists.len() as u32).to_le_bytes());
        for l in lists {
            let mut list = vec![0u8; LIST_LEN];
            list[..4].copy_from_slice(&(l.len() as u32).to_le_bytes());
            for (k, v) in l.iter().enumerate() {
                let d = 4 + k * DIGEST_SLOT;
                list[d..d + 2].copy_from_slice(&(v.len() as u16).to_le_bytes());
                list[d + 2..d + 2 + v.len()].copy_from_slice(v);
            }
            out.extend(list);
        }
        out
    }

    #[test]
    fn values_span_lists_banks_and_concatenated_files() {
        let pcrs: Vec<u32> = (0..12).collect();
        let values: Vec<Vec<u8>> = pcrs.iter().map(|p| vec![*p as u8; 32]).collect();
        let mut bytes = file(&[(0x000b, &pcrs)], &values);
        assert_eq!(bytes.len(), SELECTION_LEN + 4 + 2 * LIST_LEN);
        bytes.extend(file(
            &[(0x0004, &[0, 7])],
            &[vec![0xa0; 20], vec![0xa7; 20]],
        ));
        let v = read_pcr_file_values(&bytes).unwrap();
        assert_eq!(v[&HashAlg::Sha256].len(), 12);
        assert_eq!(v[&HashAlg::Sha256][&9], vec![9; 32]);
        assert_eq!(v[&HashAlg::Sha1][&7], vec![0xa7; 20]);
    }

    #[test]
    fn each_malformation_has_its_own_reason() {
        let good = file(&[(0x000b, &[0, 1])], &[vec![0; 32], vec![1; 32]]);
        assert_eq!(
            read_pcr_file_values(&good[..100]),
            Err(PcrFileError::Truncated {
                what: "TPML_PCR_SELECTION",
                offset: 0
            })
        );
        assert_eq!(
            read_pcr_file_values(&good[..good.len() - 1]),
            Err(PcrFileError::Truncated {
                what: "TPML_DIGEST",
                offset: SELECTION_LEN + 4
            })
        );
        assert_eq!(
            read_pcr_file_values(&file(&[(0x000b, &[0, 1])], &[vec![0; 32]])),
            Err(PcrFileError::DigestCount {
                offset: 0,
                selected: 2,
                digests: 1
            })
        );
        assert!(matches!(
            read_pcr_file_values(&file(&[(0x000b, &[0, 1])], &[vec![0; 32], vec![1; 20]])),
            Err(PcrFileError::DigestSize {
                bank: HashAlg::Sha256,
                pcr: 1,
                size: 20,
                ..
            })
        ));
        assert!(matches!(
            read_pcr_file_values(&file(&[(0x0099, &[0])], &[vec![0; 32]])),
            Err(PcrFileError::UnknownBank { alg: 0x0099, .. })
        ));
        let mut many = good.clone();
        many[..4].copy_from_slice(&17u32.to_le_bytes());
        assert_eq!(
            read_pcr_file_values(&many),
            Err(PcrFileError::TooManyBanks {
                offset: 0,
                count: 17
            })
        );
        let mut lists = good.clone();
        lists[SELECTION_LEN..SELECTION_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_pcr_file_values(&lists),
            Err(PcrFileError::TooManyLists { .. })
        ));
        let mut digests = good;
        digests[SELECTION_LEN + 4..SELECTION_LEN + 8].copy_from_slice(&9u32.to_le_bytes());
        assert!(matches!(
            read_pcr_file_values(&digests),
            Err(PcrFileError::TooManyDigests { count: 9, .. })
        ));
    }

    #[test]
    fn parts_that_are_not_their_format_are_refused_by_part() {
        let ak = hgs_tpm::ek_p256_public(&[1; 32], &[2; 32]);
        assert!(matches!(
            Evidence::from_tpm2_tools(&[0, 1], &[], None, &[]),
            Err(Tpm2ToolsError::AkPublic(_))
        ));
        assert_eq!(
            Evidence::from_tpm2_tools(&ak, &[], None, &[]),
            Err(Tpm2ToolsError::NoQuote)
        );
        assert!(matches!(
            Evidence::from_tpm2_tools(&ak, &[(b"junk", b"")], None, &[]),
            Err(Tpm2ToolsError::Message { quote: 0, .. })
        ));
    }
}
