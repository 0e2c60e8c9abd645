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

//!
//! Files: this one (the trait and its types), `engines.rs` (opening each engine, migrations),
//! `sql.rs` (the one SQL implementation of the trait both engines share), `keys.rs` (the key
//! protection service's part, [`KeyStore`], a supertrait of [`Store`]).

mod engines;
mod keys;
mod sql;

use std::future::Future;
use std::sync::Arc;

use hgs_attest::policy::TrustedCertificate;
use hgs_attest::policy::{
    CiPolicyRegistration, HgsPolicy, Name, PolicySettings, PolicyState, TpmBaseline, TpmHost,
};
use hgs_attest::{Challenge, EkFingerprint};

pub use engines::{PostgresStore, SqliteStore};
pub use keys::{AuditRecord, GuardianRow, KeyStore, SealedCell, SealedTable, SecretRow};

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

/// Challenges kept per host: issuing one more voids the host's oldest, so a flood of challenge
/// requests for one host holds at most this many rows for it (plus those being inserted
/// concurrently at that instant). A host answers one at a time; eight leave room for retries and
/// for a host whose agent restarted mid-attestation.
pub const MAX_CHALLENGES_PER_HOST: u64 = 8;

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
    Named(&'a Name),
    /// The hosts with this EK fingerprint: all an evaluation looks at, so an attestation costs
    /// the same in a fleet of ten or ten thousand.
    WithEk(&'a EkFingerprint),
    /// The hosts with this name or this EK fingerprint: all a registration's duplicate checks
    /// look at, so registering a fleet is not quadratic.
    NamedOrWithEk(&'a Name, &'a EkFingerprint),
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
pub trait Store: KeyStore + Send + Sync + 'static {
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
    fn remove_host(&self, name: &Name) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds a baseline ([`StoreError::Duplicate`] if the name is taken).
    fn insert_baseline(
        &self,
        baseline: &TpmBaseline,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes a baseline; false if there was none.
    fn remove_baseline(&self, name: &Name)
        -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds a CI policy ([`StoreError::Duplicate`] if the name is taken).
    fn insert_ci_policy(
        &self,
        policy: &CiPolicyRegistration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes a CI policy; false if there was none.
    fn remove_ci_policy(
        &self,
        name: &Name,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
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
    /// Sets one policy's state in one statement (concurrent changes to other policies are kept;
    /// a policy stored as locked stays locked) and returns the state now stored.
    fn set_policy_state(
        &self,
        policy: HgsPolicy,
        state: PolicyState,
    ) -> impl Future<Output = Result<PolicyState, StoreError>> + Send;
    /// Records an issued challenge under `id`, valid until `expires_at`, and voids the host's
    /// oldest beyond [`MAX_CHALLENGES_PER_HOST`]; returns how many it voided.
    fn insert_challenge(
        &self,
        id: &str,
        challenge: &Challenge,
        expires_at: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
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

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn json<T: serde::Serialize>(v: &T, what: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Corrupt { what, source })
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|source| StoreError::Corrupt { what, source })
}

pub(crate) fn duplicate<'a>(
    kind: &'static str,
    name: &'a str,
) -> impl FnOnce(sqlx::Error) -> StoreError + 'a {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate {
            kind,
            name: name.to_owned(),
        },
        _ => StoreError::Database(e),
    }
}

pub(crate) fn policy_name(p: HgsPolicy) -> &'static str {
    p.name()
}

pub(crate) fn state_name(s: PolicyState) -> &'static str {
    match s {
        PolicyState::Enabled => "Enabled",
        PolicyState::Disabled => "Disabled",
        PolicyState::Locked => "Locked",
    }
}

pub(crate) fn state_from_name(s: &str) -> Option<PolicyState> {
    match s {
        "Enabled" => Some(PolicyState::Enabled),
        "Disabled" => Some(PolicyState::Disabled),
        "Locked" => Some(PolicyState::Locked),
        _ => None,
    }
}
