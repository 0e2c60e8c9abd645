//! The operators' status page in a real headless browser (Debian's chromium): hosts, last verdict
//! and why, token expiry, and a host name full of markup shown as text, never run.
//!
//! Without chromium the test fails when `CI` is set (scripts/test installs it) and is skipped
//! with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hgs_server::{Server, SqliteStore};
use hgs_testkit::synthetic::WindowsBoot;

fn chromium() -> Option<&'static str> {
    for c in ["chromium", "chromium-browser"] {
        if std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(c);
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "chromium is not installed: the status page test needs it (scripts/test installs it)"
        );
    }
    eprintln!("SKIPPED: install chromium to run the status page test");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_hosts_verdicts_reasons_and_token_expiry_in_a_browser() {
    let Some(browser) = chromium() else {
        return;
    };
    let clock = TestClock::new();
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let r = Running::start(Server::new(config(&clock), store).await.unwrap()).await;
    r.register_policies().await;

    let good = SimulatedHost::new("HOST01", &healthy());
    let bad = SimulatedHost::new(
        "NOSB",
        &WindowsBoot {
            secure_boot: false,
            ..healthy()
        },
    );
    let evil = SimulatedHost::new("EVIL<script>alert(1)</script>", &healthy());
    for h in [&good, &bad] {
        r.register(h).await;
        let msg = r.challenge(h).await;
        assert_eq!(r.attest(&h.answer(&msg)).await.0, 200);
    }
    let resp = r
        .admin_put(
            "/v1/hosts/EVIL%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            &evil.registration(),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());

    let profile = std::env::temp_dir().join(format!("hgs-chromium-{}", std::process::id()));
    let url = r.url("/status");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                // The test server's certificate is self-signed and generated per run.
                "--ignore-certificate-errors",
                &format!("--user-data-dir={}", profile.display()),
                "--dump-dom",
                &url,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("hgs-server status"),
        "chromium: {}\n{dom}",
        String::from_utf8_lossy(&out.stderr)
    );

    let row = |name: &str| {
        dom.lines()
            .find(|l| l.contains(&format!("<td class=\"host\">{name}</td>")))
            .unwrap_or_else(|| panic!("no row for {name}: {dom}"))
            .to_owned()
    };
    let good_row = row("HOST01");
    assert!(good_row.contains("Passed"), "{good_row}");
    let lifetime = hgs_server::DEFAULT_TOKEN_LIFETIME;
    assert!(
        good_row.contains(&format!("valid for {lifetime} s")),
        "{good_row}"
    );
    let bad_row = row("NOSB");
    assert!(bad_row.contains("InsecureHostConfiguration"), "{bad_row}");
    assert!(bad_row.contains("no token"), "{bad_row}");
    assert!(bad_row.to_lowercase().contains("secure boot"), "{bad_row}");
    // The markup in the name is text in the browser's DOM, not an element.
    let evil_row = row("EVIL&lt;script&gt;alert(1)&lt;/script&gt;");
    assert!(evil_row.contains("never attested"), "{evil_row}");
    assert!(!dom.contains("<script"), "{dom}");
    assert!(dom.contains("3 registered host(s)"), "{dom}");
}
