//! Opening each engine: connection pools, durability settings, embedded migrations.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

use super::{PolicyCache, StoreError};

/// The migrations of each engine (version, description, SQL), embedded in the binary.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "roots",
        include_str!("../../migrations/sqlite/0002_roots.sql"),
    ),
    (
        3,
        "registry generation",
        include_str!("../../migrations/sqlite/0003_registry_generation.sql"),
    ),
    (
        4,
        "challenges per host",
        include_str!("../../migrations/sqlite/0004_challenges_per_host.sql"),
    ),
    (
        5,
        "key protection",
        include_str!("../../migrations/sqlite/0005_key_protection.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "roots",
        include_str!("../../migrations/postgres/0002_roots.sql"),
    ),
    (
        3,
        "registry generation",
        include_str!("../../migrations/postgres/0003_registry_generation.sql"),
    ),
    (
        4,
        "challenges per host",
        include_str!("../../migrations/postgres/0004_challenges_per_host.sql"),
    ),
    (
        5,
        "key protection",
        include_str!("../../migrations/postgres/0005_key_protection.sql"),
    ),
];

fn migrator(migrations: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            migrations
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

/// The SQLite engine: one file, WAL journal.
///
/// - Registrations, roots, `Hgs_*` states and the token key are committed with
///   `synchronous=FULL`: on disk before the response, through power loss.
/// - The attestation path (challenges issued and consumed, last verdicts) commits with
///   `synchronous=NORMAL`: in the WAL before the response, so kill -9 of the server loses
///   nothing acknowledged, but an OS crash or power loss may lose the last of them (an fsync per
///   commit, three per attestation, capped SQLite near 780 attestations/s; without them it
///   serves 1,350/s on the same 2 cores). What such a loss could undo is made harmless: opening
///   the store voids every challenge still outstanding, so a consumption that did not reach the
///   disk cannot be replayed, and a lost issuance or verdict is only a host attesting again.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// `synchronous=NORMAL`: the attestation path.
    pub(super) pool: sqlx::SqlitePool,
    /// `synchronous=FULL`: registrations.
    pub(super) durable: sqlx::SqlitePool,
    /// Consuming a challenge: `pool` (outstanding challenges are voided at open).
    pub(super) consuming: sqlx::SqlitePool,
    pub(super) cache: PolicyCache,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates `url` (`sqlite:PATH`, or `sqlite::memory:` for a
    /// database that lives as long as the store).
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // Every connection to `:memory:` is its own database: keep exactly one, forever.
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if memory {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            migrator(SQLITE_MIGRATIONS).run(&pool).await?;
            return Ok(SqliteStore {
                durable: pool.clone(),
                consuming: pool.clone(),
                pool,
                cache: PolicyCache::default(),
            });
        }
        let durable = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await?;
        migrator(SQLITE_MIGRATIONS).run(&durable).await?;
        // Challenges outstanding at open are void (see the type's documentation).
        sqlx::query("UPDATE challenges SET consumed_at = expires_at WHERE consumed_at IS NULL")
            .execute(&durable)
            .await?;
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await?;
        Ok(SqliteStore {
            consuming: pool.clone(),
            pool,
            durable,
            cache: PolicyCache::default(),
        })
    }
}

/// The PostgreSQL engine, for several replicas on one database (migrations take PostgreSQL's
/// advisory lock, so replicas starting together migrate once).
///
/// - Registrations, roots, `Hgs_*` states, the token key and **challenge consumption** commit
///   with `synchronous_commit=on`: on disk before the response, so no crash of the database can
///   undo a consumption and let a challenge be accepted twice.
/// - Issuing a challenge and recording a last verdict commit with `synchronous_commit=off`
///   (PostgreSQL flushes them within a few hundred milliseconds; a database crash may lose the
///   last of them, never out of order): a lost issuance only makes the host attest again, a lost
///   verdict only leaves the status page one attestation behind. Three WAL flushes per
///   attestation become one. A crash of a server replica (kill -9) loses nothing acknowledged.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    /// `synchronous_commit=off`: issuing challenges, recording verdicts, reads.
    pub(super) pool: sqlx::PgPool,
    /// `synchronous_commit=on`: registrations.
    pub(super) durable: sqlx::PgPool,
    /// Consuming a challenge: `durable`.
    pub(super) consuming: sqlx::PgPool,
    pub(super) cache: PolicyCache,
}

impl PostgresStore {
    /// Connects to and migrates `url` (`postgres://...`), with at most `max_connections` for the
    /// attestation path and half as many (at least 2) for durable writes.
    pub async fn connect(url: &str, max_connections: u32) -> Result<PostgresStore, StoreError> {
        use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
        let options = PgConnectOptions::from_str(url)?;
        let durable = PgPoolOptions::new()
            .max_connections((max_connections / 2).max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().options([("synchronous_commit", "on")]))
            .await?;
        migrator(POSTGRES_MIGRATIONS).run(&durable).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.options([("synchronous_commit", "off")]))
            .await?;
        Ok(PostgresStore {
            consuming: durable.clone(),
            pool,
            durable,
            cache: PolicyCache::default(),
        })
    }
}
