//! The key protection service over HTTPS, on real SQLite and real PostgreSQL: secrets released
//! only to a host whose token still satisfies the policy now, encrypted to the token's bound
//! key; key protectors unwrapped by the service's guardian; refusals typed and audited; values
//! sealed at rest; master-key rotation (and kill -9 during it); no value in the server's output.
//!
//! PostgreSQL variants need `HGS_TEST_POSTGRES_URL` (skipped with a message without it, failed
//! when `CI` is set), like `tests/postgres.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64ct::{Base64, Base64Unpadded, Base64UrlUnpadded, Encoding};
use common::*;
use hgs_attest::policy::{ek_fingerprint, PolicyVersion};
use hgs_attest::{AttestationStatus, TokenClaims, TokenSigner};
use hgs_keys::{JweError, SoftP256Key, SoftRsaKey};
use hgs_kps::{Guardian, GuardianKey, KeyProtector};
use hgs_server::{KeyStore, MasterKey, PostgresStore, Server, ServerConfig, SqliteStore, Store};

/// The token key the test servers sign with (so the tests can mint tokens as the server would).
fn signer() -> TokenSigner {
    TokenSigner::from_scalar_bytes(&[0x42; 32]).unwrap()
}

fn key_config(clock: &TestClock) -> ServerConfig {
    let mut c = fleet_config(clock);
    c.token_key = Some(signer());
    c
}

/// A token as the server issues it for `host`, naming `cnf` when given.
fn token_for(
    host: &SimulatedHost,
    status: AttestationStatus,
    issued_at: u64,
    cnf: Option<&hgs_keys::BoundKey>,
) -> String {
    token_signed(&signer(), host, status, issued_at, cnf)
}

fn token_signed(
    signer: &TokenSigner,
    host: &SimulatedHost,
    status: AttestationStatus,
    issued_at: u64,
    cnf: Option<&hgs_keys::BoundKey>,
) -> String {
    let ek = ek_fingerprint(host.ek.public()).unwrap();
    let mut claims = TokenClaims::new(Some(host.name.clone()), ek, status, issued_at, 3600);
    claims.policy_version = Some(PolicyVersion::V1);
    if let Some(k) = cnf {
        claims = claims.with_bound_key(k.clone());
    }
    signer.sign(&claims).unwrap()
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut v);
    v
}

fn all_guarded() -> serde_json::Value {
    serde_json::json!({ "hosts": "all_guarded", "min_policy_version": "v1" })
}

async fn put_secret<S: Store>(
    r: &Running<S>,
    name: &str,
    value: &[u8],
    policy: serde_json::Value,
) -> reqwest::Response {
    r.admin_put(
        &format!("/v1/secrets/{name}"),
        &serde_json::json!({ "value": Base64UrlUnpadded::encode_string(value), "policy": policy }),
    )
    .await
}

async fn release<S: Store>(r: &Running<S>, name: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = r.client.post(r.url(&format!("/v1/secrets/{name}/release")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The status and error body of a refused request.
async fn refused(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn released_jwe(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()[reqwest::header::CONTENT_TYPE],
        "application/jose"
    );
    resp.text().await.unwrap()
}

static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

async fn fresh_postgres() -> Option<String> {
    let Ok(url) = std::env::var("HGS_TEST_POSTGRES_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!("HGS_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server");
        }
        eprintln!("SKIPPED: set HGS_TEST_POSTGRES_URL to run the PostgreSQL tests");
        return None;
    };
    let name = format!(
        "hgs_keys_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    Some(create_postgres_database(&url, &name).await)
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hgs-keys-{what}-{}-{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn sqlite_pair(clock: &TestClock) -> (Running<SqliteStore>, Running<SqliteStore>, PathBuf) {
    let dir = temp_dir("pair");
    let url = format!("sqlite:{}", dir.join("db").display());
    let a = SqliteStore::connect(&url).await.unwrap();
    let a = Running::start(Server::new(key_config(clock), a).await.unwrap()).await;
    let b = SqliteStore::connect(&url).await.unwrap();
    let b = Running::start(Server::new(key_config(clock), b).await.unwrap()).await;
    (a, b, dir)
}

async fn postgres_pair(
    clock: &TestClock,
) -> Option<(Running<PostgresStore>, Running<PostgresStore>)> {
    let url = fresh_postgres().await?;
    let a = PostgresStore::connect(&url, 8).await.unwrap();
    let a = Running::start(Server::new(key_config(clock), a).await.unwrap()).await;
    let b = PostgresStore::connect(&url, 8).await.unwrap();
    let b = Running::start(Server::new(key_config(clock), b).await.unwrap()).await;
    Some((a, b))
}

// --- releases to the bound key -----------------------------------------------------------

async fn release_decrypts_with_the_bound_key_only<S: Store>(r: &Running<S>, clock: &TestClock) {
    let host = SimulatedHost::new("K1", &healthy());
    r.register(&host).await;
    let value = random_bytes(200);
    let resp = put_secret(r, "vm-disk", &value, all_guarded()).await;
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(body["value_len"], 200);
    assert!(body.get("value").is_none());

    // P-256 bound key.
    let mut tpm = SoftP256Key::from_scalar_bytes(&[0x33; 32]).unwrap();
    let token = token_for(
        &host,
        AttestationStatus::Passed,
        clock.now(),
        Some(tpm.bound_key()),
    );
    let jwe = released_jwe(release(r, "vm-disk", Some(&token)).await).await;
    assert_eq!(
        hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), &mut tpm).unwrap(),
        value
    );
    // Another key (a client with its own key, or the token taken elsewhere) cannot open it.
    let mut other = SoftP256Key::from_scalar_bytes(&[0x34; 32]).unwrap();
    assert!(matches!(
        hgs_keys::decrypt(&jwe, &other.bound_key().clone(), &mut other),
        Err(JweError::WrongRecipient { .. })
    ));

    // RSA-2048 bound key.
    let mut rsa = SoftRsaKey::generate(&mut rand_core::OsRng).unwrap();
    let token = token_for(
        &host,
        AttestationStatus::Passed,
        clock.now(),
        Some(rsa.bound_key()),
    );
    let jwe = released_jwe(release(r, "vm-disk", Some(&token)).await).await;
    assert_eq!(
        hgs_keys::decrypt(&jwe, &rsa.bound_key().clone(), &mut rsa).unwrap(),
        value
    );

    // Rotate: one statement, the next release is the new value, version 2.
    let new_value = random_bytes(64);
    let resp = put_secret(r, "vm-disk", &new_value, all_guarded()).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["version"], 2);
    let jwe = released_jwe(release(r, "vm-disk", Some(&token)).await).await;
    assert_eq!(
        hgs_keys::decrypt(&jwe, &rsa.bound_key().clone(), &mut rsa).unwrap(),
        new_value
    );

    // Audited: releases with host and token id, never the token.
    let audit = r.admin_get("/v1/audit?limit=10").await;
    let rows = audit.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(row["outcome"], "released");
        assert_eq!(row["host"], "K1");
        assert_eq!(row["object"], "vm-disk");
        assert_eq!(row["token_id"].as_str().unwrap().len(), 32);
    }
    assert!(!audit.to_string().contains(&token));
}

#[tokio::test]
async fn sqlite_release_decrypts_with_the_bound_key_only() {
    let clock = TestClock::new();
    let r = Running::start(
        Server::new(
            key_config(&clock),
            SqliteStore::connect("sqlite::memory:").await.unwrap(),
        )
        .await
        .unwrap(),
    )
    .await;
    release_decrypts_with_the_bound_key_only(&r, &clock).await;
}

#[tokio::test]
async fn postgres_release_decrypts_with_the_bound_key_only() {
    let clock = TestClock::new();
    let Some((a, _b)) = postgres_pair(&clock).await else {
        return;
    };
    release_decrypts_with_the_bound_key_only(&a, &clock).await;
}

// --- refusals ----------------------------------------------------------------------------

async fn refusals_are_typed_and_audited<S: Store>(r: &Running<S>, clock: &TestClock) {
    r.register_policies().await;
    let host = SimulatedHost::new("K2", &healthy());
    r.register(&host).await;
    let value = random_bytes(32);
    assert_eq!(
        put_secret(r, "s1", &value, all_guarded()).await.status(),
        201
    );
    let tpm = SoftP256Key::from_scalar_bytes(&[0x35; 32]).unwrap();
    let key = Some(tpm.bound_key());

    // No token, a forged one (another signer), garbage: 401 invalid_token, even for a name
    // that does not exist (nothing is learnt about which secrets exist).
    let forged = token_signed(
        &TokenSigner::from_scalar_bytes(&[0x43; 32]).unwrap(),
        &host,
        AttestationStatus::Passed,
        clock.now(),
        key,
    );
    for (name, token) in [
        ("s1", None),
        ("s1", Some(forged.as_str())),
        ("no-such-secret", Some(forged.as_str())),
        ("s1", Some("not.a.token")),
    ] {
        let (status, body) = refused(release(r, name, token).await).await;
        assert_eq!(status, 401, "{name} {body}");
        assert_eq!(body["error"], "invalid_token");
    }

    // A real attestation's token names the key its evidence bound: here no certified key, so
    // the synthetic boot's VSM identity key from the quoted log.
    let msg = r.challenge(&host).await;
    let (status, attested) = r.attest(&host.answer(&msg)).await;
    assert_eq!(status, 200, "{attested}");
    let real = attested["token"].as_str().unwrap().to_owned();
    let verified = hgs_attest::TokenVerifier::new()
        .with_key(*signer().verifying_key())
        .verify(&real, clock.now())
        .unwrap();
    let idk = verified
        .claims()
        .cnf
        .clone()
        .expect("the token names the IDK");
    assert!(matches!(&idk, hgs_keys::BoundKey::Rsa(k) if k.n() == [0xc5; 256]));
    // A token without cnf: 403 no_bound_key.
    let no_cnf = token_for(&host, AttestationStatus::Passed, clock.now(), None);
    let (status, body) = refused(release(r, "s1", Some(&no_cnf)).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("release_refused")),
        "{body}"
    );
    assert_eq!(body["reason"], "no_bound_key");

    // Contraindicated: not passed.
    let bad = token_for(
        &host,
        AttestationStatus::InsecureHostConfiguration,
        clock.now(),
        key,
    );
    let (status, body) = refused(release(r, "s1", Some(&bad)).await).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("not_passed")),
        "{body}"
    );

    // Expired (issued two hours ago, valid one).
    let old = token_for(&host, AttestationStatus::Passed, clock.now() - 7200, key);
    let (status, body) = refused(release(r, "s1", Some(&old)).await).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("expired")),
        "{body}"
    );

    // An unknown secret, after a valid token: 404.
    let good = token_for(&host, AttestationStatus::Passed, clock.now(), key);
    let (status, body) = refused(release(r, "nope", Some(&good)).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );

    // A host the token names but that was never registered.
    let stranger = SimulatedHost::new("K2-STRANGER", &healthy());
    let t = token_for(&stranger, AttestationStatus::Passed, clock.now(), key);
    let (status, body) = refused(release(r, "s1", Some(&t)).await).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("host_not_registered"))
    );

    // Every refusal audited (newest first), with the token's hash, never the token.
    let audit = r.admin_get("/v1/audit?limit=100").await;
    let reasons: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "host_not_registered",
            "not_found",
            "expired",
            "not_passed",
            "no_bound_key",
            "invalid_token",
            "invalid_token",
            "invalid_token",
            "invalid_token",
        ]
    );
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["outcome"] == "refused"));
    for t in [&forged, &real, &bad, &old, &good] {
        assert!(!audit.to_string().contains(t.as_str()));
    }
    // /v1/audit limits.
    let resp = r
        .admin_send(reqwest::Method::GET, "/v1/audit?limit=1001")
        .await;
    assert_eq!(resp.status(), 400);
    // Metrics count by outcome.
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
        metrics.contains("hgs_releases_total{outcome=\"invalid_token\"} 4"),
        "{metrics}"
    );
    assert!(metrics.contains("hgs_releases_total{outcome=\"no_bound_key\"} 1"));
}

#[tokio::test]
async fn sqlite_refusals_are_typed_and_audited() {
    let clock = TestClock::new();
    let r = Running::start(
        Server::new(
            key_config(&clock),
            SqliteStore::connect("sqlite::memory:").await.unwrap(),
        )
        .await
        .unwrap(),
    )
    .await;
    refusals_are_typed_and_audited(&r, &clock).await;
}

#[tokio::test]
async fn postgres_refusals_are_typed_and_audited() {
    let clock = TestClock::new();
    let Some((a, _b)) = postgres_pair(&clock).await else {
        return;
    };
    refusals_are_typed_and_audited(&a, &clock).await;
}

// --- changes after the token was issued apply at once, on every replica ------------------

/// `a` and `b` are two servers on one database.
async fn later_changes_stop_releases_on_every_replica<S: Store>(
    a: &Running<S>,
    b: &Running<S>,
    clock: &TestClock,
) {
    let host = SimulatedHost::new("K3", &healthy());
    a.register(&host).await;
    let value = random_bytes(48);
    assert_eq!(
        put_secret(a, "s", &value, all_guarded()).await.status(),
        201
    );
    let mut tpm = SoftP256Key::from_scalar_bytes(&[0x36; 32]).unwrap();
    let token = token_for(
        &host,
        AttestationStatus::Passed,
        clock.now(),
        Some(tpm.bound_key()),
    );
    for r in [a, b] {
        let jwe = released_jwe(release(r, "s", Some(&token)).await).await;
        assert_eq!(
            hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), &mut tpm).unwrap(),
            value
        );
    }

    // 1. Tightened policy (written through a): names another host only.
    let tight = serde_json::json!({ "hosts": { "names": ["OTHER"] }, "min_policy_version": "v1" });
    assert_eq!(put_secret(a, "s", &value, tight).await.status(), 200);
    for r in [a, b] {
        let (status, body) = refused(release(r, "s", Some(&token)).await).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (403, Some("host_not_selected"))
        );
    }
    // A higher minimum version: refused too.
    let v2 = serde_json::json!({ "hosts": "all_guarded", "min_policy_version": "v2" });
    assert_eq!(put_secret(a, "s", &value, v2).await.status(), 200);
    let (_, body) = refused(release(b, "s", Some(&token)).await).await;
    assert_eq!(body["reason"], "policy_version_too_low");
    assert_eq!(
        put_secret(a, "s", &value, all_guarded()).await.status(),
        200
    );
    assert_eq!(release(b, "s", Some(&token)).await.status(), 200);

    // 2. The cut-off (set through b): tokens issued before it release nothing.
    let resp = b
        .admin_put(
            "/v1/settings/deny-issued-before",
            &serde_json::json!({ "before": clock.now() + 1 }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        a.admin_get("/v1/settings/deny-issued-before").await["before"],
        clock.now() + 1
    );
    for r in [a, b] {
        let (status, body) = refused(release(r, "s", Some(&token)).await).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (403, Some("issued_before_cutoff"))
        );
    }
    // A token issued after it works; clearing the cut-off restores the old token.
    clock.advance(2);
    let newer = token_for(
        &host,
        AttestationStatus::Passed,
        clock.now(),
        Some(tpm.bound_key()),
    );
    assert_eq!(release(a, "s", Some(&newer)).await.status(), 200);
    let resp = a
        .admin_put(
            "/v1/settings/deny-issued-before",
            &serde_json::json!({ "before": null }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(release(b, "s", Some(&token)).await.status(), 200);

    // 3. The host removed (through a): refused on both.
    let resp = a
        .admin_send(reqwest::Method::DELETE, &format!("/v1/hosts/{}", host.name))
        .await;
    assert_eq!(resp.status(), 204);
    for r in [a, b] {
        let (status, body) = refused(release(r, "s", Some(&newer)).await).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (403, Some("host_not_registered"))
        );
    }
    // Re-registered under the same name with another EK: the old token is for the old EK.
    let impostor = SimulatedHost::new("K3-OTHER", &healthy());
    let resp = a
        .admin_put(
            &format!("/v1/hosts/{}", host.name),
            &impostor.registration(),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let (_, body) = refused(release(b, "s", Some(&newer)).await).await;
    assert_eq!(body["reason"], "ek_mismatch");
}

#[tokio::test]
async fn sqlite_later_changes_stop_releases_on_every_replica() {
    let clock = TestClock::new();
    let (a, b, _dir) = sqlite_pair(&clock).await;
    later_changes_stop_releases_on_every_replica(&a, &b, &clock).await;
}

#[tokio::test]
async fn postgres_later_changes_stop_releases_on_every_replica() {
    let clock = TestClock::new();
    let Some((a, b)) = postgres_pair(&clock).await else {
        return;
    };
    later_changes_stop_releases_on_every_replica(&a, &b, &clock).await;
}

// --- key protectors ----------------------------------------------------------------------

async fn key_protectors_unwrap_to_the_bound_key<S: Store>(r: &Running<S>, clock: &TestClock) {
    let host = SimulatedHost::new("K4", &healthy());
    r.register(&host).await;
    // The service's default guardian, fetched without any token (Export-HgsGuardian).
    let list: serde_json::Value = r
        .client
        .get(r.url("/v1/guardians"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "default");
    let service = Guardian::from_pem(list[0]["certificate_pem"].as_str().unwrap()).unwrap();
    assert_eq!(list[0]["fingerprint"], service.fingerprint().to_string());
    let pem = r
        .client
        .get(r.url("/v1/guardians/default"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        pem.headers()[reqwest::header::CONTENT_TYPE],
        "application/x-pem-file"
    );
    assert_eq!(
        Guardian::from_pem(&pem.text().await.unwrap()).unwrap(),
        service
    );
    let resp = r
        .client
        .get(r.url("/v1/guardians/none"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // The owner makes a protector offline (New-HgsKeyProtector -Owner -Guardian).
    let owner =
        GuardianKey::generate("Owner", START, START + 86_400 * 365, &mut rand_core::OsRng).unwrap();
    let (kp, transport) = KeyProtector::new(
        owner.guardian(),
        std::slice::from_ref(&service),
        &mut rand_core::OsRng,
    )
    .unwrap();
    let mut tpm = SoftP256Key::from_scalar_bytes(&[0x37; 32]).unwrap();
    let token = token_for(
        &host,
        AttestationStatus::Passed,
        clock.now(),
        Some(tpm.bound_key()),
    );
    let unwrap = |body: Vec<u8>, token: Option<String>| {
        let mut req = r.client.post(r.url("/v1/key-protectors/unwrap")).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let jwe = released_jwe(unwrap(kp.to_bytes(), Some(token.clone())).await.unwrap()).await;
    assert_eq!(
        hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), &mut tpm).unwrap(),
        transport.as_bytes()
    );

    // No token: 401 before the body is looked at.
    let (status, body) = refused(unwrap(b"garbage".to_vec(), None).await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    // Malformed: 400 invalid_key_protector.
    let (status, body) = refused(
        unwrap(b"{\"format\":1}".to_vec(), Some(token.clone()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_key_protector")),
        "{body}"
    );
    // Oversized: refused before it is parsed.
    let big = vec![b' '; hgs_kps::MAX_KEY_PROTECTOR_LEN + 1];
    let (status, _) = refused(unwrap(big, Some(token.clone())).await.unwrap()).await;
    assert_eq!(status, 400);
    // A protector for another guardian only: 403 no_guardian.
    let elsewhere =
        GuardianKey::generate("Elsewhere", START, START + 1000, &mut rand_core::OsRng).unwrap();
    let (other, _) = KeyProtector::new(
        owner.guardian(),
        &[elsewhere.guardian().clone()],
        &mut rand_core::OsRng,
    )
    .unwrap();
    let (status, body) =
        refused(unwrap(other.to_bytes(), Some(token.clone())).await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("no_guardian")));
    // A protector whose document was altered (a wrapping dropped): the MAC fails, 400.
    let mut doc: serde_json::Value = serde_json::from_slice(&kp.to_bytes()).unwrap();
    let tampered_ok = doc
        .get_mut("wrappings")
        .and_then(|w| w.as_array_mut())
        .map(|w| w.remove(0))
        .is_some();
    if tampered_ok {
        let (status, body) = refused(
            unwrap(serde_json::to_vec(&doc).unwrap(), Some(token.clone()))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{body}");
    }

    // The key-protector policy, tightened: refused now.
    let resp = r
        .admin_put(
            "/v1/settings/key-protector-policy",
            &serde_json::json!({ "hosts": { "names": ["SOMEONE-ELSE"] }, "min_policy_version": "v1" }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (status, body) = refused(unwrap(kp.to_bytes(), Some(token.clone())).await.unwrap()).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("host_not_selected"))
    );
    assert_eq!(
        r.admin_get("/v1/settings/key-protector-policy").await["hosts"]["names"][0],
        "SOMEONE-ELSE"
    );

    // A second service guardian; a protector to it alone is unwrapped with it.
    let resp = r
        .admin_send(reqwest::Method::POST, "/v1/guardians/second")
        .await;
    assert_eq!(resp.status(), 201);
    let info: serde_json::Value = resp.json().await.unwrap();
    let second = Guardian::from_pem(info["certificate_pem"].as_str().unwrap()).unwrap();
    let resp = r
        .admin_send(reqwest::Method::POST, "/v1/guardians/second")
        .await;
    assert_eq!(resp.status(), 409);
    r.admin_put("/v1/settings/key-protector-policy", &all_guarded())
        .await;
    let (kp2, transport2) =
        KeyProtector::new(owner.guardian(), &[second], &mut rand_core::OsRng).unwrap();
    let jwe = released_jwe(unwrap(kp2.to_bytes(), Some(token.clone())).await.unwrap()).await;
    assert_eq!(
        hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), &mut tpm).unwrap(),
        transport2.as_bytes()
    );
    // Audited with the protector's id.
    let audit = r.admin_get("/v1/audit?limit=1").await;
    assert_eq!(audit[0]["kind"], "key_protector");
    assert_eq!(audit[0]["object"], hgs_tpm::hex::encode(kp2.id()));
}

#[tokio::test]
async fn sqlite_key_protectors_unwrap_to_the_bound_key() {
    let clock = TestClock::new();
    let r = Running::start(
        Server::new(
            key_config(&clock),
            SqliteStore::connect("sqlite::memory:").await.unwrap(),
        )
        .await
        .unwrap(),
    )
    .await;
    key_protectors_unwrap_to_the_bound_key(&r, &clock).await;
}

#[tokio::test]
async fn postgres_key_protectors_unwrap_to_the_bound_key() {
    let clock = TestClock::new();
    let Some((a, _b)) = postgres_pair(&clock).await else {
        return;
    };
    key_protectors_unwrap_to_the_bound_key(&a, &clock).await;
}

// --- administration: bad input stores nothing --------------------------------------------

async fn bad_secrets_store_nothing<S: Store>(r: &Running<S>) {
    // Too large (64 KiB + 1): 413, nothing stored.
    let resp = put_secret(
        r,
        "big",
        &vec![7u8; hgs_keys::MAX_PLAINTEXT + 1],
        all_guarded(),
    )
    .await;
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"],
        "secret_too_large"
    );
    // Exactly 64 KiB is accepted.
    let resp = put_secret(r, "max", &vec![7u8; hgs_keys::MAX_PLAINTEXT], all_guarded()).await;
    assert_eq!(resp.status(), 201);
    // Bad names, bad base64, bad policies: 400.
    for name in bad_names() {
        let resp = put_secret(r, &path_escape(&name), b"v", all_guarded()).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(
            resp.json::<serde_json::Value>().await.unwrap()["error"],
            "invalid_name"
        );
    }
    let secret_text = "do-not-echo-this-value";
    for body in [
        serde_json::json!({ "value": "not base64!", "policy": all_guarded() }),
        serde_json::json!({ "value": "AAAA", "policy": { "hosts": "everyone" } }),
        serde_json::json!({ "value": secret_text, "policy": 5 }),
        serde_json::json!({ "value": [secret_text], "policy": all_guarded() }),
    ] {
        let resp = r.admin_put("/v1/secrets/bad", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let text = resp.text().await.unwrap();
        assert!(!text.contains(secret_text), "{text}");
    }
    // Unauthenticated admin calls: 401.
    let resp = r
        .client
        .put(r.url("/v1/secrets/x"))
        .json(&serde_json::json!({ "value": "AAAA", "policy": all_guarded() }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = r.client.get(r.url("/v1/secrets")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    // Only "max" is stored; the list shows no value.
    let list = r.admin_get("/v1/secrets").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["max"]);
    assert_eq!(list[0]["value_len"], hgs_keys::MAX_PLAINTEXT);
    assert!(list[0].get("value").is_none());
    assert_eq!(list[0]["policy"]["hosts"], "all_guarded");
    // Delete: 204, then 404.
    let resp = r
        .admin_send(reqwest::Method::DELETE, "/v1/secrets/max")
        .await;
    assert_eq!(resp.status(), 204);
    let resp = r
        .admin_send(reqwest::Method::DELETE, "/v1/secrets/max")
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(r.admin_get("/v1/secrets").await, serde_json::json!([]));
}

#[tokio::test]
async fn sqlite_bad_secrets_store_nothing() {
    let clock = TestClock::new();
    let r = Running::start(
        Server::new(
            key_config(&clock),
            SqliteStore::connect("sqlite::memory:").await.unwrap(),
        )
        .await
        .unwrap(),
    )
    .await;
    bad_secrets_store_nothing(&r).await;
}

#[tokio::test]
async fn postgres_bad_secrets_store_nothing() {
    let clock = TestClock::new();
    let Some((a, _b)) = postgres_pair(&clock).await else {
        return;
    };
    bad_secrets_store_nothing(&a).await;
}

// --- status page ------------------------------------------------------------------------

#[tokio::test]
async fn status_summarizes_the_key_service_without_values() {
    let clock = TestClock::new();
    let r = Running::start(
        Server::new(
            key_config(&clock),
            SqliteStore::connect("sqlite::memory:").await.unwrap(),
        )
        .await
        .unwrap(),
    )
    .await;
    let value = random_bytes(40);
    put_secret(&r, "status-secret", &value, all_guarded()).await;
    release(&r, "status-secret", None).await;
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
    assert!(page.contains("1 secret(s): status-secret (v1)"), "{page}");
    assert!(page.contains("1 guardian(s): default ("));
    assert!(page.contains("no cut-off"));
    assert!(
        page.contains("<td>refused</td><td>invalid_token</td><td>1</td>"),
        "{page}"
    );
    for enc in encodings(&value) {
        assert!(!page.contains(&enc));
    }
}

// --- at rest -----------------------------------------------------------------------------

/// The value's raw bytes and its base64, base64url and hex spellings.
fn encodings(value: &[u8]) -> Vec<String> {
    vec![
        Base64::encode_string(value),
        Base64Unpadded::encode_string(value),
        Base64UrlUnpadded::encode_string(value),
        hgs_tpm::hex::encode(value),
        hgs_tpm::hex::encode(value).to_uppercase(),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn sqlite_files_hold_no_secret_value_or_private_key() {
    let clock = TestClock::new();
    let dir = temp_dir("at-rest");
    let db = dir.join("hgs.db");
    let url = format!("sqlite:{}", db.display());
    // No configured token key: the generated one is stored, sealed.
    let mut config = fleet_config(&clock);
    config.master_key = Some(master_key());
    let store = SqliteStore::connect(&url).await.unwrap();
    let server = Server::new(config, store).await.unwrap();
    let r = Running::start(server).await;
    let values: Vec<Vec<u8>> = (0..5).map(|_| random_bytes(48)).collect();
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            put_secret(&r, &format!("s{i}"), v, all_guarded())
                .await
                .status(),
            201
        );
    }
    let resp = r
        .admin_send(reqwest::Method::POST, "/v1/guardians/g2")
        .await;
    assert_eq!(resp.status(), 201);
    // Every value is sealed (the guardian keys' absence is checked in the next test).
    let store = r.server.store();
    let cells = store.sealed_cells().await.unwrap();
    assert_eq!(
        cells.len(),
        5 + 2 + 1,
        "5 secrets, 2 guardians, the token key"
    );
    for c in &cells {
        assert!(c.sealed.starts_with("hgs-sealed/1."), "{:?}", c.table);
    }
    // Every file of the database: the main file, the WAL and the shared memory.
    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(bytes) = std::fs::read(&p) {
            files.push((p, bytes));
        }
    }
    assert!(files.len() >= 2, "the database and its WAL exist");
    for (p, bytes) in &files {
        for v in &values {
            assert!(!contains(bytes, v), "{}: a raw value", p.display());
            for enc in encodings(v) {
                assert!(!contains(bytes, enc.as_bytes()), "{}: {enc}", p.display());
            }
        }
    }
    // And the values are really there: each releases (via a real server) to a bound key.
    let host = SimulatedHost::new("K5", &healthy());
    r.register(&host).await;
    let mut tpm = SoftP256Key::from_scalar_bytes(&[0x38; 32]).unwrap();
    // This server generated its token key: take the token through a configured-key server on
    // the same file instead.
    drop(r);
    let mut config = key_config(&clock);
    config.master_key = Some(master_key());
    let r = Running::start(
        Server::new(config, SqliteStore::connect(&url).await.unwrap())
            .await
            .unwrap(),
    )
    .await;
    let token = token_for(
        &host,
        AttestationStatus::Passed,
        clock.now(),
        Some(tpm.bound_key()),
    );
    for (i, v) in values.iter().enumerate() {
        let jwe = released_jwe(release(&r, &format!("s{i}"), Some(&token)).await).await;
        assert_eq!(
            &hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), &mut tpm).unwrap(),
            v
        );
    }
}

#[tokio::test]
async fn sqlite_guardian_private_keys_are_not_in_the_files() {
    // The service's guardian keys never leave it; what any of them would look like in the
    // clear is a PKCS#8 document whose first 26 bytes are the same for every P-256 key
    // (SEQUENCE, version 0, id-ecPublicKey, prime256v1): that prefix, in any spelling, and any
    // PEM private key are absent from every file.
    let clock = TestClock::new();
    let dir = temp_dir("guardian-rest");
    let db = dir.join("hgs.db");
    let url = format!("sqlite:{}", db.display());
    let r = Running::start(
        Server::new(
            key_config(&clock),
            SqliteStore::connect(&url).await.unwrap(),
        )
        .await
        .unwrap(),
    )
    .await;
    for i in 0..4 {
        let resp = r
            .admin_send(reqwest::Method::POST, &format!("/v1/guardians/g{i}"))
            .await;
        assert_eq!(resp.status(), 201);
    }
    // The PKCS#8 encoding p256 writes for a P-256 key starts with these bytes (version 0,
    // id-ecPublicKey, prime256v1); none of the five guardians' keys may be in the files in
    // any spelling.
    let probe = GuardianKey::generate("probe", 0, 1, &mut rand_core::OsRng).unwrap();
    let der = probe.pkcs8_der();
    let prefix = &der[..26];
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(bytes) = std::fs::read(format!("{}{suffix}", db.display())) {
            assert!(!contains(&bytes, prefix), "raw PKCS#8 in {suffix}");
            for enc in [Base64::encode_string(prefix), hgs_tpm::hex::encode(prefix)] {
                assert!(
                    !contains(&bytes, &enc.as_bytes()[..24]),
                    "{enc} in {suffix}"
                );
            }
            assert!(!contains(&bytes, b"PRIVATE KEY"));
        }
    }
}

// --- master key rotation -----------------------------------------------------------------

async fn released_value(
    r: &Running<SqliteStore>,
    name: &str,
    token: &str,
    tpm: &mut SoftP256Key,
) -> Vec<u8> {
    let jwe = released_jwe(release(r, name, Some(token)).await).await;
    hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), tpm).unwrap()
}

#[tokio::test]
async fn master_key_rotation_reseals_everything_and_the_old_key_alone_no_longer_opens() {
    let clock = TestClock::new();
    let dir = temp_dir("rotate");
    let url = format!("sqlite:{}", dir.join("db").display());
    let old = MasterKey::from_bytes([0x01; 32]);
    let new = MasterKey::from_bytes([0x02; 32]);
    let host = SimulatedHost::new("K6", &healthy());
    let mut tpm = SoftP256Key::from_scalar_bytes(&[0x39; 32]).unwrap();
    let token = token_for(
        &host,
        AttestationStatus::Passed,
        clock.now(),
        Some(tpm.bound_key()),
    );
    let values: Vec<Vec<u8>> = (0..3).map(|_| random_bytes(20)).collect();

    // A legacy database: the token key stored in plaintext hex, as servers did before.
    let store = SqliteStore::connect(&url).await.unwrap();
    let legacy_hex = hgs_tpm::hex::encode(&[0x55; 32]);
    store
        .get_or_insert_secret("token-signing-key/p256", &legacy_hex)
        .await
        .unwrap();
    drop(store);

    // First start under `old`: the legacy key is sealed (and is still the token key).
    let start = |key: MasterKey, previous: Option<MasterKey>, token_key: bool| {
        let url = url.clone();
        let clock = clock.clone();
        async move {
            let mut c = fleet_config(&clock);
            c.master_key = Some(key);
            c.previous_master_key = previous;
            if token_key {
                c.token_key = Some(signer());
            }
            Server::new(c, SqliteStore::connect(&url).await.unwrap()).await
        }
    };
    let s = start(old.clone(), None, false).await.unwrap();
    assert_eq!(
        s.token_jwk(),
        TokenSigner::from_scalar_bytes(&[0x55; 32])
            .unwrap()
            .public_jwk(),
        "the legacy token key is kept"
    );
    let cells = s.store().sealed_cells().await.unwrap();
    assert!(cells.iter().all(|c| c.sealed.starts_with("hgs-sealed/1.")));
    assert!(cells.iter().all(|c| !c.sealed.contains(&legacy_hex)));
    let r = Running::start(s).await;
    r.register(&host).await;
    for (i, v) in values.iter().enumerate() {
        put_secret(&r, &format!("r{i}"), v, all_guarded()).await;
    }
    drop(r);

    // Rotation: new key, previous old. Everything opens; the token key is the same.
    let s = start(new.clone(), Some(old.clone()), false).await.unwrap();
    assert_eq!(
        s.token_jwk(),
        TokenSigner::from_scalar_bytes(&[0x55; 32])
            .unwrap()
            .public_jwk()
    );
    let ids: Vec<String> = s
        .store()
        .sealed_cells()
        .await
        .unwrap()
        .iter()
        .map(|c| c.sealed.split('.').nth(1).unwrap().to_owned())
        .collect();
    assert!(ids.iter().all(|id| id == new.id()), "{ids:?}");
    drop(s);

    // The old key alone no longer opens the database: a typed refusal to start.
    match start(old.clone(), None, true).await {
        Err(hgs_server::ServerError::KeyService(hgs_server::KeyServiceError::MasterKey(
            hgs_server::MasterKeyError::UnknownKey {
                key_id, current, ..
            },
        ))) => {
            assert_eq!(key_id, new.id());
            assert_eq!(current, old.id());
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // The new key alone does; every secret releases.
    let r = Running::start(start(new.clone(), None, true).await.unwrap()).await;
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            &released_value(&r, &format!("r{i}"), &token, &mut tpm).await,
            v
        );
    }
}

// --- kill -9 during rotation -------------------------------------------------------------

const ROT_DB: &str = "HGS_KEYS_ROTATION_DB";
const ROT_DIR: &str = "HGS_KEYS_ROTATION_DIR";
const ROT_KEYS: &str = "HGS_KEYS_ROTATION_KEYS";

/// Not a test of its own: the server process the rotation crash test starts and kills.
#[test]
fn rotation_child_server() {
    let (Ok(db), Ok(dir), Ok(keys)) = (
        std::env::var(ROT_DB),
        std::env::var(ROT_DIR),
        std::env::var(ROT_KEYS),
    ) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let (current, previous) = match keys.as_str() {
            "new+old" => (
                MasterKey::from_bytes([0x0b; 32]),
                Some(MasterKey::from_bytes([0x0a; 32])),
            ),
            _ => (MasterKey::from_bytes([0x0a; 32]), None),
        };
        let mut c = ServerConfig::new(ADMIN);
        c.master_key = Some(current);
        c.previous_master_key = previous;
        c.token_key = Some(signer());
        c.rate_limits = hgs_server::RateLimits::none();
        let store = SqliteStore::connect(&format!("sqlite:{db}")).await.unwrap();
        let server = Server::new(c, store).await.unwrap();
        serve_child(server, Path::new(&dir)).await;
    });
}

#[tokio::test]
async fn kill_9_during_master_key_rotation_loses_no_secret() {
    let dir = temp_dir("rotation-crash");
    let db = dir.join("hgs.db");
    let url = format!("sqlite:{}", db.display());
    let old = MasterKey::from_bytes([0x0a; 32]);
    let new = MasterKey::from_bytes([0x0b; 32]);
    // Many secrets, so the rotation's one transaction takes a while to write.
    let n = 1500;
    let values: Vec<Vec<u8>> = (0..n).map(|_| random_bytes(64)).collect();
    {
        let mut c = ServerConfig::new(ADMIN);
        c.master_key = Some(old.clone());
        c.token_key = Some(signer());
        let server = Server::new(c, SqliteStore::connect(&url).await.unwrap())
            .await
            .unwrap();
        let r = Running::start(server).await;
        let host = SimulatedHost::new("K7", &healthy());
        r.register(&host).await;
        for (i, v) in values.iter().enumerate() {
            assert_eq!(
                put_secret(&r, &format!("c{i}"), v, all_guarded())
                    .await
                    .status(),
                201
            );
        }
    }
    // Start rotating processes and kill each after a growing delay (some before, some during,
    // some after the commit).
    for delay_ms in [5u64, 10, 15, 20, 25, 30, 40, 80] {
        let _ = std::fs::remove_file(dir.join("port"));
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "rotation_child_server",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROT_DB, &db)
            .env(ROT_DIR, &dir)
            .env(ROT_KEYS, "new+old")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever the instant: each value is under the old or the new key, all under one.
        let store = SqliteStore::connect(&url).await.unwrap();
        let cells = store.sealed_cells().await.unwrap();
        assert_eq!(
            cells.len(),
            n + 1,
            "n secrets and the default guardian (the token key is configured)"
        );
        let ids: std::collections::BTreeSet<String> = cells
            .iter()
            .map(|c| c.sealed.split('.').nth(1).unwrap().to_owned())
            .collect();
        assert!(
            ids.len() == 1 && (ids.contains(old.id()) || ids.contains(new.id())),
            "{delay_ms} ms: {ids:?}"
        );
        eprintln!("killed after {delay_ms} ms: sealed under {ids:?}");
    }
    // A restart with both keys finishes the rotation, and every secret releases.
    let (mut child, base, client) = spawn_child(
        "rotation_child_server",
        &[
            (ROT_DB, &db),
            (ROT_DIR, &dir),
            (ROT_KEYS, Path::new("new+old")),
        ],
        &dir,
    );
    let host = SimulatedHost::new("K7", &healthy());
    let mut tpm = SoftP256Key::from_scalar_bytes(&[0x3a; 32]).unwrap();
    let clock = TestClock::new();
    // The child's clock is the system's: mint the token for now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let _ = clock;
    let token = token_for(&host, AttestationStatus::Passed, now, Some(tpm.bound_key()));
    for (i, v) in values.iter().enumerate().step_by(97) {
        let resp = client
            .post(format!("{base}/v1/secrets/c{i}/release"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let jwe = released_jwe(resp).await;
        assert_eq!(
            &hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), &mut tpm).unwrap(),
            v
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let store = SqliteStore::connect(&url).await.unwrap();
    assert!(store
        .sealed_cells()
        .await
        .unwrap()
        .iter()
        .all(|c| c.sealed.split('.').nth(1) == Some(new.id())));
}

// --- no secret in the server's output ----------------------------------------------------

const LOG_DB: &str = "HGS_KEYS_LOG_DB";
const LOG_DIR: &str = "HGS_KEYS_LOG_DIR";

/// Not a test of its own: the server whose output the log test reads.
#[test]
fn log_child_server() {
    let (Ok(db), Ok(dir)) = (std::env::var(LOG_DB), std::env::var(LOG_DIR)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut c = ServerConfig::new(ADMIN);
        c.master_key = Some(master_key());
        c.token_key = Some(signer());
        c.rate_limits = hgs_server::RateLimits::none();
        let store = SqliteStore::connect(&format!("sqlite:{db}")).await.unwrap();
        let server = Server::new(c, store).await.unwrap();
        serve_child(server, Path::new(&dir)).await;
    });
}

#[tokio::test]
async fn secret_values_never_reach_the_servers_output() {
    let dir = temp_dir("log");
    let db = dir.join("hgs.db");
    let log = dir.join("server.log");
    let _ = std::fs::remove_file(dir.join("port"));
    let out = std::fs::File::create(&log).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "log_child_server",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LOG_DB, &db)
        .env(LOG_DIR, &dir)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.join("port").exists() {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    let port = std::fs::read_to_string(dir.join("port")).unwrap();
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let value = random_bytes(32);
    let b64 = Base64UrlUnpadded::encode_string(&value);
    let host = SimulatedHost::new("K8", &healthy());
    let put = |path: String, body: serde_json::Value| {
        client
            .put(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    assert_eq!(
        put(format!("/v1/hosts/{}", host.name), host.registration())
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        put(
            "/v1/secrets/logged".into(),
            serde_json::json!({ "value": b64, "policy": all_guarded() })
        )
        .await
        .unwrap()
        .status(),
        201
    );
    // Releases, refusals, malformed bodies quoting the value.
    let mut tpm = SoftP256Key::from_scalar_bytes(&[0x3b; 32]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = token_for(&host, AttestationStatus::Passed, now, Some(tpm.bound_key()));
    let resp = client
        .post(format!("{base}/v1/secrets/logged/release"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let jwe = released_jwe(resp).await;
    assert_eq!(
        hgs_keys::decrypt(&jwe, &tpm.bound_key().clone(), &mut tpm).unwrap(),
        value
    );
    for body in [
        serde_json::json!({ "value": b64, "policy": "bad" }),
        serde_json::json!({ "value": b64, "extra": 1, "policy": all_guarded() }),
        serde_json::json!({ "value": [b64], "policy": all_guarded() }),
    ] {
        let resp = put("/v1/secrets/logged2".into(), body).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert!(!resp.text().await.unwrap().contains(&b64));
    }
    let _ = client
        .post(format!("{base}/v1/secrets/logged/release"))
        .bearer_auth("forged.token.here")
        .send()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let output = std::fs::read(&log).unwrap();
    for enc in encodings(&value) {
        assert!(
            !contains(&output, enc.as_bytes()),
            "{enc} in the server's output"
        );
    }
    assert!(!contains(&output, &value));
    assert!(!contains(&output, token.as_bytes()));
}

// --- the audit trail is bounded --------------------------------------------------------

async fn audit_is_bounded_by_age_and_count<S: Store>(store: &S) {
    let record = |at: u64, i: usize| hgs_server::AuditRecord {
        at,
        host: Some("H".into()),
        kind: "secret".into(),
        object: format!("s{i}"),
        token_id: "00".repeat(16),
        outcome: "refused".into(),
        reason: "not_passed".into(),
    };
    // 10 old rows, 30 recent ones.
    for i in 0..10 {
        store.record_audit(&record(1_000, i)).await.unwrap();
    }
    for i in 10..40 {
        store.record_audit(&record(START, i)).await.unwrap();
    }
    assert_eq!(store.audit(1000).await.unwrap().len(), 40);
    // By age: the 10 rows before START go.
    assert_eq!(store.purge_audit(START, 1000).await.unwrap(), 10);
    // By count: only the newest 25 stay, newest first.
    assert_eq!(store.purge_audit(0, 25).await.unwrap(), 5);
    let left = store.audit(1000).await.unwrap();
    assert_eq!(left.len(), 25);
    assert_eq!(left[0].object, "s39");
    assert_eq!(left[24].object, "s15");
    // Counted by outcome and reason for /status.
    assert_eq!(
        store.audit_counts(START).await.unwrap(),
        vec![("refused".to_owned(), "not_passed".to_owned(), 25)]
    );
}

#[tokio::test]
async fn sqlite_audit_is_bounded_by_age_and_count() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    audit_is_bounded_by_age_and_count(&store).await;
}

#[tokio::test]
async fn postgres_audit_is_bounded_by_age_and_count() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let store = PostgresStore::connect(&url, 4).await.unwrap();
    audit_is_bounded_by_age_and_count(&store).await;
}
