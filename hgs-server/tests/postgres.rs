//! Two server replicas on one PostgreSQL database: a simulated fleet attests concurrently through
//! both, every host's evidence submitted to both replicas at once and then replayed. Every verdict
//! must be right, no challenge accepted twice, no registration lost. Then a replica in its own
//! process is killed (SIGKILL) in the middle of a fleet's run, and the other carries on.
//!
//! The database comes from `HGS_TEST_POSTGRES_URL` (`scripts/test` starts a throwaway cluster).
//! Without it the test fails when `CI` is set, and is skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::*;
use hgs_attest::TokenVerifier;
use hgs_attest::{ChallengeMessage, Evidence};
use hgs_server::{Clock, PostgresStore, Server, ServerConfig};
use hgs_testkit::synthetic::WindowsBoot;
use tokio::sync::Semaphore;

/// A fresh database on the server at `HGS_TEST_POSTGRES_URL`, or `None` (skip).
async fn fresh_database() -> Option<String> {
    let Ok(url) = std::env::var("HGS_TEST_POSTGRES_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "HGS_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server \
                 (scripts/test starts one)"
            );
        }
        eprintln!(
            "SKIPPED: set HGS_TEST_POSTGRES_URL (scripts/test does) to run the PostgreSQL tests"
        );
        return None;
    };
    // One database per test (tests of one process run in parallel).
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "hgs_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    Some(create_postgres_database(&url, &name).await)
}

fn fleet_size() -> usize {
    std::env::var("HGS_TEST_FLEET")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_database_accept_each_challenge_exactly_once() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let clock = TestClock::new();
    // Both replicas start together: migrations and the token key are settled once.
    let (s1, s2) = tokio::join!(
        PostgresStore::connect(&url, 16),
        PostgresStore::connect(&url, 16)
    );
    let (a, b) = tokio::join!(
        Server::new(fleet_config(&clock), s1.unwrap()),
        Server::new(fleet_config(&clock), s2.unwrap())
    );
    let replicas = Arc::new([
        Running::start(a.unwrap()).await,
        Running::start(b.unwrap()).await,
    ]);
    assert_eq!(
        replicas[0].server.token_jwk(),
        replicas[1].server.token_jwk(),
        "replicas on one database sign with one key"
    );
    replicas[0].register_policies().await;
    let verifier = TokenVerifier::new()
        .with_public_jwk(&replicas[0].server.token_jwk())
        .unwrap();

    let n = fleet_size();
    let hosts: Vec<Arc<(SimulatedHost, bool)>> = (0..n)
        .map(|i| {
            let tampered = i % 10 == 3;
            let boot = WindowsBoot {
                secure_boot: !tampered,
                ..healthy()
            };
            Arc::new((SimulatedHost::new(&format!("HOST{i:04}"), &boot), tampered))
        })
        .collect();

    // Registrations, concurrently through both replicas.
    let limit = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let (h, rs, limit) = (h.clone(), replicas.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _p = limit.acquire().await.unwrap();
            rs[i % 2].register(&h.0).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let listed: serde_json::Value = replicas[1]
        .client
        .get(replicas[1].url("/v1/hosts"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), n, "no registration lost");

    // Attestations: challenge on one replica, the evidence sent to both at once, then replayed.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let (h, rs, limit, verifier) =
            (h.clone(), replicas.clone(), limit.clone(), verifier.clone());
        tasks.push(tokio::spawn(async move {
            let _p = limit.acquire().await.unwrap();
            let (host, tampered) = (&h.0, h.1);
            let msg = rs[i % 2].challenge(host).await;
            let evidence = host.answer(&msg);
            let (x, y) = tokio::join!(rs[0].attest(&evidence), rs[1].attest(&evidence));
            let replay = rs[(i + 1) % 2].attest(&evidence).await;
            let mut accepted = 0;
            for (status, body) in [&x, &y] {
                match status {
                    200 => {
                        accepted += 1;
                        let v = body["verdict"]["status"].as_str().unwrap();
                        if tampered {
                            assert_eq!(v, "InsecureHostConfiguration", "{}: {body}", host.name);
                            assert!(body["token"].is_null());
                        } else {
                            assert_eq!(v, "Passed", "{}: {body}", host.name);
                            let t = verifier
                                .verify(body["token"].as_str().unwrap(), START + 1)
                                .unwrap();
                            assert_eq!(t.claims().host.as_deref(), Some(host.name.as_str()));
                        }
                    }
                    409 => assert_eq!(body["error"], "challenge_used", "{body}"),
                    other => panic!("{}: unexpected {other}: {body}", host.name),
                }
            }
            assert_eq!(accepted, 1, "{}: accepted {accepted} times", host.name);
            assert_eq!(replay.0, 409, "{}: replay {:?}", host.name, replay.1);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{n} hosts x (challenge + 2 concurrent submissions + 1 replay) through 2 replicas in {:.2?}: \
         {:.1} accepted attestations/s, {:.1} requests/s",
        elapsed,
        n as f64 / elapsed.as_secs_f64(),
        (4 * n) as f64 / elapsed.as_secs_f64()
    );

    let status = replicas[0]
        .client
        .get(replicas[0].url("/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tampered = hosts.iter().filter(|h| h.1).count();
    assert_eq!(
        status.matches("<td class=\"status\">Passed</td>").count(),
        n - tampered,
        "{status}"
    );
    for r in replicas.iter() {
        r.handle.shutdown();
    }
}

const CHILD_URL: &str = "HGS_PG_CHILD_URL";
const CHILD_DIR: &str = "HGS_PG_CHILD_DIR";

/// Not a test of its own: the replica process the kill test starts (and kills). Its clock stands
/// at `START`, like the in-process replica's.
#[test]
fn postgres_child_replica() {
    let (Ok(url), Ok(dir)) = (std::env::var(CHILD_URL), std::env::var(CHILD_DIR)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = PostgresStore::connect(&url, 8).await.unwrap();
        let mut config = ServerConfig::new(ADMIN);
        config.clock = Clock::from_fn(|| START);
        config.rate_limits = hgs_server::RateLimits::none();
        config.master_key = Some(master_key());
        let server = Server::new(config, store).await.unwrap();
        serve_child(server, Path::new(&dir)).await;
    });
}

/// A replica reached over HTTPS whose requests may fail (it may be dead): the failures are
/// returned, as an agent sees them.
#[derive(Clone)]
struct Remote {
    base: String,
    client: reqwest::Client,
}

impl Remote {
    async fn challenge(&self, host: &SimulatedHost) -> Result<ChallengeMessage, String> {
        let r = self
            .client
            .post(format!("{}/v1/challenges", self.base))
            .json(&host.challenge_body())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != 200 {
            return Err(format!("challenge: HTTP {}", r.status()));
        }
        r.json().await.map_err(|e| e.to_string())
    }

    async fn attest(&self, evidence: &Evidence) -> Result<(u16, serde_json::Value), String> {
        let r = self
            .client
            .post(format!("{}/v1/attestations", self.base))
            .json(evidence)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.map_err(|e| e.to_string())?))
    }
}

fn spawn_replica(url: &str, dir: &Path) -> (Child, Remote) {
    let (child, base, client) = spawn_child(
        "postgres_child_replica",
        &[(CHILD_URL, Path::new(url)), (CHILD_DIR, dir)],
        dir,
    );
    (child, Remote { base, client })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_run_leaves_the_other_carrying_on() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("hgs-pg-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // Replica A in this process; replica B in a child process, on the same database.
    let clock = TestClock::new();
    let a = Running::start(
        Server::new(
            fleet_config(&clock),
            PostgresStore::connect(&url, 16).await.unwrap(),
        )
        .await
        .unwrap(),
    )
    .await;
    let (child, b) = spawn_replica(&url, &dir);
    let child = Arc::new(Mutex::new(child));
    let a_remote = Remote {
        base: a.base.clone(),
        client: a.client.clone(),
    };
    let replicas = Arc::new([a_remote, b]);
    a.register_policies().await;
    let verifier = TokenVerifier::new()
        .with_public_jwk(&a.server.token_jwk())
        .unwrap();

    let n = (fleet_size() / 2).max(40);
    let hosts: Vec<Arc<(SimulatedHost, bool)>> = (0..n)
        .map(|i| {
            let tampered = i % 10 == 7;
            let boot = WindowsBoot {
                secure_boot: !tampered,
                ..healthy()
            };
            Arc::new((SimulatedHost::new(&format!("K{i:04}"), &boot), tampered))
        })
        .collect();
    // Registered through both replicas (B's writes are on the shared database).
    for (i, h) in hosts.iter().enumerate() {
        let r = replicas[i % 2]
            .client
            .put(format!("{}/v1/hosts/{}", replicas[i % 2].base, h.0.name))
            .bearer_auth(ADMIN)
            .json(&h.0.registration())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    // A challenge B issues and B never sees answered: the survivor redeems it after B dies.
    let orphan = replicas[1].challenge(&hosts[0].0).await.unwrap();

    // The run: each host attests through "its" replica (every second host through B), and an
    // agent whose replica fails starts its round again on the other. B is killed once a third of
    // the fleet is done, while the rest are in flight.
    let done = Arc::new(AtomicUsize::new(0));
    let failovers = Arc::new(AtomicUsize::new(0));
    let limit = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let (h, rs, limit, verifier) =
            (h.clone(), replicas.clone(), limit.clone(), verifier.clone());
        let (done, failovers, child) = (done.clone(), failovers.clone(), child.clone());
        tasks.push(tokio::spawn(async move {
            let _p = limit.acquire().await.unwrap();
            let (host, tampered) = (&h.0, h.1);
            let mut target = i % 2;
            let mut attempts = 0;
            let (evidence, body) = loop {
                attempts += 1;
                assert!(attempts <= 3, "{}: no replica answered", host.name);
                let round = async {
                    let msg = rs[target].challenge(host).await?;
                    let evidence = host.answer(&msg);
                    let (status, body) = rs[target].attest(&evidence).await?;
                    assert_eq!(status, 200, "{}: {body}", host.name);
                    Ok::<_, String>((evidence, body))
                };
                match round.await {
                    Ok(r) => break r,
                    Err(_) => {
                        failovers.fetch_add(1, Ordering::SeqCst);
                        target = 0;
                    }
                }
            };
            let v = body["verdict"]["status"].as_str().unwrap();
            if tampered {
                assert_eq!(v, "InsecureHostConfiguration", "{}: {body}", host.name);
                assert!(body["token"].is_null());
            } else {
                assert_eq!(v, "Passed", "{}: {body}", host.name);
                let t = verifier
                    .verify(body["token"].as_str().unwrap(), START + 1)
                    .unwrap();
                assert_eq!(t.claims().host.as_deref(), Some(host.name.as_str()));
            }
            if done.fetch_add(1, Ordering::SeqCst) + 1 == n / 3 {
                // SIGKILL: no shutdown, in-flight requests to B are cut.
                let mut c = child.lock().unwrap();
                c.kill().unwrap();
                c.wait().unwrap();
            }
            evidence
        }));
    }
    let mut answered = Vec::new();
    for t in tasks {
        answered.push(t.await.unwrap());
    }
    assert!(
        child.lock().unwrap().try_wait().unwrap().is_some(),
        "replica B was killed"
    );
    let failovers = failovers.load(Ordering::SeqCst);
    assert!(
        failovers > 0,
        "B was killed with a third of the fleet done: some rounds must have failed over"
    );
    eprintln!(
        "{n} hosts, replica B killed after {}: {failovers} rounds failed over to A",
        n / 3
    );

    // The survivor: every accepted challenge, whichever replica took it, stays used.
    for e in &answered {
        let (status, body) = replicas[0].attest(e).await.unwrap();
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"], "challenge_used");
    }
    // The orphaned challenge B issued is redeemed at A.
    let (status, body) = replicas[0]
        .attest(&hosts[0].0.answer(&orphan))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["status"], "Passed", "{body}");
    // Nothing lost: every registration, and a last verdict per host.
    let listed: serde_json::Value = a
        .client
        .get(a.url("/v1/hosts"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), n);
    let page = a
        .client
        .get(a.url("/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tampered = hosts.iter().filter(|h| h.1).count();
    assert_eq!(
        page.matches("<td class=\"status\">Passed</td>").count(),
        n - tampered,
        "{page}"
    );
    a.handle.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `set_policy` is one atomic statement: two replicas toggling policies at once lose no change to
/// a policy the other did not touch, agree on the state of one they both toggled, and answer
/// each request with the state actually stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_toggling_policies_at_once_lose_no_change_and_agree() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let clock = TestClock::new();
    let (s1, s2) = tokio::join!(
        PostgresStore::connect(&url, 8),
        PostgresStore::connect(&url, 8)
    );
    let (a, b) = tokio::join!(
        Server::new(fleet_config(&clock), s1.unwrap()),
        Server::new(fleet_config(&clock), s2.unwrap())
    );
    let replicas = Arc::new([
        Running::start(a.unwrap()).await,
        Running::start(b.unwrap()).await,
    ]);
    // Each replica toggles its own policy 40 times, ending on a known state, and both toggle a
    // shared one, all at once.
    let own = ["Hgs_FullBoot", "Hgs_NoHibernation"];
    let shared = "Hgs_NoDumps";
    let mut tasks = Vec::new();
    for (i, policy) in own.into_iter().enumerate() {
        for p in [policy, shared] {
            let replicas = replicas.clone();
            tasks.push(tokio::spawn(async move {
                let r = &replicas[i];
                let mut last = "";
                for n in 0..40 {
                    // Ends on "disable" for the replica's own policy.
                    let action = if n % 2 == 0 { "enable" } else { "disable" };
                    let resp = r
                        .admin_send(reqwest::Method::POST, &format!("/v1/policies/{p}/{action}"))
                        .await;
                    assert_eq!(resp.status(), 200);
                    let body: serde_json::Value = resp.json().await.unwrap();
                    let want = if action == "enable" {
                        "Enabled"
                    } else {
                        "Disabled"
                    };
                    assert_eq!(body["state"], want, "{body}");
                    last = want;
                }
                last
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), "Disabled");
    }
    let state = |list: &serde_json::Value, p: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["policy"] == p)
            .unwrap()["state"]
            .clone()
    };
    let views = [
        replicas[0].admin_get("/v1/policies").await,
        replicas[1].admin_get("/v1/policies").await,
    ];
    for view in &views {
        for p in own {
            assert_eq!(state(view, p), "Disabled", "{p} lost a change: {view}");
        }
    }
    assert_eq!(state(&views[0], shared), state(&views[1], shared));
    // A locked policy stays locked on every replica.
    for r in replicas.iter() {
        let resp = r
            .admin_send(reqwest::Method::POST, "/v1/policies/Hgs_CiPolicy/disable")
            .await;
        assert_eq!(resp.status(), 409);
    }
}

/// The naming rule on PostgreSQL: the same refusals as on SQLite (tests/api.rs), before any
/// name reaches the database (whose `text` cannot hold a NUL at all).
#[tokio::test]
async fn names_breaking_the_naming_rule_are_refused_on_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let clock = TestClock::new();
    let store = PostgresStore::connect(&url, 4).await.unwrap();
    let r = Running::start(Server::new(fleet_config(&clock), store).await.unwrap()).await;
    bad_names_are_refused_everywhere(&r).await;
}
