//! The HGS registrations (`hgs_policy::PolicyStore`) kept in the admin [`Store`](crate::store::Store).
//!
//! Each artifact kind is a collection of the store document, one record per name, with the policy
//! version recorded beside it (so `hgs store list` shows it):
//!
//! | collection | record | type |
//! |---|---|---|
//! | `hosts` | host name | `hgs_policy::TpmHost` |
//! | `baselines` | class name | `hgs_policy::TpmBaseline` |
//! | `ci_policies` | policy name | `hgs_policy::CiPolicyRegistration` |
//! | `roots` | SHA-256 of the DER (hex) | `hgs_policy::TrustedCertificate` |
//! | `settings` | `attestation-policies` | `hgs_policy::PolicySettings` |
//! | `challenges` | challenge id | `hgs_attest::Challenge` (pending, single use) |

use hgs_policy::PolicyStore;
use hgs_policy::TrustedCertificate;
use sha2::{Digest, Sha256};

use crate::store::{StoreData, StoreError};

/// Collection of TPM hosts.
pub const HOSTS: &str = "hosts";
/// Collection of TPM baselines.
pub const BASELINES: &str = "baselines";
/// Collection of CI policies.
pub const CI_POLICIES: &str = "ci_policies";
/// Collection of trusted TPM certificates.
pub const ROOTS: &str = "roots";
/// Collection holding the policy settings record.
pub const SETTINGS: &str = "settings";
/// The one record of [`SETTINGS`].
pub const SETTINGS_RECORD: &str = "attestation-policies";
/// Collection of pending challenges.
pub const CHALLENGES: &str = "challenges";

/// Record name of a trusted certificate: SHA-256 of its DER, hex.
pub fn cert_key(der: &[u8]) -> String {
    crate::hex::hex(&Sha256::digest(der))
}

fn all<T: serde::de::DeserializeOwned>(data: &StoreData, coll: &str) -> Result<Vec<T>, StoreError> {
    data.names(coll)
        .iter()
        .map(|n| data.get::<T>(coll, n).map(|(v, _)| v))
        .collect()
}

/// Reads every registration out of the store document.
pub fn load(data: &StoreData) -> Result<PolicyStore, StoreError> {
    let mut ps = PolicyStore::default();
    for h in all::<hgs_policy::TpmHost>(data, HOSTS)? {
        ps.hosts.insert(h.name.clone(), h);
    }
    for b in all::<hgs_policy::TpmBaseline>(data, BASELINES)? {
        ps.baselines.insert(b.name.clone(), b);
    }
    for p in all::<hgs_policy::CiPolicyRegistration>(data, CI_POLICIES)? {
        ps.ci_policies.insert(p.name.clone(), p);
    }
    ps.trusted_certificates = all::<TrustedCertificate>(data, ROOTS)?;
    if data.record(SETTINGS, SETTINGS_RECORD).is_some() {
        ps.settings = data.get(SETTINGS, SETTINGS_RECORD)?.0;
    }
    Ok(ps)
}

/// Writes every registration back (replacing the five collections).
pub fn save(data: &mut StoreData, ps: &PolicyStore) -> Result<(), StoreError> {
    for coll in [HOSTS, BASELINES, CI_POLICIES, ROOTS, SETTINGS] {
        data.collections.remove(coll);
    }
    for h in ps.hosts.values() {
        data.insert(HOSTS, &h.name, Some(h.policy_version.name()), h, false)?;
    }
    for b in ps.baselines.values() {
        data.insert(BASELINES, &b.name, Some(b.policy_version.name()), b, false)?;
    }
    for p in ps.ci_policies.values() {
        data.insert(
            CI_POLICIES,
            &p.name,
            Some(p.policy_version.name()),
            p,
            false,
        )?;
    }
    for c in &ps.trusted_certificates {
        data.insert(ROOTS, &cert_key(&c.der), None, c, true)?;
    }
    data.insert(SETTINGS, SETTINGS_RECORD, None, &ps.settings, true)?;
    Ok(())
}
