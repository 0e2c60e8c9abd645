//! The key protection service's storage ([`KeyStore`], a part of every [`Store`](super::Store)):
//! secrets and guardian keys (sealed under the master key before they reach it: this trait
//! never sees a plaintext), settings, the audit log, and the sealed cells a master-key rotation
//! re-seals in one transaction. The same SQL for both engines (`migrations/*/0005_*.sql`).

use std::future::Future;

use super::engines::{PostgresStore, SqliteStore};
use super::{duplicate, to_i64, to_u64, StoreError};

/// A stored secret (its value sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    /// Its name (`hgs_policy::Name`).
    pub name: String,
    /// 1 when created, +1 each time it is replaced.
    pub version: u64,
    /// The release policy, `hgs_kps::ReleasePolicy` as JSON (bound into the seal).
    pub policy: String,
    /// Length of the value in bytes.
    pub value_len: u64,
    /// The value, sealed (`hgs-sealed/1...`).
    pub sealed: String,
    /// When it was created (UNIX seconds).
    pub created_at: u64,
    /// When it was last replaced.
    pub updated_at: u64,
}

/// A service guardian: its certificate and its private key (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianRow {
    /// Its name.
    pub name: String,
    /// SHA-256 of the certificate's DER, hex.
    pub fingerprint: String,
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The PKCS#8 private key, sealed.
    pub sealed_key: String,
    /// When it was made.
    pub created_at: u64,
}

/// One audited release or refusal. Holds no secret and no token (the token's id is a hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// When (UNIX seconds).
    pub at: u64,
    /// The host, when the token named one.
    pub host: Option<String>,
    /// `secret` or `key_protector`.
    pub kind: String,
    /// The secret's name or the key protector's id (hex).
    pub object: String,
    /// The token's id: the first 16 bytes of its SHA-256, hex.
    pub token_id: String,
    /// `released` or `refused`.
    pub outcome: String,
    /// Why (a refusal's kind, `invalid_token`, `not_found`, ...; `released` on a release).
    pub reason: String,
}

/// A table holding sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    /// `kps_secrets.sealed`.
    Secrets,
    /// `kps_guardians.sealed_key`.
    Guardians,
    /// `server_keys.secret` (the token signing key).
    ServerKeys,
}

/// One sealed value and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCell {
    /// The table.
    pub table: SealedTable,
    /// The row's name.
    pub name: String,
    /// What else the seal binds (a secret's policy JSON; empty otherwise).
    pub context: String,
    /// The stored text (sealed, or a legacy plaintext token key).
    pub sealed: String,
}

/// Storage of the key protection service (see the module docs).
pub trait KeyStore: Send + Sync + 'static {
    /// Stores a secret, replacing one of the same name in the same statement (its version
    /// +1, its creation time kept). Returns the version now stored.
    fn put_secret(
        &self,
        name: &str,
        policy: &str,
        value_len: u64,
        sealed: &str,
        now: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The secret of this name.
    fn secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretRow>, StoreError>> + Send;
    /// Every secret, by name.
    fn secrets(&self) -> impl Future<Output = Result<Vec<SecretRow>, StoreError>> + Send;
    /// Deletes a secret; false if there was none.
    fn delete_secret(&self, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds a guardian ([`StoreError::Duplicate`] if the name or certificate is taken).
    fn insert_guardian(
        &self,
        row: &GuardianRow,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every guardian, by name.
    fn guardians(&self) -> impl Future<Output = Result<Vec<GuardianRow>, StoreError>> + Send;
    /// A key service setting.
    fn kps_setting(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Sets (or with `None` clears) a key service setting.
    fn set_kps_setting(
        &self,
        name: &str,
        value: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Appends an audit record.
    fn record_audit(
        &self,
        record: &AuditRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The newest `limit` audit records, newest first.
    fn audit(
        &self,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;
    /// Deletes audit records older than `before` and all but the newest `keep`; returns how
    /// many.
    fn purge_audit(
        &self,
        before: u64,
        keep: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Audit records since `since`, counted by (outcome, reason).
    fn audit_counts(
        &self,
        since: u64,
    ) -> impl Future<Output = Result<Vec<(String, String, u64)>, StoreError>> + Send;
    /// Every sealed value (secrets, guardian keys, server keys).
    fn sealed_cells(&self) -> impl Future<Output = Result<Vec<SealedCell>, StoreError>> + Send;
    /// Replaces sealed values in one transaction, each only if it still holds what was read
    /// (`cell.sealed`); returns how many were replaced. All or none are written.
    fn replace_sealed(
        &self,
        changes: &[(SealedCell, String)],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

type SecretTuple = (String, i64, String, i64, String, i64, i64);

fn secret_row(t: SecretTuple) -> SecretRow {
    SecretRow {
        name: t.0,
        version: to_u64(t.1),
        policy: t.2,
        value_len: to_u64(t.3),
        sealed: t.4,
        created_at: to_u64(t.5),
        updated_at: to_u64(t.6),
    }
}

type AuditTuple = (i64, Option<String>, String, String, String, String, String);

fn audit_row(t: AuditTuple) -> AuditRecord {
    AuditRecord {
        at: to_u64(t.0),
        host: t.1,
        kind: t.2,
        object: t.3,
        token_id: t.4,
        outcome: t.5,
        reason: t.6,
    }
}

const SECRET_COLUMNS: &str =
    "SELECT name, version, policy, value_len, sealed, created_at, updated_at FROM kps_secrets";

macro_rules! key_store {
    ($engine:ty) => {
        impl KeyStore for $engine {
            async fn put_secret(
                &self,
                name: &str,
                policy: &str,
                value_len: u64,
                sealed: &str,
                now: u64,
            ) -> Result<u64, StoreError> {
                let (version,): (i64,) = sqlx::query_as(
                    "INSERT INTO kps_secrets \
                     (name, version, policy, value_len, sealed, created_at, updated_at) \
                     VALUES ($1, 1, $2, $3, $4, $5, $5) \
                     ON CONFLICT (name) DO UPDATE SET version = kps_secrets.version + 1, \
                     policy = excluded.policy, value_len = excluded.value_len, \
                     sealed = excluded.sealed, updated_at = excluded.updated_at \
                     RETURNING version",
                )
                .bind(name)
                .bind(policy)
                .bind(to_i64(value_len))
                .bind(sealed)
                .bind(to_i64(now))
                .fetch_one(&self.durable)
                .await?;
                Ok(to_u64(version))
            }

            async fn secret(&self, name: &str) -> Result<Option<SecretRow>, StoreError> {
                let row: Option<SecretTuple> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SECRET_COLUMNS} WHERE name = $1")))
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(secret_row))
            }

            async fn secrets(&self) -> Result<Vec<SecretRow>, StoreError> {
                let rows: Vec<SecretTuple> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SECRET_COLUMNS} ORDER BY name")))
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(secret_row).collect())
            }

            async fn delete_secret(&self, name: &str) -> Result<bool, StoreError> {
                let r = sqlx::query("DELETE FROM kps_secrets WHERE name = $1")
                    .bind(name)
                    .execute(&self.durable)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn insert_guardian(&self, row: &GuardianRow) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO kps_guardians \
                     (name, fingerprint, certificate, sealed_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&row.name)
                .bind(&row.fingerprint)
                .bind(&row.certificate_pem)
                .bind(&row.sealed_key)
                .bind(to_i64(row.created_at))
                .execute(&self.durable)
                .await
                .map_err(duplicate("guardian", &row.name))?;
                Ok(())
            }

            async fn guardians(&self) -> Result<Vec<GuardianRow>, StoreError> {
                let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT name, fingerprint, certificate, sealed_key, created_at \
                     FROM kps_guardians ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| GuardianRow {
                        name: r.0,
                        fingerprint: r.1,
                        certificate_pem: r.2,
                        sealed_key: r.3,
                        created_at: to_u64(r.4),
                    })
                    .collect())
            }

            async fn kps_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT value FROM kps_settings WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|r| r.0))
            }

            async fn set_kps_setting(
                &self,
                name: &str,
                value: Option<&str>,
            ) -> Result<(), StoreError> {
                match value {
                    Some(v) => {
                        sqlx::query(
                            "INSERT INTO kps_settings (name, value) VALUES ($1, $2) \
                             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        )
                        .bind(name)
                        .bind(v)
                        .execute(&self.durable)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM kps_settings WHERE name = $1")
                            .bind(name)
                            .execute(&self.durable)
                            .await?;
                    }
                }
                Ok(())
            }

            async fn record_audit(&self, r: &AuditRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO kps_audit (at, host, kind, object, token_id, outcome, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(to_i64(r.at))
                .bind(r.host.as_deref())
                .bind(&r.kind)
                .bind(&r.object)
                .bind(&r.token_id)
                .bind(&r.outcome)
                .bind(&r.reason)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn audit(&self, limit: u64) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<AuditTuple> = sqlx::query_as(
                    "SELECT at, host, kind, object, token_id, outcome, reason FROM kps_audit \
                     ORDER BY id DESC LIMIT $1",
                )
                .bind(to_i64(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(audit_row).collect())
            }

            async fn purge_audit(&self, before: u64, keep: u64) -> Result<u64, StoreError> {
                let r = sqlx::query(
                    "DELETE FROM kps_audit WHERE at < $1 \
                     OR id <= (SELECT COALESCE(MAX(id), 0) FROM kps_audit) - $2",
                )
                .bind(to_i64(before))
                .bind(to_i64(keep))
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected())
            }

            async fn audit_counts(&self, since: u64) -> Result<Vec<(String, String, u64)>, StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT outcome, reason, COUNT(*) FROM kps_audit WHERE at >= $1 \
                     GROUP BY outcome, reason ORDER BY outcome, reason",
                )
                .bind(to_i64(since))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(o, r, n)| (o, r, to_u64(n))).collect())
            }

            async fn sealed_cells(&self) -> Result<Vec<SealedCell>, StoreError> {
                let mut cells = Vec::new();
                let secrets: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT name, policy, sealed FROM kps_secrets ORDER BY name")
                        .fetch_all(&self.durable)
                        .await?;
                cells.extend(secrets.into_iter().map(|(name, context, sealed)| SealedCell {
                    table: SealedTable::Secrets,
                    name,
                    context,
                    sealed,
                }));
                let guardians: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, sealed_key FROM kps_guardians ORDER BY name")
                        .fetch_all(&self.durable)
                        .await?;
                cells.extend(guardians.into_iter().map(|(name, sealed)| SealedCell {
                    table: SealedTable::Guardians,
                    name,
                    context: String::new(),
                    sealed,
                }));
                let keys: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, secret FROM server_keys ORDER BY name")
                        .fetch_all(&self.durable)
                        .await?;
                cells.extend(keys.into_iter().map(|(name, sealed)| SealedCell {
                    table: SealedTable::ServerKeys,
                    name,
                    context: String::new(),
                    sealed,
                }));
                Ok(cells)
            }

            async fn replace_sealed(
                &self,
                changes: &[(SealedCell, String)],
            ) -> Result<u64, StoreError> {
                let mut tx = self.durable.begin().await?;
                let mut n = 0;
                for (cell, new) in changes {
                    let sql = match cell.table {
                        SealedTable::Secrets => {
                            "UPDATE kps_secrets SET sealed = $1 WHERE name = $2 AND sealed = $3"
                        }
                        SealedTable::Guardians => {
                            "UPDATE kps_guardians SET sealed_key = $1 WHERE name = $2 AND sealed_key = $3"
                        }
                        SealedTable::ServerKeys => {
                            "UPDATE server_keys SET secret = $1 WHERE name = $2 AND secret = $3"
                        }
                    };
                    n += sqlx::query(sql)
                        .bind(new)
                        .bind(&cell.name)
                        .bind(&cell.sealed)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(n)
            }
        }
    };
}

key_store!(SqliteStore);
key_store!(PostgresStore);
