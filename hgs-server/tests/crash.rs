//! kill -9 loses nothing acknowledged: a server process (this test binary re-executed as a child)
//! acknowledges registrations and an attestation on SQLite, is killed with SIGKILL right after,
//! and a new process on the same file still has every registration and still refuses the used
//! challenge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;

use common::*;
use hgs_server::{Server, ServerConfig, SqliteStore};

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
        let config = ServerConfig {
            master_key: Some(master_key()),
            ..ServerConfig::new(ADMIN)
        };
        let server = Server::new(config, store).await.unwrap();
        serve_child(server, Path::new(&dir)).await;
    });
}

fn spawn(db: &Path, dir: &Path) -> (Child, String, reqwest::Client) {
    spawn_child(
        "crash_child_server",
        &[(CHILD_DB, db), (CHILD_DIR, dir)],
        dir,
    )
}

#[tokio::test]
async fn kill_9_right_after_the_acknowledgements_loses_nothing() {
    let dir: PathBuf = std::env::temp_dir().join(format!("hgs-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("hgs-server.db");

    let (mut child, base, client) = spawn(&db, &dir);
    let log = hgs_tpm::hex::encode(&healthy().build());
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
        .bearer_auth(ADMIN)
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
