//! kill -9 loses nothing acknowledged: a server process (this test binary re-executed as a child)
//! acknowledges registrations and an attestation on SQLite, is killed with SIGKILL right after,
//! and a new process on the same file still has every registration and still refuses the used
//! challenge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;
use hgs_server::{Server, ServerConfig, SqliteStore, TlsIdentity};

const CHILD_DB: &str = "HGS_CRASH_CHILD_DB";
const CHILD_DIR: &str = "HGS_CRASH_CHILD_DIR";

/// Not a test of its own: the server process the crash test starts (and kills).
#[test]
fn crash_child_server() {
    let (Ok(db), Ok(dir)) = (std::env::var(CHILD_DB), std::env::var(CHILD_DIR)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = SqliteStore::connect(&format!("sqlite:{db}")).await.unwrap();
        let server = Server::new(ServerConfig::new(ADMIN), store).await.unwrap();
        let tls = TlsIdentity::self_signed(&["localhost".into()]).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::fs::write(Path::new(&dir).join("cert.pem"), tls.certificate_pem()).unwrap();
        std::fs::write(Path::new(&dir).join("port.tmp"), port.to_string()).unwrap();
        std::fs::rename(
            Path::new(&dir).join("port.tmp"),
            Path::new(&dir).join("port"),
        )
        .unwrap();
        server
            .serve(listener, &tls, axum_server::Handle::new())
            .await
            .unwrap();
    });
}

fn spawn(db: &Path, dir: &Path) -> (Child, String, reqwest::Client) {
    let _ = std::fs::remove_file(dir.join("port"));
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_server",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, db)
        .env(CHILD_DIR, dir)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "child server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    (child, format!("https://localhost:{port}"), client)
}

#[tokio::test]
async fn kill_9_right_after_the_acknowledgements_loses_nothing() {
    let dir: PathBuf = std::env::temp_dir().join(format!("hgs-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("hgs-server.db");

    let (mut child, base, client) = spawn(&db, &dir);
    let log = hgs_tcglog::hex(&healthy().build());
    for (path, body) in [
        (
            "/v1/baselines/class",
            serde_json::json!({ "reference_log": log, "policy_version": "v1" }),
        ),
        (
            "/v1/ci-policies/ci",
            serde_json::json!({ "reference_log": log, "policy_version": "v1" }),
        ),
    ] {
        let r = client
            .put(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let hosts: Vec<SimulatedHost> = (0..20)
        .map(|i| SimulatedHost::new(&format!("H{i:02}"), &healthy()))
        .collect();
    for h in &hosts {
        let r = client
            .put(format!("{base}/v1/hosts/{}", h.name))
            .bearer_auth(ADMIN)
            .json(&h.registration())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let msg: hgs_attest::ChallengeMessage = client
        .post(format!("{base}/v1/challenges"))
        .json(&hosts[0].challenge_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let evidence = hosts[0].answer(&msg);
    let r = client
        .post(format!("{base}/v1/attestations"))
        .json(&evidence)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // SIGKILL at once: no shutdown, no checkpoint.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, base, client) = spawn(&db, &dir);
    let listed: serde_json::Value = client
        .get(format!("{base}/v1/hosts"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), hosts.len(), "{listed}");
    let r = client
        .post(format!("{base}/v1/attestations"))
        .json(&evidence)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "the consumed challenge stays consumed");
    let page = client
        .get(format!("{base}/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Passed"),
        "the acknowledged verdict is kept: {page}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
