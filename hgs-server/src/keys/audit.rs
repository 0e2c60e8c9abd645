//! The audit trail's vocabulary: which token (a hash of it), which refusal (a stable
//! snake_case kind), and how long rows are kept.

use hgs_kps::Refusal;
use sha2::{Digest, Sha256};

/// Audit rows older than this are purged: 30 days.
pub(crate) const AUDIT_RETENTION: u64 = 30 * 86_400;

/// At most this many audit rows are kept (the newest): storage follows the fleet's activity
/// over the retention period, not the number of requests ever made.
pub(crate) const AUDIT_MAX_ROWS: u64 = 100_000;

/// Audit rows written between purges.
pub(crate) const AUDIT_PURGE_EVERY: u64 = 1024;

/// A token's id in the audit trail: the first 16 bytes of its SHA-256, hex. The token itself
/// (a bearer credential until it expires) is never stored.
pub(crate) fn token_id(token: &str) -> String {
    hgs_tpm::hex::encode(&Sha256::digest(token.as_bytes())[..16])
}

/// The stable, machine-readable kind of a refusal (`reason` of a 403 body and of the audit).
pub(crate) fn refusal_kind(r: &Refusal) -> &'static str {
    match r {
        Refusal::Expired { .. } => "expired",
        Refusal::NotPassed { .. } => "not_passed",
        Refusal::IssuedBeforeCutoff { .. } => "issued_before_cutoff",
        Refusal::NoHostName { .. } => "no_host_name",
        Refusal::HostNotRegistered { .. } => "host_not_registered",
        Refusal::RegistrationMismatch { .. } => "registration_mismatch",
        Refusal::EkMismatch { .. } => "ek_mismatch",
        Refusal::HostNotSelected { .. } => "host_not_selected",
        Refusal::PolicyVersionTooLow { .. } => "policy_version_too_low",
        Refusal::PolicyNotSatisfied { .. } => "policy_not_satisfied",
        Refusal::NoBoundKey { .. } => "no_bound_key",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_a_short_hash_not_the_token() {
        let t = "eyJhbGciOiJFUzI1NiJ9.payload.signature";
        let id = token_id(t);
        assert_eq!(id.len(), 32);
        assert!(!id.contains("payload"));
        assert_ne!(id, token_id("other"));
    }
}
