//! Shared by the server tests: a simulated host (software EK and AK over a synthetic Windows boot
//! log) and a running HTTPS server on an ephemeral 127.0.0.1 port with a client that trusts its
//! self-signed certificate.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hgs_attest::{ChallengeMessage, Evidence};
use hgs_server::{Clock, Server, ServerConfig, Store, TlsIdentity};
// The simulated host moved to hgs-testkit (shared with other crates' tests); re-exported so
// the tests keep their paths.
#[allow(unused_imports)]
pub use hgs_testkit::host::{healthy, seed, SimulatedHost, CI_DIGEST};

pub const ADMIN: &str = "test-admin-token-0123456789";
pub const START: u64 = 1_800_000_000;

/// A test clock that can be moved.
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> TestClock {
        TestClock(Arc::new(AtomicU64::new(START)))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn advance(&self, s: u64) {
        self.0.fetch_add(s, Ordering::SeqCst);
    }
    pub fn clock(&self) -> Clock {
        let t = self.0.clone();
        Clock::from_fn(move || t.load(Ordering::SeqCst))
    }
}

/// The tests' master key: fixed, so replicas and restarts on one database open what another
/// sealed.
pub fn master_key() -> hgs_server::MasterKey {
    hgs_server::MasterKey::from_bytes([0x4d; 32])
}

pub fn config(clock: &TestClock) -> ServerConfig {
    let mut c = ServerConfig::new(ADMIN);
    c.clock = clock.clock();
    c.master_key = Some(master_key());
    c
}

/// [`config`] for a simulated fleet: every host attests from this one machine's address, which
/// the per-client rate limit is not meant for (each real host has its own).
pub fn fleet_config(clock: &TestClock) -> ServerConfig {
    let mut c = config(clock);
    c.rate_limits = hgs_server::RateLimits::none();
    c
}

/// A server running over HTTPS on 127.0.0.1, and a client trusting its certificate.
pub struct Running<S: Store> {
    pub server: Server<S>,
    pub base: String,
    pub client: reqwest::Client,
    pub handle: axum_server::Handle<std::net::SocketAddr>,
    /// The server certificate (PEM), for more clients.
    pub cert_pem: String,
}

impl<S: Store> Running<S> {
    pub async fn start(server: Server<S>) -> Running<S> {
        let tls = TlsIdentity::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = axum_server::Handle::new();
        let (srv, h) = (server.clone(), handle.clone());
        let cert = reqwest::Certificate::from_pem(tls.certificate_pem().as_bytes()).unwrap();
        let cert_pem = tls.certificate_pem();
        tokio::spawn(async move { srv.serve(listener, &tls, h).await.unwrap() });
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert)
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        Running {
            server,
            base: format!("https://localhost:{port}"),
            client,
            handle,
            cert_pem,
        }
    }

    /// Another client trusting the server, connecting from `local` (any 127.0.0.0/8 address is
    /// this machine's loopback: a second client address for the per-client rate limit).
    pub fn client_from(&self, local: std::net::IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap())
            .local_address(local)
            .pool_max_idle_per_host(64)
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn admin_put(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(ADMIN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// An admin request without a body (`DELETE`, or `POST` to an action path).
    pub async fn admin_send(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
    }

    /// An admin `GET`, its JSON body.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        self.admin_send(reqwest::Method::GET, path)
            .await
            .json()
            .await
            .unwrap()
    }

    /// Registers the healthy baseline and CI policy (v1).
    pub async fn register_policies(&self) {
        let log = hgs_tpm::hex::encode(&healthy().build());
        let r = self
            .admin_put(
                "/v1/baselines/class",
                &serde_json::json!({ "reference_log": log, "policy_version": "v1" }),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = self
            .admin_put(
                "/v1/ci-policies/ci",
                &serde_json::json!({ "reference_log": log, "policy_version": "v1" }),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    pub async fn register(&self, host: &SimulatedHost) {
        let r = self
            .admin_put(&format!("/v1/hosts/{}", host.name), &host.registration())
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    pub async fn challenge(&self, host: &SimulatedHost) -> ChallengeMessage {
        let r = self
            .client
            .post(self.url("/v1/challenges"))
            .json(&host.challenge_body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn attest(&self, evidence: &Evidence) -> (u16, serde_json::Value) {
        let r = self
            .client
            .post(self.url("/v1/attestations"))
            .json(evidence)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }
}

/// Names the naming rule (`hgs_policy::Name`) refuses: NUL (PostgreSQL `text` cannot hold it),
/// newline, space, a URL path separator, a leading dash, 5,000 characters.
pub fn bad_names() -> Vec<String> {
    vec![
        "a\0b".into(),
        "a\nb".into(),
        "a b".into(),
        "a/b".into(),
        "-lead".into(),
        "x".repeat(5000),
    ]
}

/// Every byte but letters and digits percent-encoded, for a name in a URL path.
pub fn path_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every endpoint that takes a host, baseline or CI policy name refuses each of [`bad_names`]
/// with 400 `invalid_name` and the naming rule's own message, and stores nothing: the same on
/// every engine.
pub async fn bad_names_are_refused_everywhere<S: Store>(srv: &Running<S>) {
    let before = [
        srv.admin_get("/v1/hosts").await,
        srv.admin_get("/v1/baselines").await,
        srv.admin_get("/v1/ci-policies").await,
    ];
    let host = SimulatedHost::new("H1", &healthy());
    let log = hgs_tpm::hex::encode(&healthy().build());
    let reference = serde_json::json!({ "reference_log": log, "policy_version": "v1" });
    for name in bad_names() {
        let rule = hgs_attest::policy::Name::new(&name)
            .unwrap_err()
            .to_string();
        let escaped = path_escape(&name);
        let mut answers = vec![
            srv.admin_put(&format!("/v1/hosts/{escaped}"), &host.registration())
                .await,
            srv.admin_put(&format!("/v1/baselines/{escaped}"), &reference)
                .await,
            srv.admin_put(&format!("/v1/ci-policies/{escaped}"), &reference)
                .await,
        ];
        for path in ["hosts", "baselines", "ci-policies"] {
            answers.push(
                srv.admin_send(reqwest::Method::DELETE, &format!("/v1/{path}/{escaped}"))
                    .await,
            );
        }
        let mut body = host.challenge_body();
        body["host"] = serde_json::Value::String(name.clone());
        answers.push(
            srv.client
                .post(srv.url("/v1/challenges"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        );
        for r in answers {
            let url = r.url().path().chars().take(60).collect::<String>();
            assert_eq!(r.status(), 400, "{url}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"], "invalid_name", "{url}: {body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.ends_with(&rule), "{url}: {message:?} vs {rule:?}");
            assert!(message.len() < 300, "{url}: the message is bounded");
        }
    }
    for (path, before) in ["/v1/hosts", "/v1/baselines", "/v1/ci-policies"]
        .into_iter()
        .zip(before)
    {
        assert_eq!(srv.admin_get(path).await, before, "{path}: nothing stored");
    }
}

/// A new, empty database `name` on the PostgreSQL server at `url` (dropped first if a previous
/// run left it); returns its URL.
pub async fn create_postgres_database(url: &str, name: &str) -> String {
    use sqlx::Executor;
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let mut u = reqwest::Url::parse(url).unwrap();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// The server half of a child-process server (see [`spawn_child`]): serves `server` over HTTPS
/// on an ephemeral port, after writing its certificate to `DIR/cert.pem` and then its port to
/// `DIR/port` (renamed into place, so the parent never reads half a number).
pub async fn serve_child<S: Store>(server: Server<S>, dir: &Path) {
    let tls = TlsIdentity::self_signed(&["localhost".into()]).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(dir.join("cert.pem"), tls.certificate_pem()).unwrap();
    std::fs::write(dir.join("port.tmp"), port.to_string()).unwrap();
    std::fs::rename(dir.join("port.tmp"), dir.join("port")).unwrap();
    server
        .serve(listener, &tls, axum_server::Handle::new())
        .await
        .unwrap();
}

/// Starts this test binary again as a server process running only the test `child_test` (which
/// calls [`serve_child`] with `dir` when it finds `env` set), waits for its port, and returns it
/// with its base URL and a client trusting its certificate. Killing the process is the caller's.
pub fn spawn_child(
    child_test: &str,
    env: &[(&str, &Path)],
    dir: &Path,
) -> (Child, String, reqwest::Client) {
    let _ = std::fs::remove_file(dir.join("port"));
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child_test, "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .spawn()
        .unwrap();
    let start = Instant::now();
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the child server process did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    (child, format!("https://localhost:{port}"), client)
}
