//! Builds the platform identifier document ([`crate::identity`]) from what the TPM returned.
//! Challenges and evidence are `hgs_attest::ChallengeMessage` / `hgs_attest::Evidence`.

use super::ek::EkEntry;
use crate::hex::hex;

pub use crate::identity::{EndorsementKey, PlatformIdentifier};

/// Builds the platform identifier document.
pub fn platform_identifier(name: &str, eks: &[EkEntry]) -> PlatformIdentifier {
    PlatformIdentifier {
        format: crate::identity::PLATFORM_IDENTIFIER_FORMAT.into(),
        name: name.into(),
        endorsement_keys: eks
            .iter()
            .map(|e| {
                let mut notes = Vec::new();
                if e.certificate.is_none() {
                    notes.push(format!(
                        "no EK certificate (NV index {:#010x} is not defined)",
                        e.cert_nv_index
                    ));
                }
                if let Some(err) = &e.public_error {
                    notes.push(format!("EK public not available: {err}"));
                }
                EndorsementKey {
                    profile: e.profile.name().into(),
                    certificate_nv_index: format!("{:#010x}", e.cert_nv_index),
                    public: e.public.as_deref().map(hex),
                    certificate: e.certificate.as_deref().map(hex),
                    notes,
                }
            })
            .collect(),
    }
}
