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
use std::time::Duration;

use hgs_attest::policy::store::TrustedCertificate;
use hgs_attest::policy::{
    CiPolicyRegistration, HgsPolicy, PolicySettings, PolicyState, TpmBaseline, TpmHost,
};
use hgs_attest::Challenge;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

/// Everything registered, as the evaluation reads it.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Registered hosts, by name.
    pub hosts: Vec<TpmHost>,
    /// TPM baselines, by name.
    pub baselines: Vec<TpmBaseline>,
    /// CI policies, by name.
    pub ci_policies: Vec<CiPolicyRegistration>,
    /// `Hgs_*` states (defaults overlaid with what administrators set).
    pub settings: PolicySettings,
}

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
    WithEk(&'a str),
    /// The hosts with this name or this EK fingerprint: all a registration's duplicate checks
    /// look at, so registering a fleet is not quadratic.
    NamedOrWithEk(&'a str, &'a str),
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
    /// Adds a host (already checked by `hgs_policy::host::register_host`); a name or EK taken
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

/// The SQLite engine: one file, WAL journal, `synchronous=FULL` (every acknowledged commit is on
/// disk before the response is sent, so kill -9 loses nothing acknowledged).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
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
        let pool = if memory {
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            sqlx::sqlite::SqlitePoolOptions::new().max_connections(8)
        }
        .connect_with(options)
        .await?;
        migrator(SQLITE_MIGRATIONS).run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

/// The PostgreSQL engine, for several replicas on one database (migrations take PostgreSQL's
/// advisory lock, so replicas starting together migrate once).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
}

impl PostgresStore {
    /// Connects to and migrates `url` (`postgres://...`), with at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<PostgresStore, StoreError> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        migrator(POSTGRES_MIGRATIONS).run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

/// One implementation of [`Store`] for both engines: the SQL is the same (`$n` parameters,
/// `ON CONFLICT`, `RETURNING`, BIGINT and TEXT columns).
macro_rules! sql_store {
    ($engine:ty) => {
        impl Store for $engine {
            async fn registry(&self, which: Hosts<'_>) -> Result<Registry, StoreError> {
                let mut tx = self.pool.begin().await?;
                let hosts: Vec<(String,)> = match which {
                    Hosts::None => Vec::new(),
                    Hosts::All => {
                        sqlx::query_as("SELECT body FROM hosts ORDER BY name")
                            .fetch_all(&mut *tx)
                            .await?
                    }
                    Hosts::Named(name) => {
                        sqlx::query_as("SELECT body FROM hosts WHERE name = $1")
                            .bind(name)
                            .fetch_all(&mut *tx)
                            .await?
                    }
                    Hosts::WithEk(fingerprint) => {
                        sqlx::query_as("SELECT body FROM hosts WHERE ek_fingerprint = $1")
                            .bind(fingerprint)
                            .fetch_all(&mut *tx)
                            .await?
                    }
                    Hosts::NamedOrWithEk(name, fingerprint) => {
                        sqlx::query_as(
                            "SELECT body FROM hosts WHERE name = $1 OR ek_fingerprint = $2 \
                             ORDER BY name",
                        )
                        .bind(name)
                        .bind(fingerprint)
                        .fetch_all(&mut *tx)
                        .await?
                    }
                };
                let baselines: Vec<(String,)> =
                    sqlx::query_as("SELECT body FROM baselines ORDER BY name")
                        .fetch_all(&mut *tx)
                        .await?;
                let ci: Vec<(String,)> =
                    sqlx::query_as("SELECT body FROM ci_policies ORDER BY name")
                        .fetch_all(&mut *tx)
                        .await?;
                let states: Vec<(String, String)> =
                    sqlx::query_as("SELECT policy, state FROM policy_states")
                        .fetch_all(&mut *tx)
                        .await?;
                tx.commit().await?;
                let mut settings = PolicySettings::default();
                for (p, s) in states {
                    if let (Some(p), Some(s)) = (HgsPolicy::from_name(&p), state_from_name(&s)) {
                        settings.states.insert(p, s);
                    }
                }
                Ok(Registry {
                    hosts: hosts
                        .iter()
                        .map(|(b,)| parse(b, "host"))
                        .collect::<Result<_, _>>()?,
                    baselines: baselines
                        .iter()
                        .map(|(b,)| parse(b, "baseline"))
                        .collect::<Result<_, _>>()?,
                    ci_policies: ci
                        .iter()
                        .map(|(b,)| parse(b, "CI policy"))
                        .collect::<Result<_, _>>()?,
                    settings,
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
                    .bind(&host.ek_fingerprint)
                    .bind(json(host, "host")?)
                    .execute(&self.pool)
                    .await
                    .map_err(duplicate("host", &host.name))?;
                Ok(())
            }

            async fn remove_host(&self, name: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
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
                sqlx::query("INSERT INTO baselines (name, body) VALUES ($1, $2)")
                    .bind(&baseline.name)
                    .bind(json(baseline, "baseline")?)
                    .execute(&self.pool)
                    .await
                    .map_err(duplicate("baseline", &baseline.name))?;
                Ok(())
            }

            async fn remove_baseline(&self, name: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("DELETE FROM baselines WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    > 0)
            }

            async fn insert_ci_policy(
                &self,
                policy: &CiPolicyRegistration,
            ) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO ci_policies (name, body) VALUES ($1, $2)")
                    .bind(&policy.name)
                    .bind(json(policy, "CI policy")?)
                    .execute(&self.pool)
                    .await
                    .map_err(duplicate("CI policy", &policy.name))?;
                Ok(())
            }

            async fn remove_ci_policy(&self, name: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("DELETE FROM ci_policies WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    > 0)
            }

            async fn insert_certificate(
                &self,
                fingerprint: &str,
                certificate: &TrustedCertificate,
            ) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO trusted_certificates (fingerprint, body) VALUES ($1, $2)")
                    .bind(fingerprint)
                    .bind(json(certificate, "trusted certificate")?)
                    .execute(&self.pool)
                    .await
                    .map_err(duplicate("trusted certificate", fingerprint))?;
                Ok(())
            }

            async fn remove_certificate(&self, fingerprint: &str) -> Result<bool, StoreError> {
                Ok(
                    sqlx::query("DELETE FROM trusted_certificates WHERE fingerprint = $1")
                        .bind(fingerprint)
                        .execute(&self.pool)
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
                sqlx::query(
                    "INSERT INTO policy_states (policy, state) VALUES ($1, $2) \
                     ON CONFLICT (policy) DO UPDATE SET state = excluded.state",
                )
                .bind(policy_name(policy))
                .bind(state_name(state))
                .execute(&self.pool)
                .await?;
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
                .fetch_optional(&self.pool)
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
                .execute(&self.pool)
                .await?;
                let (secret,): (String,) =
                    sqlx::query_as("SELECT secret FROM server_keys WHERE name = $1")
                        .bind(name)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(secret)
            }
        }
    };
}

sql_store!(SqliteStore);
sql_store!(PostgresStore);
