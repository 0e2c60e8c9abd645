//! Microsoft cabinet (`MSCF`) reader for `TrustedTpm.cab`: bytes in, files out, no I/O.
//!
//! Reads the CFHEADER, its reserve area (where Authenticode records the signature's place, see
//! [`crate::verify_cabinet`]), the CFFOLDERs, the CFFILEs and the CFDATA blocks of each folder,
//! uncompressed or MSZIP. MSZIP blocks are raw DEFLATE (`CK` prefix) whose back-references may
//! reach into the previous blocks of the folder, so each folder is inflated into one buffer, block
//! after block, every file being a slice of it: the whole cabinet is decompressed once (the `cab`
//! crate's per-file reader restarts the folder for every file, quadratic for the 2,193 files of the
//! real cabinet's single folder).
//!
//! Refused: cabinet sets (files continued from/to another cabinet), Quantum and LZX folders, more
//! than [`MAX_CAB_FILES`] files or [`MAX_CAB_FOLDERS`] folders, more than
//! [`MAX_CAB_UNCOMPRESSED`] bytes once uncompressed, and any record that runs past the input.
//! CFDATA checksums are not checked: a signed cabinet's integrity is the Authenticode digest,
//! which covers every CFDATA byte; a corrupt block of an unsigned one fails to inflate or has the
//! wrong size.

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use thiserror::Error;

/// At most this many files in a cabinet. The real `TrustedTpm.cab` has 2,193; the bound keeps a
/// forged header (65,535 entries, each with a name) from costing more than the data it carries.
pub const MAX_CAB_FILES: usize = 10_000;
/// At most this many folders (the real cabinet has 1).
pub const MAX_CAB_FOLDERS: usize = 64;
/// At most this many bytes once uncompressed, all folders together, and at most this many bytes
/// in all files together (files may overlap in a folder): 32 MiB. The real cabinet
/// holds about 5 MB of certificates; a CFDATA header of 8 bytes may claim 32 KiB, so without a
/// bound a small forged cabinet could ask for gigabytes.
pub const MAX_CAB_UNCOMPRESSED: usize = 32 << 20;
/// The largest uncompressed CFDATA block MS-CAB allows (32 KiB + 6144 bytes for uncompressed
/// folders is tolerated by Microsoft's tools; MSZIP blocks are at most 32 KiB).
const MAX_BLOCK: usize = 32768 + 6144;

const FLAG_PREV_CABINET: u16 = 0x0001;
const FLAG_NEXT_CABINET: u16 = 0x0002;
const FLAG_RESERVE_PRESENT: u16 = 0x0004;
/// CFFILE attribute: the name is UTF-8.
const ATTR_NAME_IS_UTF: u16 = 0x80;

/// Why a cabinet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CabError {
    /// The input ends inside a record.
    #[error("cabinet truncated: {what} at offset {offset}")]
    Truncated {
        /// The record being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// The input does not start with `MSCF`.
    #[error("not a cabinet (no MSCF signature)")]
    NotCabinet,
    /// A feature this reader does not handle.
    #[error("unsupported cabinet feature: {what} ({value})")]
    Unsupported {
        /// The feature.
        what: &'static str,
        /// Its value in the file.
        value: u32,
    },
    /// A count or size over one of the bounds of this module.
    #[error("cabinet {what} is {value}, more than the {max} allowed")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The count.
        value: usize,
        /// The bound.
        max: usize,
    },
    /// A CFDATA block does not inflate to its stated size.
    #[error("folder {folder} block {block}: {why}")]
    BadBlock {
        /// Folder index.
        folder: usize,
        /// Block index in the folder.
        block: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// A file's range lies outside its folder's data.
    #[error("file `{name}` lies outside folder {folder}")]
    FileOutOfRange {
        /// File name as recorded.
        name: String,
        /// Its folder.
        folder: usize,
    },
}

/// One file of a cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabFile {
    /// Its path in the cabinet, with `/` separators (the cabinet records `\`).
    pub name: String,
    /// Its uncompressed bytes.
    pub data: Vec<u8>,
}

/// The header fields Authenticode needs (see [`crate::verify_cabinet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CabLayout {
    /// `cbCabinet`: the cabinet's size without the appended signature.
    pub cabinet_size: u32,
    /// `coffFiles`: offset of the first CFFILE.
    pub first_file_offset: u32,
    /// The CFHEADER reserve area (`abReserve`): offset in the file and length, if present.
    pub header_reserve: Option<(usize, usize)>,
    /// Offset of the first byte after the CFHEADER (optional names included): the CFFOLDERs.
    pub folders_offset: usize,
}

/// A cabinet's files, in CFFILE order, and its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cabinet {
    /// The files.
    pub files: Vec<CabFile>,
    /// The header layout.
    pub layout: CabLayout,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CabError> {
        let t = CabError::Truncated {
            what,
            offset: self.pos,
        };
        let end = self.pos.checked_add(n).ok_or(t.clone())?;
        let s = self.data.get(self.pos..end).ok_or(t)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, CabError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, CabError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CabError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn cstr(&mut self, what: &'static str) -> Result<&'a [u8], CabError> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(CabError::Truncated {
                what,
                offset: self.pos,
            })?;
        let s = &rest[..n];
        self.pos += n + 1;
        Ok(s)
    }
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

struct Folder {
    first_block: usize,
    blocks: usize,
    compression: u16,
}

/// Reads the header only: enough to find the signature (see [`crate::verify_cabinet`]).
pub fn cabinet_layout(input: &[u8]) -> Result<CabLayout, CabError> {
    Ok(header(input)?.0)
}

fn header(input: &[u8]) -> Result<(CabLayout, Vec<Folder>, usize, u8, Cursor<'_>), CabError> {
    let mut c = Cursor {
        data: input,
        pos: 0,
    };
    if c.take(4, "signature").map_err(|_| CabError::NotCabinet)? != b"MSCF" {
        return Err(CabError::NotCabinet);
    }
    c.u32("reserved1")?;
    let cabinet_size = c.u32("cbCabinet")?;
    c.u32("reserved2")?;
    let first_file_offset = c.u32("coffFiles")?;
    c.u32("reserved3")?;
    let minor = c.u8("versionMinor")?;
    let major = c.u8("versionMajor")?;
    if (major, minor) != (1, 3) {
        return Err(CabError::Unsupported {
            what: "version",
            value: u32::from(major) << 8 | u32::from(minor),
        });
    }
    let folders = usize::from(c.u16("cFolders")?);
    let files = usize::from(c.u16("cFiles")?);
    let flags = c.u16("flags")?;
    c.u16("setID")?;
    c.u16("iCabinet")?;
    if flags & (FLAG_PREV_CABINET | FLAG_NEXT_CABINET) != 0 {
        return Err(CabError::Unsupported {
            what: "cabinet set",
            value: u32::from(flags),
        });
    }
    let (mut folder_reserve, mut data_reserve, mut header_reserve) = (0usize, 0u8, None);
    if flags & FLAG_RESERVE_PRESENT != 0 {
        let n = usize::from(c.u16("cbCFHeader")?);
        folder_reserve = usize::from(c.u8("cbCFFolder")?);
        data_reserve = c.u8("cbCFData")?;
        let at = c.pos;
        c.take(n, "abReserve")?;
        header_reserve = Some((at, n));
    }
    let folders_offset = c.pos;
    if folders > MAX_CAB_FOLDERS {
        return Err(CabError::TooLarge {
            what: "folder count",
            value: folders,
            max: MAX_CAB_FOLDERS,
        });
    }
    if files > MAX_CAB_FILES {
        return Err(CabError::TooLarge {
            what: "file count",
            value: files,
            max: MAX_CAB_FILES,
        });
    }
    let mut list = Vec::with_capacity(folders);
    for _ in 0..folders {
        let first_block = to_usize(c.u32("coffCabStart")?);
        let blocks = usize::from(c.u16("cCFData")?);
        let compression = c.u16("typeCompress")?;
        c.take(folder_reserve, "CFFOLDER reserve")?;
        list.push(Folder {
            first_block,
            blocks,
            compression,
        });
    }
    let layout = CabLayout {
        cabinet_size,
        first_file_offset,
        header_reserve,
        folders_offset,
    };
    Ok((layout, list, files, data_reserve, c))
}

/// Reads every file of a cabinet (see the module docs for what is refused).
pub fn read_cabinet(input: &[u8]) -> Result<Cabinet, CabError> {
    let (layout, folders, nfiles, data_reserve, mut c) = header(input)?;
    // Folder data, inflated once each, within MAX_CAB_UNCOMPRESSED all together.
    let mut total = 0usize;
    let mut data: Vec<Vec<u8>> = Vec::with_capacity(folders.len());
    for (fi, f) in folders.iter().enumerate() {
        data.push(read_folder(input, fi, f, data_reserve, &mut total)?);
    }
    c.pos = to_usize(layout.first_file_offset);
    let mut files = Vec::with_capacity(nfiles);
    // Files may overlap in their folder: their copies are bounded too.
    let mut copied = 0usize;
    for _ in 0..nfiles {
        let size = to_usize(c.u32("cbFile")?);
        copied = copied.saturating_add(size);
        if copied > MAX_CAB_UNCOMPRESSED {
            return Err(CabError::TooLarge {
                what: "size of the files",
                value: copied,
                max: MAX_CAB_UNCOMPRESSED,
            });
        }
        let start = to_usize(c.u32("uoffFolderStart")?);
        let folder = c.u16("iFolder")?;
        c.u16("date")?;
        c.u16("time")?;
        let attribs = c.u16("attribs")?;
        let raw = c.cstr("szName")?;
        let name = if attribs & ATTR_NAME_IS_UTF != 0 {
            String::from_utf8_lossy(raw).into_owned()
        } else {
            // A code-page name: ASCII as is, anything else replaced (Latin-1 reading).
            raw.iter().map(|&b| char::from(b)).collect()
        }
        .replace('\\', "/");
        let fi = usize::from(folder);
        let bytes = data
            .get(fi)
            .and_then(|d| d.get(start..start.checked_add(size)?))
            .ok_or_else(|| {
                if fi >= folders.len() {
                    CabError::Unsupported {
                        what: "file folder index (continued file)",
                        value: u32::from(folder),
                    }
                } else {
                    CabError::FileOutOfRange {
                        name: name.clone(),
                        folder: fi,
                    }
                }
            })?;
        files.push(CabFile {
            name,
            data: bytes.to_vec(),
        });
    }
    Ok(Cabinet { files, layout })
}

fn read_folder(
    input: &[u8],
    fi: usize,
    f: &Folder,
    data_reserve: u8,
    total: &mut usize,
) -> Result<Vec<u8>, CabError> {
    let compression = f.compression & 0x000f;
    if compression > 1 {
        return Err(CabError::Unsupported {
            what: "compression (only none and MSZIP)",
            value: u32::from(f.compression),
        });
    }
    // First pass: the block headers, to size the buffer before inflating anything.
    let mut c = Cursor {
        data: input,
        pos: f.first_block,
    };
    let mut blocks = Vec::with_capacity(f.blocks);
    let mut size = 0usize;
    for bi in 0..f.blocks {
        c.u32("CFDATA csum")?;
        let compressed = usize::from(c.u16("cbData")?);
        let uncompressed = usize::from(c.u16("cbUncomp")?);
        c.take(usize::from(data_reserve), "CFDATA reserve")?;
        let bytes = c.take(compressed, "CFDATA data")?;
        if uncompressed > MAX_BLOCK {
            return Err(CabError::BadBlock {
                folder: fi,
                block: bi,
                why: "more than 38 KiB uncompressed",
            });
        }
        // Checked before the folder buffer is allocated.
        if compression == 0 && compressed != uncompressed {
            return Err(CabError::BadBlock {
                folder: fi,
                block: bi,
                why: "stored block size differs from cbUncomp",
            });
        }
        size += uncompressed;
        *total = total.saturating_add(uncompressed);
        if *total > MAX_CAB_UNCOMPRESSED {
            return Err(CabError::TooLarge {
                what: "uncompressed size",
                value: *total,
                max: MAX_CAB_UNCOMPRESSED,
            });
        }
        blocks.push((bytes, uncompressed));
    }
    let mut out = vec![0u8; size];
    let mut pos = 0usize;
    for (bi, (bytes, uncompressed)) in blocks.into_iter().enumerate() {
        let end = pos + uncompressed;
        let bad = |why| CabError::BadBlock {
            folder: fi,
            block: bi,
            why,
        };
        if compression == 0 {
            if bytes.len() != uncompressed {
                return Err(bad("stored block size differs from cbUncomp"));
            }
            out[pos..end].copy_from_slice(bytes);
        } else {
            let deflate = bytes
                .strip_prefix(b"CK")
                .ok_or(bad("no MSZIP `CK` signature"))?;
            // Raw DEFLATE into the folder buffer; the decoder may refer back to the earlier
            // blocks (non-wrapping buffer: distances are checked against its start).
            let mut state = DecompressorOxide::new();
            let (status, _, written) = decompress(
                &mut state,
                deflate,
                &mut out[..end],
                pos,
                inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
            );
            if status != TINFLStatus::Done {
                return Err(bad("MSZIP block does not inflate"));
            }
            if written != uncompressed {
                return Err(bad("MSZIP block inflates to another size than cbUncomp"));
            }
        }
        pos = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn small_and_broken_cabinets() {
        let cab = crate::cab::testing::build(&[("A\\RootCA\\x.cer", b"hello")], true);
        let c = read_cabinet(&cab).unwrap();
        assert_eq!(c.files[0].name, "A/RootCA/x.cer");
        assert_eq!(c.files[0].data, b"hello");
        let stored = crate::cab::testing::build(&[("f", b"abc"), ("g", b"")], false);
        let c = read_cabinet(&stored).unwrap();
        assert_eq!(c.files.len(), 2);
        for n in 0..cab.len() {
            let _ = read_cabinet(&cab[..n]);
        }
        assert_eq!(read_cabinet(b"PK\x03\x04"), Err(CabError::NotCabinet));
    }
}

/// Builders of small synthetic cabinets, for tests and fuzz seeds.
#[cfg(any(test, feature = "builder"))]
#[cfg_attr(not(feature = "builder"), allow(unreachable_pub))]
#[allow(clippy::cast_possible_truncation)]
pub mod testing {
    /// An unsigned cabinet with one folder holding `files`, MSZIP (one block per 32 KiB) or
    /// stored, with a 20-byte header reserve like a signed cabinet has before its signature is
    /// appended (all zero: "not signed").
    pub fn build(files: &[(&str, &[u8])], mszip: bool) -> Vec<u8> {
        let mut all = Vec::new();
        for (_, d) in files {
            all.extend_from_slice(d);
        }
        let mut blocks = Vec::new();
        for chunk in all.chunks(32768) {
            let body = if mszip {
                let mut b = b"CK".to_vec();
                b.extend(miniz_oxide::deflate::compress_to_vec(chunk, 6));
                b
            } else {
                chunk.to_vec()
            };
            blocks.push((body, chunk.len()));
        }
        let header_len = 36 + 4 + 20;
        let folder_len = 8;
        let files_len: usize = files.iter().map(|(n, _)| 16 + n.len() + 1).sum();
        let data_start = header_len + folder_len + files_len;
        let data_len: usize = blocks.iter().map(|(b, _)| 8 + b.len()).sum();
        let total = data_start + data_len;
        let mut out = Vec::new();
        out.extend_from_slice(b"MSCF");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&((header_len + folder_len) as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&[3, 1]);
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes()); // reserve present
        out.extend_from_slice(&[0, 0, 0, 0]); // setID, iCabinet
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&[0u8; 20]);
        out.extend_from_slice(&(data_start as u32).to_le_bytes());
        out.extend_from_slice(&(blocks.len() as u16).to_le_bytes());
        out.extend_from_slice(&(u16::from(mszip)).to_le_bytes());
        let mut off = 0u32;
        for (n, d) in files {
            out.extend_from_slice(&(d.len() as u32).to_le_bytes());
            out.extend_from_slice(&off.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&[0x21, 0x59, 0, 0]); // date, time
            out.extend_from_slice(&0x20u16.to_le_bytes());
            out.extend_from_slice(n.as_bytes());
            out.push(0);
            off += d.len() as u32;
        }
        for (b, n) in &blocks {
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            out.extend_from_slice(&(*n as u16).to_le_bytes());
            out.extend_from_slice(b);
        }
        out
    }
}
