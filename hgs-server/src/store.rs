//! Storage behind one trait ([`Store`]), two engines: [`SqliteStore`] (embedded, the default) and
//! [`PostgresStore`] (several server replicas sharing one database).
//!
//! Registrations are the `hgs-policy` types as JSON text keyed by name (rare writes, frequent
//! reads: the server reads them once per request). Every write is one statement or one
//! transaction; SQL and migrations are the same for both engines (`migrations/{sqlite,postgres}`).
//!
//! A challenge is handed to exactly one attestation by `UPDATE challenges SET consumed_at = now
//! WHERE id = $1 AND consumed_at IS NULL RETURNING ...`: one statement, so under SQLite's single
//! writer and PostgreSQL's row lock (a concurrent second UPDATE re-reads the row, finds it consumed
//! and returns nothing) no challenge is accepted twice, whichever replica the replays reach.

use std::borrow::Cow;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hgs_attest::policy::TrustedCertificate;
use hgs_attest::policy::{
    CiPolicyRegistration, HgsPolicy, PolicySettings, PolicyState, TpmBaseline, TpmHost,
};
use hgs_attest::{Challenge, EkFingerprint};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

/// Everything registered, as the evaluation reads it.
///
/// Baselines, CI policies and settings are shared (`Arc`) from the store's cache: a store parses
/// them once per registry generation (a counter every write to them bumps in its own
/// transaction), not once per request.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Registered hosts, by name.
    pub hosts: Vec<TpmHost>,
    /// TPM baselines, by name.
    pub baselines: Arc<[TpmBaseline]>,
    /// CI policies, by name.
    pub ci_policies: Arc<[CiPolicyRegistration]>,
    /// `Hgs_*` states (defaults overlaid with what administrators set).
    pub settings: Arc<PolicySettings>,
}

/// Baselines, CI policies and settings as of one registry generation.
#[derive(Debug, Clone)]
struct Policies {
    generation: i64,
    baselines: Arc<[TpmBaseline]>,
    ci_policies: Arc<[CiPolicyRegistration]>,
    settings: Arc<PolicySettings>,
}

/// The last [`Policies`] a store read; shared by the store's clones.
type PolicyCache = Arc<std::sync::Mutex<Option<Policies>>>;

/// Tries at reading the policies while no write moves the generation, before giving up.
const POLICY_READ_ATTEMPTS: usize = 16;

/// Which hosts [`Store::registry`] reads (baselines, CI policies and settings are always read
/// whole; the installed TPM roots never: [`Store::trusted_certificates`] reads them, for host
/// registration only, so a TrustedTpm.cab's two thousand certificates cost an attestation nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts<'a> {
    /// No host: only baselines, CI policies and settings.
    None,
    /// Every host (listing, the status page).
    All,
    /// The host of this name (a challenge request).
    Named(&'a str),
    /// The hosts with this EK fingerprint: all an evaluation looks at, so an attestation costs
    /// the same in a fleet of ten or ten thousand.
    WithEk(&'a EkFingerprint),
    /// The hosts with this name or this EK fingerprint: all a registration's duplicate checks
    /// look at, so registering a fleet is not quadratic.
    NamedOrWithEk(&'a str, &'a EkFingerprint),
}

/// What consuming a challenge found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// Issued, unexpired, and now consumed by this call (no other call will get it).
    Fresh(Challenge),
    /// Issued and already consumed.
    Used,
    /// Issued, but expired before it was used (it is consumed now all the same).
    Expired {
        /// When it expired (UNIX seconds).
        expires_at: u64,
    },
    /// Never issued (or purged long after expiry).
    Unknown,
}

/// A host's last verdict, as the status page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerdictRecord {
    /// Host name.
    pub host: String,
    /// When (UNIX seconds).
    pub at: u64,
    /// `Passed`, `InsecureHostConfiguration`, ...
    pub status: String,
    /// Why: the verdict's failures, one per line (empty when Passed).
    pub reason: String,
    /// When the token issued with it expires, if one was.
    pub token_expires_at: Option<u64>,
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint: the name (or, for hosts, the EK) is already registered.
    #[error("a {kind} named {name} (or with the same identity) is already registered")]
    Duplicate {
        /// `host`, `baseline`, `CI policy`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A stored document does not deserialize (written by an incompatible version).
    #[error("stored {what} is unreadable: {source}")]
    Corrupt {
        /// What was read.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The registry generation row is missing (the database was edited by hand).
    #[error("the registry generation row is missing")]
    MissingGeneration,
    /// A thread panicked while holding the policy cache.
    #[error("the policy cache was poisoned by a panic")]
    CachePoisoned,
    /// Registrations kept changing while the policies were read (POLICY_READ_ATTEMPTS tries).
    #[error("registrations kept changing while they were read; try again")]
    Contended,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

/// The server's storage. Both engines implement it with the same SQL.
pub trait Store: Send + Sync + 'static {
    /// Everything registered, with only the `hosts` asked for.
    fn registry(
        &self,
        hosts: Hosts<'_>,
    ) -> impl Future<Output = Result<Registry, StoreError>> + Send;
    /// The installed TPM roots and intermediates (EK certificate checks at registration).
    fn trusted_certificates(
        &self,
    ) -> impl Future<Output = Result<Vec<TrustedCertificate>, StoreError>> + Send;
    /// One round trip to the database (`GET /health`).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Adds a host (already checked by `hgs_policy::register_host`); a name or EK taken
    /// meanwhile (another replica) is [`StoreError::Duplicate`].
    fn insert_host(&self, host: &TpmHost) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes a host and its last verdict, in one transaction; false if it was not registered.
    fn remove_host(&self, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds a baseline ([`StoreError::Duplicate`] if the name is taken).
    fn insert_baseline(
        &self,
        baseline: &TpmBaseline,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes a baseline; false if there was none.
    fn remove_baseline(&self, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds a CI policy ([`StoreError::Duplicate`] if the name is taken).
    fn insert_ci_policy(
        &self,
        policy: &CiPolicyRegistration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes a CI policy; false if there was none.
    fn remove_ci_policy(&self, name: &str)
        -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Installs a TPM root or intermediate under its DER's SHA-256 (`fingerprint`);
    /// [`StoreError::Duplicate`] if it is installed already.
    fn insert_certificate(
        &self,
        fingerprint: &str,
        certificate: &TrustedCertificate,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes an installed certificate; false if there was none.
    fn remove_certificate(
        &self,
        fingerprint: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Sets one policy's state (one upsert: concurrent changes to other policies are kept).
    fn set_policy_state(
        &self,
        policy: HgsPolicy,
        state: PolicyState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records an issued challenge under `id`, valid until `expires_at`.
    fn insert_challenge(
        &self,
        id: &str,
        challenge: &Challenge,
        expires_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Consumes a challenge atomically, exactly once across every replica (see the module docs).
    fn consume_challenge(
        &self,
        id: &str,
        now: u64,
    ) -> impl Future<Output = Result<Consumed, StoreError>> + Send;
    /// Deletes challenges that expired before `before`; returns how many.
    fn purge_challenges(&self, before: u64)
        -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Records a host's last verdict (replacing the previous one).
    fn record_verdict(
        &self,
        record: &VerdictRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every host's last verdict, by host name.
    fn verdicts(&self) -> impl Future<Output = Result<Vec<VerdictRecord>, StoreError>> + Send;
    /// The secret stored under `name`, storing `candidate` first if there is none (one
    /// insert-if-absent, so replicas starting together agree on one key).
    fn get_or_insert_secret(
        &self,
        name: &str,
        candidate: &str,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

/// The migrations of each engine (version, description, SQL), embedded in the binary.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "roots",
        include_str!("../migrations/sqlite/0002_roots.sql"),
    ),
    (
        3,
        "registry generation",
        include_str!("../migrations/sqlite/0003_registry_generation.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "roots",
        include_str!("../migrations/postgres/0002_roots.sql"),
    ),
    (
        3,
        "registry generation",
        include_str!("../migrations/postgres/0003_registry_generation.sql"),
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

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn json<T: serde::Serialize>(v: &T, what: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Corrupt { what, source })
}

fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|source| StoreError::Corrupt { what, source })
}

fn duplicate<'a>(kind: &'static str, name: &'a str) -> impl FnOnce(sqlx::Error) -> StoreError + 'a {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate {
            kind,
            name: name.to_owned(),
        },
        _ => StoreError::Database(e),
    }
}

fn policy_name(p: HgsPolicy) -> &'static str {
    p.name()
}

fn state_name(s: PolicyState) -> &'static str {
    match s {
        PolicyState::Enabled => "Enabled",
        PolicyState::Disabled => "Disabled",
        PolicyState::Locked => "Locked",
    }
}

fn state_from_name(s: &str) -> Option<PolicyState> {
    match s {
        "Enabled" => Some(PolicyState::Enabled),
        "Disabled" => Some(PolicyState::Disabled),
        "Locked" => Some(PolicyState::Locked),
        _ => None,
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
    pool: sqlx::SqlitePool,
    /// `synchronous=FULL`: registrations.
    durable: sqlx::SqlitePool,
    /// Consuming a challenge: `pool` (outstanding challenges are voided at open).
    consuming: sqlx::SqlitePool,
    cache: PolicyCache,
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
    pool: sqlx::PgPool,
    /// `synchronous_commit=on`: registrations.
    durable: sqlx::PgPool,
    /// Consuming a challenge: `durable`.
    consuming: sqlx::PgPool,
    cache: PolicyCache,
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

/// The registry generation and the hosts matching `$on`, in one statement (a consistent read).
macro_rules! hosts_on {
    ($on:literal) => {
        concat!(
            "SELECT g.generation, h.body FROM registry_generation g ",
            "LEFT JOIN hosts h ON ",
            $on,
            " ORDER BY h.name"
        )
    };
}

/// One implementation of [`Store`] for both engines: the SQL is the same (`$n` parameters,
/// `ON CONFLICT`, `RETURNING`, BIGINT and TEXT columns).
macro_rules! sql_store {
    ($engine:ty) => {
        impl $engine {
            /// Baselines, CI policies and settings, read while no write moved the generation
            /// (read before and after: equal means every read saw that generation's state).
            async fn read_policies(&self) -> Result<Policies, StoreError> {
                const GENERATION: &str = "SELECT generation FROM registry_generation";
                for _ in 0..POLICY_READ_ATTEMPTS {
                    let (before,): (i64,) =
                        sqlx::query_as(GENERATION).fetch_one(&self.pool).await?;
                    let baselines: Vec<(String,)> =
                        sqlx::query_as("SELECT body FROM baselines ORDER BY name")
                            .fetch_all(&self.pool)
                            .await?;
                    let ci: Vec<(String,)> =
                        sqlx::query_as("SELECT body FROM ci_policies ORDER BY name")
                            .fetch_all(&self.pool)
                            .await?;
                    let states: Vec<(String, String)> =
                        sqlx::query_as("SELECT policy, state FROM policy_states")
                            .fetch_all(&self.pool)
                            .await?;
                    let (after,): (i64,) = sqlx::query_as(GENERATION).fetch_one(&self.pool).await?;
                    if before != after {
                        continue;
                    }
                    let mut settings = PolicySettings::default();
                    for (p, s) in states {
                        if let (Some(p), Some(s)) = (HgsPolicy::from_name(&p), state_from_name(&s))
                        {
                            settings.states.insert(p, s);
                        }
                    }
                    return Ok(Policies {
                        generation: before,
                        baselines: baselines
                            .iter()
                            .map(|(b,)| parse(b, "baseline"))
                            .collect::<Result<_, _>>()?,
                        ci_policies: ci
                            .iter()
                            .map(|(b,)| parse(b, "CI policy"))
                            .collect::<Result<_, _>>()?,
                        settings: Arc::new(settings),
                    });
                }
                Err(StoreError::Contended)
            }
        }

        impl Store for $engine {
            async fn registry(&self, which: Hosts<'_>) -> Result<Registry, StoreError> {
                // One statement: the generation and the hosts asked for (a consistent read).
                let rows: Vec<(i64, Option<String>)> = match which {
                    Hosts::None => {
                        sqlx::query_as(hosts_on!("1 = 0"))
                            .fetch_all(&self.pool)
                            .await?
                    }
                    Hosts::All => {
                        sqlx::query_as(hosts_on!("1 = 1"))
                            .fetch_all(&self.pool)
                            .await?
                    }
                    Hosts::Named(name) => {
                        sqlx::query_as(hosts_on!("h.name = $1"))
                            .bind(name)
                            .fetch_all(&self.pool)
                            .await?
                    }
                    Hosts::WithEk(fingerprint) => {
                        sqlx::query_as(hosts_on!("h.ek_fingerprint = $1"))
                            .bind(fingerprint.to_string())
                            .fetch_all(&self.pool)
                            .await?
                    }
                    Hosts::NamedOrWithEk(name, fingerprint) => {
                        sqlx::query_as(hosts_on!("h.name = $1 OR h.ek_fingerprint = $2"))
                            .bind(name)
                            .bind(fingerprint.to_string())
                            .fetch_all(&self.pool)
                            .await?
                    }
                };
                let generation = rows
                    .first()
                    .map(|(g, _)| *g)
                    .ok_or(StoreError::MissingGeneration)?;
                let hosts = rows
                    .iter()
                    .filter_map(|(_, b)| b.as_deref())
                    .map(|b| parse(b, "host"))
                    .collect::<Result<_, _>>()?;
                let cached = self
                    .cache
                    .lock()
                    .map_err(|_| StoreError::CachePoisoned)?
                    .clone()
                    .filter(|p| p.generation >= generation);
                let policies = match cached {
                    Some(p) => p,
                    None => {
                        let p = self.read_policies().await?;
                        let mut cache = self.cache.lock().map_err(|_| StoreError::CachePoisoned)?;
                        if cache.as_ref().is_none_or(|c| c.generation < p.generation) {
                            *cache = Some(p.clone());
                        }
                        p
                    }
                };
                Ok(Registry {
                    hosts,
                    baselines: policies.baselines,
                    ci_policies: policies.ci_policies,
                    settings: policies.settings,
                })
            }

            async fn trusted_certificates(&self) -> Result<Vec<TrustedCertificate>, StoreError> {
                let certs: Vec<(String,)> =
                    sqlx::query_as("SELECT body FROM trusted_certificates ORDER BY fingerprint")
                        .fetch_all(&self.pool)
                        .await?;
                certs
                    .iter()
                    .map(|(b,)| parse(b, "trusted certificate"))
                    .collect()
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_host(&self, host: &TpmHost) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO hosts (name, ek_fingerprint, body) VALUES ($1, $2, $3)")
                    .bind(&host.name)
                    .bind(host.ek_fingerprint.to_string())
                    .bind(json(host, "host")?)
                    .execute(&self.durable)
                    .await
                    .map_err(duplicate("host", &host.name))?;
                Ok(())
            }

            async fn remove_host(&self, name: &str) -> Result<bool, StoreError> {
                let mut tx = self.durable.begin().await?;
                let removed = sqlx::query("DELETE FROM hosts WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM verdicts WHERE host = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(removed > 0)
            }

            async fn insert_baseline(&self, baseline: &TpmBaseline) -> Result<(), StoreError> {
                let mut tx = self.durable.begin().await?;
                sqlx::query("INSERT INTO baselines (name, body) VALUES ($1, $2)")
                    .bind(&baseline.name)
                    .bind(json(baseline, "baseline")?)
                    .execute(&mut *tx)
                    .await
                    .map_err(duplicate("baseline", &baseline.name))?;
                sqlx::query("UPDATE registry_generation SET generation = generation + 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn remove_baseline(&self, name: &str) -> Result<bool, StoreError> {
                let mut tx = self.durable.begin().await?;
                let removed = sqlx::query("DELETE FROM baselines WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE registry_generation SET generation = generation + 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(removed > 0)
            }

            async fn insert_ci_policy(
                &self,
                policy: &CiPolicyRegistration,
            ) -> Result<(), StoreError> {
                let mut tx = self.durable.begin().await?;
                sqlx::query("INSERT INTO ci_policies (name, body) VALUES ($1, $2)")
                    .bind(&policy.name)
                    .bind(json(policy, "CI policy")?)
                    .execute(&mut *tx)
                    .await
                    .map_err(duplicate("CI policy", &policy.name))?;
                sqlx::query("UPDATE registry_generation SET generation = generation + 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn remove_ci_policy(&self, name: &str) -> Result<bool, StoreError> {
                let mut tx = self.durable.begin().await?;
                let removed = sqlx::query("DELETE FROM ci_policies WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE registry_generation SET generation = generation + 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(removed > 0)
            }

            async fn insert_certificate(
                &self,
                fingerprint: &str,
                certificate: &TrustedCertificate,
            ) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO trusted_certificates (fingerprint, body) VALUES ($1, $2)")
                    .bind(fingerprint)
                    .bind(json(certificate, "trusted certificate")?)
                    .execute(&self.durable)
                    .await
                    .map_err(duplicate("trusted certificate", fingerprint))?;
                Ok(())
            }

            async fn remove_certificate(&self, fingerprint: &str) -> Result<bool, StoreError> {
                Ok(
                    sqlx::query("DELETE FROM trusted_certificates WHERE fingerprint = $1")
                        .bind(fingerprint)
                        .execute(&self.durable)
                        .await?
                        .rows_affected()
                        > 0,
                )
            }

            async fn set_policy_state(
                &self,
                policy: HgsPolicy,
                state: PolicyState,
            ) -> Result<(), StoreError> {
                let mut tx = self.durable.begin().await?;
                sqlx::query(
                    "INSERT INTO policy_states (policy, state) VALUES ($1, $2) \
                     ON CONFLICT (policy) DO UPDATE SET state = excluded.state",
                )
                .bind(policy_name(policy))
                .bind(state_name(state))
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE registry_generation SET generation = generation + 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn insert_challenge(
                &self,
                id: &str,
                challenge: &Challenge,
                expires_at: u64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO challenges (id, host, body, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(&challenge.host)
                .bind(json(challenge, "challenge")?)
                .bind(to_i64(expires_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn consume_challenge(&self, id: &str, now: u64) -> Result<Consumed, StoreError> {
                let row: Option<(String, i64)> = sqlx::query_as(
                    "UPDATE challenges SET consumed_at = $2 \
                     WHERE id = $1 AND consumed_at IS NULL RETURNING body, expires_at",
                )
                .bind(id)
                .bind(to_i64(now))
                .fetch_optional(&self.consuming)
                .await?;
                match row {
                    Some((body, expires_at)) => {
                        let expires_at = to_u64(expires_at);
                        if now >= expires_at {
                            Ok(Consumed::Expired { expires_at })
                        } else {
                            Ok(Consumed::Fresh(parse(&body, "challenge")?))
                        }
                    }
                    None => {
                        let seen: Option<(i64,)> =
                            sqlx::query_as("SELECT expires_at FROM challenges WHERE id = $1")
                                .bind(id)
                                .fetch_optional(&self.pool)
                                .await?;
                        Ok(if seen.is_some() {
                            Consumed::Used
                        } else {
                            Consumed::Unknown
                        })
                    }
                }
            }

            async fn purge_challenges(&self, before: u64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM challenges WHERE expires_at < $1")
                    .bind(to_i64(before))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn record_verdict(&self, r: &VerdictRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO verdicts (host, at, status, reason, token_expires_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host) DO UPDATE SET \
                     at = excluded.at, status = excluded.status, reason = excluded.reason, \
                     token_expires_at = excluded.token_expires_at",
                )
                .bind(&r.host)
                .bind(to_i64(r.at))
                .bind(&r.status)
                .bind(&r.reason)
                .bind(r.token_expires_at.map(to_i64))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn verdicts(&self) -> Result<Vec<VerdictRecord>, StoreError> {
                let rows: Vec<(String, i64, String, String, Option<i64>)> = sqlx::query_as(
                    "SELECT host, at, status, reason, token_expires_at FROM verdicts ORDER BY host",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(host, at, status, reason, exp)| VerdictRecord {
                        host,
                        at: to_u64(at),
                        status,
                        reason,
                        token_expires_at: exp.map(to_u64),
                    })
                    .collect())
            }

            async fn get_or_insert_secret(
                &self,
                name: &str,
                candidate: &str,
            ) -> Result<String, StoreError> {
                sqlx::query(
                    "INSERT INTO server_keys (name, secret) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(candidate)
                .execute(&self.durable)
                .await?;
                let (secret,): (String,) =
                    sqlx::query_as("SELECT secret FROM server_keys WHERE name = $1")
                        .bind(name)
                        .fetch_one(&self.durable)
                        .await?;
                Ok(secret)
            }
        }
    };
}

sql_store!(SqliteStore);
sql_store!(PostgresStore);
