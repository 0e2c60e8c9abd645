//! Two server replicas on one PostgreSQL database: a simulated fleet attests concurrently through
//! both, every host's evidence submitted to both replicas at once and then replayed. Every verdict
//! must be right, no challenge accepted twice, no registration lost.
//!
//! The database comes from `HGS_TEST_POSTGRES_URL` (`scripts/test` starts a throwaway cluster).
//! Without it the test fails when `CI` is set, and is skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use hgs_attest::TokenVerifier;
use hgs_server::{PostgresStore, Server};
use hgs_tcglog::synthetic::WindowsBoot;
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
    use sqlx::Executor;
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let name = format!("hgs_test_{}_{}", std::process::id(), START);
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let mut u = reqwest::Url::parse(&url).unwrap();
    u.set_path(&format!("/{name}"));
    Some(u.to_string())
}

fn fleet_size() -> usize {
    std::env::var("HGS_TEST_FLEET")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
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
        Server::new(config(&clock), s1.unwrap()),
        Server::new(config(&clock), s2.unwrap())
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
