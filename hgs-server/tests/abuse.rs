//! The service under a hostile client (issue 21): storage bounded by the fleet, not by requests;
//! rate limits that answer 429 with Retry-After and are counted; a real host attesting through a
//! flood; and the operator pages private.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use hgs_server::{RateLimits, Server, SqliteStore, MAX_CHALLENGES_PER_HOST};

const OPERATOR: &str = "test-operator-token-9876543210";

fn db_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("hgs-abuse-{tag}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
    }
    p
}

async fn start(tag: &str, clock: &TestClock, limits: RateLimits) -> (Running<SqliteStore>, String) {
    let path = db_path(tag);
    let url = format!("sqlite:{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let mut c = config(clock);
    c.rate_limits = limits;
    c.operator_token = Some(OPERATOR.into());
    let r = Running::start(Server::new(c, store).await.unwrap()).await;
    r.register_policies().await;
    (r, url)
}

/// Challenge rows the database holds for `host` (read with a connection of its own).
async fn challenge_rows(url: &str, host: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM challenges WHERE host = $1")
        .bind(host)
        .fetch_one(&pool)
        .await
        .unwrap();
    n
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `n` challenge requests for `host` from `client`, `in_flight` at a time: (200s, 429s, the
/// smallest Retry-After seen).
async fn flood(
    r: &Arc<Running<SqliteStore>>,
    client: &reqwest::Client,
    body: serde_json::Value,
    n: u64,
    in_flight: u64,
) -> (u64, u64, u64) {
    let (ok, limited, min_retry) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(u64::MAX)),
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..in_flight {
        let (r, client, body) = (r.clone(), client.clone(), body.clone());
        let (ok, limited, min_retry, next) =
            (ok.clone(), limited.clone(), min_retry.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let resp = client
                    .post(r.url("/v1/challenges"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    429 => {
                        let retry: u64 = resp.headers()["retry-after"]
                            .to_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        min_retry.fetch_min(retry, Ordering::Relaxed);
                        let body: serde_json::Value = resp.json().await.unwrap();
                        assert_eq!(body["error"], "rate_limited", "{body}");
                        limited.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("HTTP {other}: {}", resp.text().await.unwrap()),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (
        ok.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        min_retry.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_challenges_for_one_host_leave_at_most_a_few_rows_and_the_newest_works() {
    let clock = TestClock::new();
    // No rate limit: the storage bound must hold by itself.
    let (r, url) = start("bound", &clock, RateLimits::none()).await;
    let r = Arc::new(r);
    let host = SimulatedHost::new("BOUND", &healthy());
    r.register(&host).await;
    let first = r.challenge(&host).await;
    let (ok, limited, _) = flood(&r, &r.client, host.challenge_body(), 3000, 32).await;
    assert_eq!((ok, limited), (3000, 0));
    let rows = challenge_rows(&url, "BOUND").await;
    assert!(
        rows <= i64::try_from(MAX_CHALLENGES_PER_HOST).unwrap(),
        "{rows} challenge rows for one host after 3,001 challenges"
    );
    // The oldest was voided: unknown, not accepted.
    let (status, body) = r.attest(&host.answer(&first)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_challenge"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("voided"),
        "{body}"
    );
    // The newest still attests.
    let (status, body) = r.attest(&host.answer(&r.challenge(&host).await)).await;
    assert_eq!(
        (status, body["verdict"]["status"].as_str()),
        (200, Some("Passed"))
    );
    let metrics = r.client.get(r.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let voided = metric(&metrics, "hgs_challenges_voided_total");
    assert!(voided >= 3002 - MAX_CHALLENGES_PER_HOST, "{voided}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_flooding_challenges_gets_429s_while_a_real_host_from_elsewhere_passes() {
    let clock = TestClock::new();
    let (r, url) = start("flood", &clock, RateLimits::default()).await;
    let r = Arc::new(r);
    let target = SimulatedHost::new("TARGET", &healthy());
    let real = SimulatedHost::new("REAL01", &healthy());
    r.register(&target).await;
    r.register(&real).await;

    let flooder = r.client_from(IpAddr::from([127, 0, 0, 1]));
    let honest = r.client_from(IpAddr::from([127, 0, 0, 2]));
    let flooding = {
        let (r, body) = (r.clone(), target.challenge_body());
        tokio::spawn(async move { flood(&r, &flooder, body, 20_000, 64).await })
    };
    // A real host attests from its own address throughout.
    let mut passed = 0;
    for _ in 0..5 {
        let resp = honest
            .post(r.url("/v1/challenges"))
            .json(&real.challenge_body())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let msg: hgs_attest::ChallengeMessage = resp.json().await.unwrap();
        let resp = honest
            .post(r.url("/v1/attestations"))
            .json(&real.answer(&msg))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["verdict"]["status"], "Passed", "{body}");
        passed += 1;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (ok, limited, min_retry) = flooding.await.unwrap();
    assert_eq!(passed, 5);
    assert_eq!(ok + limited, 20_000);
    assert!(limited > 19_000, "only {limited} of 20,000 refused");
    assert!((1..=60).contains(&min_retry), "Retry-After {min_retry}");
    let rows = challenge_rows(&url, "TARGET").await;
    assert!(
        rows <= i64::try_from(MAX_CHALLENGES_PER_HOST).unwrap(),
        "{rows}"
    );

    // Counted by limit, and /metrics names no host.
    let metrics = honest.get(r.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let by_client = metric(&metrics, "hgs_rate_limited_total{limit=\"client\"}");
    let by_host = metric(&metrics, "hgs_rate_limited_total{limit=\"host\"}");
    assert_eq!(by_client + by_host, limited, "{metrics}");
    assert!(by_client > 0 && by_host > 0, "{metrics}");
    assert!(!metrics.contains("TARGET") && !metrics.contains("REAL01"));
}

#[tokio::test]
async fn challenges_for_one_host_are_limited_by_name_and_other_hosts_are_not() {
    let clock = TestClock::new();
    let limits = RateLimits {
        per_client: None,
        per_host: hgs_server::Rate::new(1, 3),
    };
    let (r, _) = start("per-host", &clock, limits).await;
    let (a, b) = (
        SimulatedHost::new("HOSTA", &healthy()),
        SimulatedHost::new("HOSTB", &healthy()),
    );
    r.register(&a).await;
    r.register(&b).await;
    let send = |h: &SimulatedHost| {
        r.client
            .post(r.url("/v1/challenges"))
            .json(&h.challenge_body())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(send(&a).await.unwrap().status(), 200);
    }
    let refused = send(&a).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("for this host"),
        "{body}"
    );
    assert_eq!(send(&b).await.unwrap().status(), 200);
    // Unknown names get no bucket, only their 404.
    let resp = r
        .client
        .post(r.url("/v1/challenges"))
        .json(
            &serde_json::json!({"host": "NOPE", "ak_public": hgs_tpm::hex::encode(a.ak.public())}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn status_needs_the_admin_or_operator_token_or_a_session_and_health_stays_open() {
    let clock = TestClock::new();
    let (r, _) = start("private", &clock, RateLimits::default()).await;
    let host = SimulatedHost::new("SECRETNAME", &healthy());
    r.register(&host).await;
    let get = |path: &str, token: Option<&str>, cookie: Option<&str>| {
        let mut req = r.client.get(r.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };

    // Anonymous: the login form, no host name.
    let resp = get("/status", None, None).await.unwrap();
    assert_eq!(resp.status(), 401);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("name=\"token\"") && !page.contains("SECRETNAME"),
        "{page}"
    );
    // A wrong token: the same.
    let resp = get("/status", Some("wrong-token-wrong-token-00"), None)
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The admin and the operator tokens read it.
    for t in [ADMIN, OPERATOR] {
        let resp = get("/status", Some(t), None).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.text().await.unwrap().contains("SECRETNAME"));
    }
    // The operator token is read-only: the admin API refuses it.
    let resp = get("/v1/hosts", Some(OPERATOR), None).await.unwrap();
    assert_eq!(resp.status(), 401);
    // /health is open, /metrics too (and names no host).
    assert_eq!(get("/health", None, None).await.unwrap().status(), 200);
    let metrics = get("/metrics", None, None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("SECRETNAME"), "{metrics}");

    // Logging in: a session cookie, HttpOnly, Secure, SameSite=Strict.
    let no_redirects = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(r.cert_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |token: &str| {
        no_redirects
            .post(r.url("/login"))
            .form(&[("token", token)])
            .send()
    };
    assert_eq!(
        login("wrong-token-wrong-token-00").await.unwrap().status(),
        401
    );
    let resp = login(OPERATOR).await.unwrap();
    assert_eq!(resp.status(), 303);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set.contains(attr), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let resp = get("/status", None, Some(&cookie)).await.unwrap();
    assert_eq!(resp.status(), 200);
    // The cookie opens only the operator pages.
    assert_eq!(
        get("/v1/hosts", None, Some(&cookie))
            .await
            .unwrap()
            .status(),
        401
    );
    // A forged or altered cookie does not.
    let (expiry, mac) = cookie
        .trim_start_matches("hgs_session=")
        .split_once('.')
        .unwrap();
    let later: u64 = expiry.parse::<u64>().unwrap() + 86_400;
    let forged = format!("hgs_session={later}.{mac}");
    assert_eq!(
        get("/status", None, Some(&forged)).await.unwrap().status(),
        401
    );
    // Sessions expire.
    clock.advance(3601);
    assert_eq!(
        get("/status", None, Some(&cookie)).await.unwrap().status(),
        401
    );
}
