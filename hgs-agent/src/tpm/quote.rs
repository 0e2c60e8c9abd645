//! PCR banks, PCR values and TPM2_Quote.

use std::collections::BTreeMap;
use std::convert::TryFrom;

use tss_esapi::constants::CapabilityType;
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    CapabilityData, Data, PcrSelectionList, PcrSelectionListBuilder, PcrSlot, SignatureScheme,
};
use tss_esapi::traits::Marshall;

use super::{tss_err, Result, Tpm, TpmError};

/// Number of PCRs a PC-client TPM has per bank.
pub const PCR_COUNT: u8 = 24;

/// A PCR bank's hash algorithm, by TCG algorithm ID and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bank {
    /// TPM_ALG_ID (0x0004 SHA-1, 0x000b SHA-256, 0x000c SHA-384, 0x000d SHA-512, 0x0012 SM3-256).
    pub alg_id: u16,
}

impl Bank {
    /// SHA-1.
    pub const SHA1: Bank = Bank { alg_id: 0x0004 };
    /// SHA-256.
    pub const SHA256: Bank = Bank { alg_id: 0x000b };

    /// Lower-case name (`sha1`, `sha256`, ...).
    pub fn name(self) -> &'static str {
        match self.alg_id {
            0x0004 => "sha1",
            0x000b => "sha256",
            0x000c => "sha384",
            0x000d => "sha512",
            0x0012 => "sm3_256",
            _ => "unknown",
        }
    }

    /// Parses [`Bank::name`].
    pub fn from_name(name: &str) -> Option<Bank> {
        let alg_id = match name.to_ascii_lowercase().as_str() {
            "sha1" => 0x0004,
            "sha256" => 0x000b,
            "sha384" => 0x000c,
            "sha512" => 0x000d,
            "sm3_256" | "sm3" => 0x0012,
            _ => return None,
        };
        Some(Bank { alg_id })
    }

    /// Digest size in bytes.
    pub fn digest_len(self) -> Option<usize> {
        match self.alg_id {
            0x0004 => Some(20),
            0x000b | 0x0012 => Some(32),
            0x000c => Some(48),
            0x000d => Some(64),
            _ => None,
        }
    }

    pub(crate) fn hashing(self) -> Result<HashingAlgorithm> {
        Ok(match self.alg_id {
            0x0004 => HashingAlgorithm::Sha1,
            0x000b => HashingAlgorithm::Sha256,
            0x000c => HashingAlgorithm::Sha384,
            0x000d => HashingAlgorithm::Sha512,
            0x0012 => HashingAlgorithm::Sm3_256,
            other => {
                return Err(TpmError::Unexpected {
                    op: "select PCR bank".into(),
                    message: format!("unsupported hash algorithm {other:#06x}"),
                })
            }
        })
    }

    fn from_hashing(h: HashingAlgorithm) -> Option<Bank> {
        let alg_id = match h {
            HashingAlgorithm::Sha1 => 0x0004,
            HashingAlgorithm::Sha256 => 0x000b,
            HashingAlgorithm::Sha384 => 0x000c,
            HashingAlgorithm::Sha512 => 0x000d,
            HashingAlgorithm::Sm3_256 => 0x0012,
            _ => return None,
        };
        Some(Bank { alg_id })
    }
}

/// The PCR banks the TPM has active (at least one PCR allocated), in TPM order.
pub fn active_banks(tpm: &mut Tpm) -> Result<Vec<Bank>> {
    let (data, _) = tpm
        .context()
        .get_capability(CapabilityType::AssignedPcr, 0, 1)
        .map_err(tss_err("TPM2_GetCapability(PCRs)"))?;
    let CapabilityData::AssignedPcr(list) = data else {
        return Err(TpmError::Unexpected {
            op: "TPM2_GetCapability(PCRs)".into(),
            message: "TPM returned another capability".into(),
        });
    };
    Ok(list
        .get_selections()
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| Bank::from_hashing(s.hashing_algorithm()))
        .collect())
}

fn selection(bank: Bank, pcrs: &[u8]) -> Result<PcrSelectionList> {
    let slots = pcrs
        .iter()
        .map(|&i| {
            if i >= PCR_COUNT {
                return Err(TpmError::Unexpected {
                    op: "select PCRs".into(),
                    message: format!("PCR {i} out of range 0..{PCR_COUNT}"),
                });
            }
            PcrSlot::try_from(1u32 << i).map_err(tss_err("PCR slot"))
        })
        .collect::<Result<Vec<_>>>()?;
    PcrSelectionListBuilder::new()
        .with_selection(bank.hashing()?, &slots)
        .build()
        .map_err(tss_err("build PCR selection"))
}

fn slot_index(slot: PcrSlot) -> u8 {
    u32::from(slot).trailing_zeros() as u8
}

/// Reads the given PCRs of one bank (TPM2_PCR_Read returns at most 8 per call; this loops).
pub fn read_pcrs(tpm: &mut Tpm, bank: Bank, pcrs: &[u8]) -> Result<BTreeMap<u8, Vec<u8>>> {
    let mut remaining = selection(bank, pcrs)?;
    let mut out = BTreeMap::new();
    while !remaining.is_empty() {
        let (_, read, digests) = tpm
            .context()
            .execute_without_session(|ctx| ctx.pcr_read(remaining.clone()))
            .map_err(tss_err(format!("TPM2_PCR_Read ({})", bank.name())))?;
        let slots: Vec<PcrSlot> = read
            .get_selections()
            .iter()
            .flat_map(|s| s.selected())
            .collect();
        if slots.is_empty() {
            // The TPM read nothing: the remaining PCRs are not allocated in this bank.
            break;
        }
        for (slot, digest) in slots.iter().zip(digests.value()) {
            out.insert(slot_index(*slot), digest.value().to_vec());
        }
        remaining
            .subtract(&read)
            .map_err(tss_err("PCR selection bookkeeping"))?;
    }
    Ok(out)
}

/// One bank's quote: the TPMS_ATTEST bytes the AK signed and the TPMT_SIGNATURE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankQuote {
    /// The bank quoted.
    pub bank: Bank,
    /// The PCRs selected, ascending.
    pub pcrs: Vec<u8>,
    /// TPMS_ATTEST (marshalled; exactly the bytes signed).
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE.
    pub signature: Vec<u8>,
}

/// TPM2_Quote over `pcrs` of `bank` with `qualifying_data` as extraData, signed by `ak` with its
/// own scheme.
pub fn quote(
    tpm: &mut Tpm,
    ak: KeyHandle,
    bank: Bank,
    pcrs: &[u8],
    qualifying_data: &[u8],
) -> Result<BankQuote> {
    let sel = selection(bank, pcrs)?;
    let data = Data::try_from(qualifying_data.to_vec()).map_err(tss_err("qualifying data"))?;
    let (attest, signature) = tpm
        .context()
        .execute_with_session(Some(AuthSession::Password), |ctx| {
            ctx.quote(ak, data, SignatureScheme::Null, sel)
        })
        .map_err(tss_err(format!("TPM2_Quote ({})", bank.name())))?;
    let mut sorted = pcrs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    Ok(BankQuote {
        bank,
        pcrs: sorted,
        attest: attest.marshall().map_err(tss_err("marshal TPMS_ATTEST"))?,
        signature: signature
            .marshall()
            .map_err(tss_err("marshal TPMT_SIGNATURE"))?,
    })
}
