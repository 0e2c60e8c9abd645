//! A TCG log encoder (feature `builder`): legacy SHA-1 and crypto-agile logs with arbitrary events.
//! Used by this crate's proptests and by other crates' end-to-end tests (logs extended into a
//! software TPM). Not for production: it writes whatever it is told.

use crate::alg::HashAlg;

/// Builds a log event by event.
#[derive(Debug, Clone)]
pub struct LogBuilder {
    banks: Option<Vec<HashAlg>>,
    out: Vec<u8>,
}

impl LogBuilder {
    /// A legacy SHA-1 log (no header).
    pub fn legacy() -> Self {
        LogBuilder {
            banks: None,
            out: Vec::new(),
        }
    }

    /// A crypto-agile log with these banks; writes the Spec ID Event03 header.
    pub fn agile(banks: &[HashAlg]) -> Self {
        let mut spec = Vec::new();
        spec.extend_from_slice(crate::spec_id::SPEC_ID_SIGNATURE);
        spec.extend_from_slice(&0u32.to_le_bytes()); // platform class
        spec.extend_from_slice(&[0, 2, 0, 2]); // minor, major, errata, uintn
        spec.extend_from_slice(&(banks.len() as u32).to_le_bytes());
        for b in banks {
            spec.extend_from_slice(&b.tpm_alg_id().to_le_bytes());
            spec.extend_from_slice(&(b.digest_len() as u16).to_le_bytes());
        }
        spec.push(0); // vendorInfoSize
        let mut b = LogBuilder {
            banks: None,
            out: Vec::new(),
        };
        b.raw_legacy(0, 3, &[0u8; 20], &spec);
        b.banks = Some(banks.to_vec());
        b
    }

    fn raw_legacy(&mut self, pcr: u32, ty: u32, sha1: &[u8], data: &[u8]) {
        self.out.extend_from_slice(&pcr.to_le_bytes());
        self.out.extend_from_slice(&ty.to_le_bytes());
        let mut d = [0u8; 20];
        let n = sha1.len().min(20);
        d[..n].copy_from_slice(&sha1[..n]);
        self.out.extend_from_slice(&d);
        self.out
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.out.extend_from_slice(data);
    }

    /// Adds an event whose digests are H(data) in every bank (zero for EV_NO_ACTION).
    pub fn event(&mut self, pcr: u32, event_type: u32, data: &[u8]) -> &mut Self {
        let banks = self.banks.clone().unwrap_or_else(|| vec![HashAlg::Sha1]);
        let digests: Vec<(HashAlg, Vec<u8>)> = banks
            .iter()
            .map(|b| {
                (
                    *b,
                    if event_type == 3 {
                        vec![0; b.digest_len()]
                    } else {
                        b.hash(data)
                    },
                )
            })
            .collect();
        self.event_with_digests(pcr, event_type, &digests, data)
    }

    /// Adds an event with the given digests (for measured objects whose data is not hashed).
    pub fn event_with_digests(
        &mut self,
        pcr: u32,
        event_type: u32,
        digests: &[(HashAlg, Vec<u8>)],
        data: &[u8],
    ) -> &mut Self {
        match &self.banks {
            None => {
                let sha1 = digests
                    .iter()
                    .find(|(a, _)| *a == HashAlg::Sha1)
                    .map(|(_, d)| d.clone())
                    .unwrap_or_default();
                self.raw_legacy(pcr, event_type, &sha1, data);
            }
            Some(_) => {
                self.out.extend_from_slice(&pcr.to_le_bytes());
                self.out.extend_from_slice(&event_type.to_le_bytes());
                self.out
                    .extend_from_slice(&(digests.len() as u32).to_le_bytes());
                for (a, d) in digests {
                    self.out.extend_from_slice(&a.tpm_alg_id().to_le_bytes());
                    self.out.extend_from_slice(d);
                }
                self.out
                    .extend_from_slice(&(data.len() as u32).to_le_bytes());
                self.out.extend_from_slice(data);
            }
        }
        self
    }

    /// The encoded log.
    pub fn build(&self) -> Vec<u8> {
        self.out.clone()
    }
}

/// UEFI_VARIABLE_DATA for `name` (UTF-16) under `guid`.
pub fn uefi_variable(guid: crate::uefi::Guid, name: &str, data: &[u8]) -> Vec<u8> {
    let units: Vec<u16> = name.encode_utf16().collect();
    let mut v = guid.0.to_vec();
    v.extend_from_slice(&(units.len() as u64).to_le_bytes());
    v.extend_from_slice(&(data.len() as u64).to_le_bytes());
    for u in units {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v.extend_from_slice(data);
    v
}
