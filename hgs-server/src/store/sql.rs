//! The one SQL implementation of [`Store`] for both engines.

use std::sync::Arc;

use hgs_attest::policy::TrustedCertificate;
use hgs_attest::policy::{
    CiPolicyRegistration, HgsPolicy, PolicySettings, PolicyState, TpmBaseline, TpmHost,
};
use hgs_attest::Challenge;

use super::engines::{PostgresStore, SqliteStore};
use super::*;

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
                            .bind(name.as_str())
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
                            .bind(name.as_str())
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
                    .bind(host.name.as_str())
                    .bind(host.ek_fingerprint.to_string())
                    .bind(json(host, "host")?)
                    .execute(&self.durable)
                    .await
                    .map_err(duplicate("host", &host.name))?;
                Ok(())
            }

            async fn remove_host(&self, name: &Name) -> Result<bool, StoreError> {
                let mut tx = self.durable.begin().await?;
                let removed = sqlx::query("DELETE FROM hosts WHERE name = $1")
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM verdicts WHERE host = $1")
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(removed > 0)
            }

            async fn insert_baseline(&self, baseline: &TpmBaseline) -> Result<(), StoreError> {
                let mut tx = self.durable.begin().await?;
                sqlx::query("INSERT INTO baselines (name, body) VALUES ($1, $2)")
                    .bind(baseline.name.as_str())
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

            async fn remove_baseline(&self, name: &Name) -> Result<bool, StoreError> {
                let mut tx = self.durable.begin().await?;
                let removed = sqlx::query("DELETE FROM baselines WHERE name = $1")
                    .bind(name.as_str())
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
                    .bind(policy.name.as_str())
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

            async fn remove_ci_policy(&self, name: &Name) -> Result<bool, StoreError> {
                let mut tx = self.durable.begin().await?;
                let removed = sqlx::query("DELETE FROM ci_policies WHERE name = $1")
                    .bind(name.as_str())
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
            ) -> Result<PolicyState, StoreError> {
                // One statement decides: a row stored as Locked is never overwritten, whatever a
                // replica's cached settings said, and the state returned is the one stored.
                let mut tx = self.durable.begin().await?;
                let stored: Option<(String,)> = sqlx::query_as(
                    "INSERT INTO policy_states (policy, state) VALUES ($1, $2) \
                     ON CONFLICT (policy) DO UPDATE SET state = excluded.state \
                     WHERE policy_states.state <> 'Locked' RETURNING state",
                )
                .bind(policy_name(policy))
                .bind(state_name(state))
                .fetch_optional(&mut *tx)
                .await?;
                let Some((stored,)) = stored else {
                    tx.rollback().await?;
                    return Ok(PolicyState::Locked);
                };
                sqlx::query("UPDATE registry_generation SET generation = generation + 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(state_from_name(&stored).unwrap_or(PolicyState::Locked))
            }

            async fn insert_challenge(
                &self,
                id: &str,
                challenge: &Challenge,
                expires_at: u64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO challenges (id, host, body, expires_at, seq) \
                     VALUES ($1, $2, $3, $4, \
                     (SELECT COALESCE(MAX(seq), 0) + 1 FROM challenges WHERE host = $2))",
                )
                .bind(id)
                .bind(&challenge.host)
                .bind(json(challenge, "challenge")?)
                .bind(to_i64(expires_at))
                .execute(&mut *tx)
                .await?;
                // Keeps the host's newest MAX_CHALLENGES_PER_HOST (ties by id): rows inserted by
                // concurrent transactions are trimmed by the next issuance's statement.
                let voided = sqlx::query(
                    "DELETE FROM challenges WHERE host = $1 AND id NOT IN \
                     (SELECT id FROM challenges WHERE host = $1 \
                      ORDER BY seq DESC, id DESC LIMIT $2)",
                )
                .bind(&challenge.host)
                .bind(to_i64(MAX_CHALLENGES_PER_HOST))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(voided)
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
