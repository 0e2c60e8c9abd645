//! The operators' status page in a real headless browser (Debian's chromium, driven through
//! chromedriver's W3C WebDriver API): `/status` asks for a token, a wrong token is refused, the
//! operator token logs in, and the page shows hosts, last verdict and why, and token expiry; log
//! out ends the session.
//!
//! Without chromium and chromedriver the test fails when `CI` is set (scripts/test installs them)
//! and is skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use hgs_server::{Server, SqliteStore};
use hgs_testkit::synthetic::WindowsBoot;
use serde_json::{json, Value};

const OPERATOR: &str = "test-operator-token-9876543210";

fn tools() -> Option<(&'static str, &'static str)> {
    let works = |c: &str| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let browser = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| works(c));
    let driver = ["chromedriver"].into_iter().find(|c| works(c));
    match (browser, driver) {
        (Some(b), Some(d)) => Some((b, d)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "chromium and chromedriver are needed by the status page test (scripts/test \
             installs the packages chromium and chromium-driver)"
        ),
        _ => {
            eprintln!("SKIPPED: install chromium and chromium-driver to run the status page test");
            None
        }
    }
}

/// A chromedriver process and one headless chromium session, ended on drop.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Browser {
    async fn start(browser: &str, driver: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("hgs-chromium-{}", std::process::id()));
        let binary = String::from_utf8(
            Command::new("sh")
                .args(["-c", &format!("command -v {browser}")])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // The test server's certificate is self-signed and generated per run.
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": binary.trim(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", format!("--user-data-dir={}", profile.display())],
            }
        }}});
        let mut b = Browser {
            driver,
            http,
            base,
            session: String::new(),
        };
        let created = b.call(reqwest::Method::POST, "/session", caps).await;
        b.session = created["sessionId"].as_str().unwrap().to_owned();
        b
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = self.http.request(method, url);
        let req = if body.is_null() { req } else { req.json(&body) };
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(v["value"]["error"].is_null(), "webdriver {path}: {v}");
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        let path = format!("/session/{}/url", self.session);
        self.call(reqwest::Method::POST, &path, json!({ "url": url }))
            .await;
    }

    async fn source(&self) -> String {
        let path = format!("/session/{}/source", self.session);
        let v = self.call(reqwest::Method::GET, &path, Value::Null).await;
        v.as_str().unwrap().to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let path = format!("/session/{}/element", self.session);
        let v = self
            .call(
                reqwest::Method::POST,
                &path,
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        let path = format!("/session/{}/element/{id}/value", self.session);
        self.call(reqwest::Method::POST, &path, json!({ "text": text }))
            .await;
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        let path = format!("/session/{}/element/{id}/click", self.session);
        self.call(reqwest::Method::POST, &path, json!({})).await;
    }

    /// Waits until the page's source contains `needle`.
    async fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = self.source().await;
            if page.contains(needle) {
                return page;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in {page}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_needs_a_login_then_shows_hosts_verdicts_reasons_and_token_expiry() {
    let Some((browser, driver)) = tools() else {
        return;
    };
    let clock = TestClock::new();
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let mut c = config(&clock);
    c.operator_token = Some(OPERATOR.into());
    let r = Running::start(Server::new(c, store).await.unwrap()).await;
    r.register_policies().await;

    let good = SimulatedHost::new("HOST01", &healthy());
    let bad = SimulatedHost::new(
        "NOSB",
        &WindowsBoot {
            secure_boot: false,
            ..healthy()
        },
    );
    for h in [&good, &bad] {
        r.register(h).await;
        let msg = r.challenge(h).await;
        assert_eq!(r.attest(&h.answer(&msg)).await.0, 200);
    }

    let b = Browser::start(browser, driver).await;
    b.go(&r.url("/status")).await;
    // No token: the login form, and nothing about the hosts.
    let page = b.wait_for("id=\"token\"").await;
    assert!(!page.contains("HOST01") && !page.contains("NOSB"), "{page}");

    // A wrong token: refused, still nothing about the hosts.
    b.type_into("#token", "not-the-operator-token-000").await;
    b.click("#login").await;
    let page = b.wait_for("id=\"refused\"").await;
    assert!(!page.contains("HOST01"), "{page}");

    // The operator token: the status page.
    b.type_into("#token", OPERATOR).await;
    b.click("#login").await;
    let dom = b.wait_for("registered host(s)").await;
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
    assert!(dom.contains("2 registered host(s)"), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");

    // The session cookie carries on to a reload; log out ends it.
    b.go(&r.url("/status")).await;
    b.wait_for("registered host(s)").await;
    b.click("button[type=submit]").await;
    let page = b.wait_for("id=\"token\"").await;
    assert!(!page.contains("HOST01"), "{page}");
    let path = format!("/session/{}", b.session);
    b.call(reqwest::Method::DELETE, &path, Value::Null).await;
}
