//! Owned, serde-friendly events, for persistence (e.g. a TPM baseline stores its events).

use crate::alg::HashAlg;
use crate::event::Event;

/// An event that owns its bytes. Bytes serialize as lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnedEvent {
    /// Position in its log.
    pub index: u32,
    /// PCR.
    pub pcr: u32,
    /// Raw event type.
    pub event_type: u32,
    /// Digests per known bank.
    pub digests: Vec<OwnedDigest>,
    /// Event data.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub data: Vec<u8>,
}

/// One digest of an [`OwnedEvent`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnedDigest {
    /// Bank.
    pub alg: HashAlg,
    /// Digest.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub digest: Vec<u8>,
}

impl OwnedEvent {
    /// The digest in bank `alg`.
    pub fn digest(&self, alg: HashAlg) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|d| d.alg == alg)
            .map(|d| d.digest.as_slice())
    }
}

impl From<&Event<'_>> for OwnedEvent {
    fn from(e: &Event<'_>) -> Self {
        OwnedEvent {
            index: e.index,
            pcr: e.pcr,
            event_type: e.event_type.as_u32(),
            digests: e
                .digests()
                .map(|(alg, d)| OwnedDigest {
                    alg,
                    digest: d.to_vec(),
                })
                .collect(),
            data: e.data.to_vec(),
        }
    }
}
