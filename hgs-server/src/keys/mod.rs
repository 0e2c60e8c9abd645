//! The key protection service's server side (HGS' KPS): what is sealed where under the master
//! key, the start-up work (master-key rotation, sealing a legacy plaintext token key, the
//! `default` guardian), and the audit trail's vocabulary. The HTTP endpoints are
//! `api/keys.rs`; the decisions are `hgs_kps`'s.
//!
//! - `master.rs`: the master key file and the sealed form (AES-256-GCM, per-row nonce, the
//!   row's table, name and context as additional data).
//! - `audit.rs`: token ids (a hash, never the token), refusal kinds, retention.

mod audit;
mod master;

pub use master::{MasterKey, MasterKeyError, MASTER_KEY_LEN};

pub(crate) use audit::{
    refusal_kind, token_id, AUDIT_MAX_ROWS, AUDIT_PURGE_EVERY, AUDIT_RETENTION,
};
pub(crate) use master::{Keyring, Place};

use hgs_kps::GuardianKey;

use crate::store::{GuardianRow, SealedCell, SealedTable, Store, StoreError};

/// `kps_settings` name of the issued-before cut-off (UNIX seconds as decimal text).
pub(crate) const DENY_ISSUED_BEFORE: &str = "deny-issued-before";

/// `kps_settings` name of the key-protector release policy (`ReleasePolicy` JSON).
pub(crate) const KEY_PROTECTOR_POLICY: &str = "key-protector-policy";

/// The guardian a server creates on first start when it has none.
pub const DEFAULT_GUARDIAN: &str = "default";

/// How long a generated service guardian's certificate is valid: 30 years (its dates are not
/// checked by anyone who imports it; HGS' default guardian certificates are long-lived too).
const GUARDIAN_VALIDITY: u64 = 30 * 365 * 86_400;

/// Where a secret's value is sealed: bound to its name and its release policy's JSON.
pub(crate) fn secret_place<'a>(name: &'a str, policy: &'a str) -> Place<'a> {
    Place {
        what: "secret",
        table: "kps_secrets",
        name,
        context: policy,
    }
}

/// Where a guardian's private key is sealed.
pub(crate) fn guardian_place(name: &str) -> Place<'_> {
    Place {
        what: "guardian key",
        table: "kps_guardians",
        name,
        context: "",
    }
}

/// Where a server key (the token signing key) is sealed.
pub(crate) fn server_key_place(name: &str) -> Place<'_> {
    Place {
        what: "server key",
        table: "server_keys",
        name,
        context: "",
    }
}

fn place_of(cell: &SealedCell) -> Place<'_> {
    match cell.table {
        SealedTable::Secrets => secret_place(&cell.name, &cell.context),
        SealedTable::Guardians => guardian_place(&cell.name),
        SealedTable::ServerKeys => server_key_place(&cell.name),
    }
}

/// Why the key service cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyServiceError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A sealed value cannot be opened with the configured keys.
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    /// The default guardian could not be made.
    #[error("the default guardian could not be made: {0}")]
    Guardian(#[source] hgs_kps::GuardianKeyError),
}

/// What [`prepare`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prepared {
    /// Values re-sealed from the previous master key to the current one.
    pub(crate) rotated: u64,
    /// Legacy plaintext server keys sealed.
    pub(crate) sealed_legacy: u64,
}

/// Start-up: every sealed value must open with the configured keys. Values under the previous
/// key (a rotation) and legacy plaintext server keys are re-sealed under the current key in
/// ONE transaction, so a crash at any instant leaves each value under the old or the new key
/// (a rerun with both keys finishes the job). Each value is opened before it is re-sealed: a
/// value that does not authenticate stops the start, nothing is written.
pub(crate) async fn prepare<S: Store>(
    store: &S,
    keyring: &Keyring,
) -> Result<Prepared, KeyServiceError> {
    let mut changes = Vec::new();
    let mut done = Prepared::default();
    for cell in store.sealed_cells().await? {
        let place = place_of(&cell);
        match MasterKey::key_id_of(&cell.sealed) {
            None if cell.table == SealedTable::ServerKeys => {
                // Written by a server before keys were sealed: hex text of the key.
                let sealed = keyring.seal(&place, cell.sealed.as_bytes());
                done.sealed_legacy += 1;
                changes.push((cell, sealed));
            }
            Some(id) if id == keyring.current.id() => {
                keyring.open(&place, &cell.sealed)?;
            }
            _ => {
                // The previous key's (or an unknown key's, or garbage: `open` says which).
                let plain = keyring.open(&place, &cell.sealed)?;
                let sealed = keyring.seal(&place, &plain);
                done.rotated += 1;
                changes.push((cell, sealed));
            }
        }
    }
    if !changes.is_empty() {
        store.replace_sealed(&changes).await?;
    }
    Ok(done)
}

/// Makes a service guardian named `name` (its private key sealed) and stores it;
/// [`StoreError::Duplicate`] if the name (or, astronomically, the certificate) is taken.
pub(crate) async fn create_guardian<S: Store>(
    store: &S,
    keyring: &Keyring,
    name: &str,
    now: u64,
) -> Result<GuardianRow, KeyServiceError> {
    let key = GuardianKey::generate(
        name,
        now,
        now.saturating_add(GUARDIAN_VALIDITY)
            .min(hgs_kps::MAX_GUARDIAN_NOT_AFTER),
        &mut rand_core::OsRng,
    )
    .map_err(KeyServiceError::Guardian)?;
    let row = GuardianRow {
        name: name.to_owned(),
        fingerprint: key.guardian().fingerprint().to_string(),
        certificate_pem: key.certificate_pem(),
        sealed_key: keyring.seal(&guardian_place(name), &key.pkcs8_der()),
        created_at: now,
    };
    store.insert_guardian(&row).await?;
    Ok(row)
}

/// Creates the `default` guardian if the service has none (replicas starting together: one
/// wins, the others find it).
pub(crate) async fn ensure_default_guardian<S: Store>(
    store: &S,
    keyring: &Keyring,
    now: u64,
) -> Result<(), KeyServiceError> {
    if !store.guardians().await?.is_empty() {
        return Ok(());
    }
    match create_guardian(store, keyring, DEFAULT_GUARDIAN, now).await {
        Ok(_) | Err(KeyServiceError::Store(StoreError::Duplicate { .. })) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A stored guardian's key pair, opened.
pub(crate) fn open_guardian(
    keyring: &Keyring,
    row: &GuardianRow,
) -> Result<GuardianKey, KeyServiceError> {
    let der = keyring.open(&guardian_place(&row.name), &row.sealed_key)?;
    let cert = hgs_kps::Guardian::from_pem(&row.certificate_pem)
        .map_err(|e| KeyServiceError::Guardian(hgs_kps::GuardianKeyError::Certificate(e)))?;
    GuardianKey::from_parts(&der, cert.certificate_der()).map_err(KeyServiceError::Guardian)
}
