//! The service over real HTTPS with the embedded SQLite engine: simulated hosts attest, tokens
//! verify offline with the published key, and bad input is refused with typed errors and nothing
//! stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hgs_attest::{TokenStatus, TokenVerifier};
use hgs_server::{Server, SqliteStore, Store, DEFAULT_TOKEN_LIFETIME, MAX_BODY_BYTES};
use hgs_testkit::synthetic::WindowsBoot;

fn db_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("hgs-server-{tag}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
    }
    p
}

async fn start(tag: &str, clock: &TestClock) -> Running<SqliteStore> {
    let path = db_path(tag);
    let store = SqliteStore::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let running = Running::start(Server::new(config(clock), store).await.unwrap()).await;
    running.register_policies().await;
    running
}

async fn attest_fresh(r: &Running<SqliteStore>, host: &SimulatedHost) -> (u16, serde_json::Value) {
    let msg = r.challenge(host).await;
    r.attest(&host.answer(&msg)).await
}

#[tokio::test]
async fn a_healthy_host_passes_and_its_token_verifies_with_the_published_key() {
    let clock = TestClock::new();
    let r = start("healthy", &clock).await;
    let host = SimulatedHost::new("HOST01", &healthy());
    r.register(&host).await;
    let (status, body) = attest_fresh(&r, &host).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["status"], "Passed", "{body}");
    let token = body["token"].as_str().unwrap();

    let jwk = r
        .client
        .get(r.url("/v1/token-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let verifier = TokenVerifier::new().with_public_jwk(&jwk).unwrap();
    let verified = verifier.verify(token, clock.now() + 1).unwrap();
    assert_eq!(verified.claims().host.as_deref(), Some("HOST01"));
    assert!(verified.is_affirming(clock.now() + 1));
    let expiry = clock.now() + DEFAULT_TOKEN_LIFETIME;
    assert!(matches!(
        verified.status(expiry),
        TokenStatus::Expired { .. }
    ));
    assert!(verifier.verify(token, expiry).unwrap_err().is_expired());

    // The status page and the metrics saw it.
    let page = r
        .client
        .get(r.url("/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("HOST01") && page.contains("Passed"), "{page}");
    let metrics = r
        .client
        .get(r.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"hgs_verdicts_total{status="Passed",sub_status="none"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("hgs_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/v1/attestations""#), "{metrics}");
    let health = r.client.get(r.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn tampered_boots_are_refused_with_their_reason_and_get_no_token() {
    let clock = TestClock::new();
    let r = start("tampered", &clock).await;
    for (name, boot, sub) in [
        (
            "NOSB",
            WindowsBoot {
                secure_boot: false,
                ..healthy()
            },
            "SecureBoot",
        ),
        (
            "KDBG",
            WindowsBoot {
                kernel_debugging: true,
                ..healthy()
            },
            "SecureBoot",
        ),
    ] {
        let host = SimulatedHost::new(name, &boot);
        r.register(&host).await;
        let (status, body) = attest_fresh(&r, &host).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["verdict"]["status"], "InsecureHostConfiguration",
            "{body}"
        );
        assert!(body["token"].is_null(), "{body}");
        let subs = body["verdict"]["sub_statuses"].to_string();
        assert!(subs.contains(&format!("\"{sub}\"")), "{name}: {subs}");
        // The status page says why.
        let page = r
            .client
            .get(r.url("/status"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let row = page
            .lines()
            .find(|l| l.contains(&format!(">{name}<")))
            .unwrap();
        assert!(row.contains("InsecureHostConfiguration"), "{row}");
        let why = if name == "KDBG" {
            "debug"
        } else {
            "Secure Boot"
        };
        assert!(row.to_lowercase().contains(&why.to_lowercase()), "{row}");
    }
    let metrics = r
        .client
        .get(r.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"hgs_verdicts_total{status="InsecureHostConfiguration",sub_status="SecureBoot"} 2"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_same_evidence_twice_is_refused_as_a_used_challenge() {
    let clock = TestClock::new();
    let r = start("replay", &clock).await;
    let host = SimulatedHost::new("HOST01", &healthy());
    r.register(&host).await;
    let msg = r.challenge(&host).await;
    let evidence = host.answer(&msg);
    assert_eq!(r.attest(&evidence).await.0, 200);
    let (status, body) = r.attest(&evidence).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "challenge_used", "{body}");
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let clock = TestClock::new();
    let r = start("expired", &clock).await;
    let host = SimulatedHost::new("HOST01", &healthy());
    r.register(&host).await;
    let msg = r.challenge(&host).await;
    clock.advance(hgs_server::DEFAULT_CHALLENGE_TTL);
    let (status, body) = r.attest(&host.answer(&msg)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "challenge_expired", "{body}");
    // An unknown challenge id is a 404 of its own kind.
    let mut e = host.answer(&r.challenge(&host).await);
    e.challenge_id = Some("00".repeat(16));
    let (status, body) = r.attest(&e).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_challenge"))
    );
}

#[tokio::test]
async fn an_unknown_host_is_a_typed_404() {
    let clock = TestClock::new();
    let r = start("unknown", &clock).await;
    let host = SimulatedHost::new("NOBODY", &healthy());
    let resp = r
        .client
        .post(r.url("/v1/challenges"))
        .json(&host.challenge_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unknown_host", "{body}");
    assert!(body["message"].as_str().unwrap().contains("NOBODY"));
}

#[tokio::test]
async fn an_oversized_body_is_413_and_nothing_is_stored() {
    let clock = TestClock::new();
    let r = start("oversized", &clock).await;
    let host = SimulatedHost::new("BIG", &healthy());
    let mut reg = host.registration();
    reg["padding"] = serde_json::Value::String("a".repeat(MAX_BODY_BYTES));
    let resp = r.admin_put("/v1/hosts/BIG", &reg).await;
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");
    assert!(r
        .server
        .store()
        .registry(hgs_server::Hosts::All)
        .await
        .unwrap()
        .hosts
        .is_empty());
    // Same for evidence: an oversized log never reaches the store or the evaluator.
    let resp = r
        .client
        .post(r.url("/v1/attestations"))
        .header("content-type", "application/json")
        .body(vec![b' '; MAX_BODY_BYTES + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn truncated_json_is_400_and_nothing_is_stored() {
    let clock = TestClock::new();
    let r = start("truncated", &clock).await;
    let host = SimulatedHost::new("TRUNC", &healthy());
    let text = host.registration().to_string();
    let resp = r
        .client
        .put(r.url("/v1/hosts/TRUNC"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(text[..text.len() / 2].to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "bad_request", "{body}");
    assert!(r
        .server
        .store()
        .registry(hgs_server::Hosts::All)
        .await
        .unwrap()
        .hosts
        .is_empty());
    // Truncated evidence too.
    r.register(&host).await;
    let e = serde_json::to_string(&host.answer(&r.challenge(&host).await)).unwrap();
    let resp = r
        .client
        .post(r.url("/v1/attestations"))
        .body(e[..e.len() - 10].to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_wrong_or_missing_admin_token_is_401_and_nothing_is_stored() {
    let clock = TestClock::new();
    let r = start("auth", &clock).await;
    let host = SimulatedHost::new("H", &healthy());
    for auth in [None, Some("wrong-token-wrong-token"), Some("")] {
        let mut req = r
            .client
            .put(r.url("/v1/hosts/H"))
            .json(&host.registration());
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    let resp = r.client.get(r.url("/v1/hosts")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = r
        .client
        .post(r.url("/v1/policies/Hgs_FullBoot/disable"))
        .bearer_auth("nope-nope-nope-nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let reg = r
        .server
        .store()
        .registry(hgs_server::Hosts::All)
        .await
        .unwrap();
    assert!(reg.hosts.is_empty());
    assert!(reg
        .settings
        .is_active(hgs_attest::policy::HgsPolicy::FullBoot));
}

#[tokio::test]
async fn a_removed_host_is_refused_at_its_next_attestation() {
    let clock = TestClock::new();
    let r = start("removed", &clock).await;
    let host = SimulatedHost::new("GONE", &healthy());
    r.register(&host).await;
    let msg = r.challenge(&host).await;
    let resp = r
        .client
        .delete(r.url("/v1/hosts/GONE"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // The challenge issued before removal gets a verdict, but not a token.
    let (status, body) = r.attest(&host.answer(&msg)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["status"], "UnauthorizedHost", "{body}");
    assert!(body["token"].is_null());
    // And no new challenge.
    let resp = r
        .client
        .post(r.url("/v1/challenges"))
        .json(&host.challenge_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn policies_are_listed_and_changed_and_locked_ones_refuse() {
    let clock = TestClock::new();
    let r = start("policies", &clock).await;
    let host = SimulatedHost::new(
        "KDBG",
        &WindowsBoot {
            kernel_debugging: true,
            ..healthy()
        },
    );
    r.register(&host).await;
    let resp = r
        .client
        .post(r.url("/v1/policies/Hgs_FullBoot/disable"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = r
        .client
        .post(r.url("/v1/policies/Hgs_UefiDebugDisabled/disable"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = attest_fresh(&r, &host).await;
    assert_eq!(status, 200);
    assert_eq!(body["verdict"]["status"], "Passed", "{body}");
    let resp = r
        .client
        .post(r.url("/v1/policies/Hgs_CiPolicy/disable"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let list: serde_json::Value = r
        .client
        .get(r.url("/v1/policies"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list.to_string()
            .contains(r#"{"policy":"Hgs_FullBoot","state":"Disabled"}"#),
        "{list}"
    );
}

#[tokio::test]
async fn duplicates_are_409_and_registrations_and_the_key_survive_a_restart() {
    let clock = TestClock::new();
    let path = db_path("restart");
    let url = format!("sqlite:{}", path.display());
    let host = SimulatedHost::new("KEEP", &healthy());
    let jwk = {
        let store = SqliteStore::connect(&url).await.unwrap();
        let r = Running::start(Server::new(config(&clock), store).await.unwrap()).await;
        r.register_policies().await;
        r.register(&host).await;
        let resp = r.admin_put("/v1/hosts/KEEP", &host.registration()).await;
        assert_eq!(resp.status(), 409);
        let resp = r.admin_put("/v1/hosts/OTHER", &host.registration()).await;
        assert_eq!(resp.status(), 409, "same EK under another name");
        r.handle.shutdown();
        r.server.token_jwk()
    };
    let store = SqliteStore::connect(&url).await.unwrap();
    let r = Running::start(Server::new(config(&clock), store).await.unwrap()).await;
    assert_eq!(
        r.server.token_jwk(),
        jwk,
        "the generated token key is kept in the database"
    );
    let (status, body) = attest_fresh(&r, &host).await;
    assert_eq!(
        (status, body["verdict"]["status"].as_str()),
        (200, Some("Passed"))
    );
}

#[tokio::test]
async fn long_expired_challenges_are_purged_and_storage_stays_bounded() {
    let clock = TestClock::new();
    let path = db_path("purge");
    let store = SqliteStore::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let mut c = config(&clock);
    c.rate_limits = hgs_server::RateLimits::none();
    let r = Running::start(Server::new(c, store).await.unwrap()).await;
    r.register_policies().await;
    let host = SimulatedHost::new("P", &healthy());
    let other = SimulatedHost::new("Q", &healthy());
    r.register(&host).await;
    r.register(&other).await;
    let old = r.challenge(&host).await;
    clock.advance(2 * 3600);
    // Another host's challenges: only the purge (not the per-host bound) removes `old`.
    for _ in 0..256 {
        r.challenge(&other).await;
    }
    // The old one is gone (unknown), not merely expired.
    let (status, body) = r.attest(&host.answer(&old)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_challenge")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_takes_concurrent_attestations_and_replays_without_busy_errors() {
    let clock = TestClock::new();
    let r = std::sync::Arc::new(start("concurrent", &clock).await);
    let n = 60;
    let mut tasks = Vec::new();
    for i in 0..n {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let host = SimulatedHost::new(&format!("C{i:03}"), &healthy());
            r.register(&host).await;
            let evidence = host.answer(&r.challenge(&host).await);
            let (a, b) = tokio::join!(r.attest(&evidence), r.attest(&evidence));
            let mut statuses = [a.0, b.0];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(r.server.store().verdicts().await.unwrap().len(), n);
}

#[tokio::test]
async fn a_key_that_cannot_quote_or_bad_hex_is_refused_and_no_challenge_is_stored() {
    let clock = TestClock::new();
    let r = start("badak", &clock).await;
    let host = SimulatedHost::new("H", &healthy());
    r.register(&host).await;
    // The EK offered as the AK: not a restricted signing key.
    let resp = r
        .client
        .post(r.url("/v1/challenges"))
        .json(&serde_json::json!({ "host": "H", "ak_public": hgs_tpm::hex::encode(host.ek.public()) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "challenge_refused", "{body}");
    // Bytes that are no TPM public area: refused, and the message carries the parser's reason
    // (the library keeps it as the typed source, the server prints the chain).
    let resp = r
        .client
        .post(r.url("/v1/challenges"))
        .json(&serde_json::json!({ "host": "H", "ak_public": "0001" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("the AK public area does not parse: TPMT_PUBLIC: truncated"),
        "{body}"
    );
    // Not hex.
    let resp = r
        .client
        .post(r.url("/v1/challenges"))
        .json(&serde_json::json!({ "host": "H", "ak_public": "zz" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Evidence without a challenge id.
    let mut e = host.answer(&r.challenge(&host).await);
    e.challenge_id = None;
    let (status, body) = r.attest(&e).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    // Only the one good challenge was issued.
    let metrics = r
        .client
        .get(r.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hgs_challenges_issued_total 1"),
        "{metrics}"
    );
    // An unknown path is a JSON 404 too.
    let resp = r.client.get(r.url("/v2/nothing")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    use tokio::io::AsyncReadExt;
    let clock = TestClock::new();
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let r = Running::start(Server::new(config(&clock), store).await.unwrap()).await;
    let port = r.base.rsplit(':').next().unwrap();
    let mut idle = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), idle.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the idle connection stayed open: {read:?}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
}

/// A server on the SQLite file at `url` (opened anew: outstanding challenges are voided).
async fn open(url: &str, clock: &TestClock) -> Running<SqliteStore> {
    let store = SqliteStore::connect(url).await.unwrap();
    Running::start(Server::new(config(clock), store).await.unwrap()).await
}

fn assert_passed((status, body): &(u16, serde_json::Value)) {
    assert_eq!(
        (*status, body["verdict"]["status"].as_str()),
        (200, Some("Passed")),
        "{body}"
    );
}

#[tokio::test]
async fn a_registration_change_at_one_server_is_seen_at_once_by_another_on_the_same_database() {
    // Two servers on one SQLite file: each caches baselines, CI policies and policy states per
    // registry generation; a write through one must reach the other's very next request.
    let clock = TestClock::new();
    let url = format!("sqlite:{}", db_path("generation").display());
    let (a, b) = (open(&url, &clock).await, open(&url, &clock).await);
    a.register_policies().await;
    let host = SimulatedHost::new("GEN", &healthy());
    a.register(&host).await;
    // B reads (and caches) the policies A registered.
    assert_passed(&attest_fresh(&b, &host).await);

    // A removes the only CI policy: B's next attestation must not pass on its cached copy.
    let r = a
        .admin_send(reqwest::Method::DELETE, "/v1/ci-policies/ci")
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (status, body) = attest_fresh(&b, &host).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["verdict"]["status"], "Passed", "{body}");
    assert!(body["token"].is_null(), "{body}");

    // A registers it again: B passes the host again.
    let log = hgs_tpm::hex::encode(&healthy().build());
    let r = a
        .admin_put(
            "/v1/ci-policies/ci",
            &serde_json::json!({ "reference_log": log, "policy_version": "v1" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_passed(&attest_fresh(&b, &host).await);

    // A policy state set through A is what B lists.
    let r = a
        .admin_send(reqwest::Method::POST, "/v1/policies/Hgs_FullBoot/disable")
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let listed = b.admin_get("/v1/policies").await;
    let state = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "Hgs_FullBoot")
        .unwrap()["state"]
        .clone();
    assert_eq!(state, "Disabled", "{listed}");
}

#[tokio::test]
async fn challenges_outstanding_when_the_sqlite_store_is_opened_are_void() {
    // The attestation path commits with synchronous=NORMAL: a power cut could undo a consumption,
    // so opening the store voids every challenge still outstanding (it can never be redeemed).
    let clock = TestClock::new();
    let url = format!("sqlite:{}", db_path("void").display());
    let host = SimulatedHost::new("VOID", &healthy());
    let msg = {
        let r = open(&url, &clock).await;
        r.register_policies().await;
        r.register(&host).await;
        let msg = r.challenge(&host).await;
        r.handle.shutdown();
        msg
    };
    let r = open(&url, &clock).await;
    let (status, body) = r.attest(&host.answer(&msg)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("challenge_used")),
        "{body}"
    );
    // A challenge issued after opening is redeemed as usual.
    assert_passed(&attest_fresh(&r, &host).await);
}

/// A host name with a NUL, a newline, a space, a slash, a leading dash or 5,000 characters was
/// accepted (and a NUL then failed inside PostgreSQL): every endpoint that takes a name now
/// refuses it with the library's naming rule, and nothing is stored. The same on PostgreSQL
/// (tests/postgres.rs).
#[tokio::test]
async fn names_breaking_the_naming_rule_are_refused_on_sqlite() {
    let clock = TestClock::new();
    let r = start("names", &clock).await;
    bad_names_are_refused_everywhere(&r).await;
}
