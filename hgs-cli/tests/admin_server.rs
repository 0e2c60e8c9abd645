//! The admin verbs against a live `hgs serve` (SQLite, loopback, self-signed TLS) give the same
//! output, `--json` and exit codes as against a file store: the same sequence of verbs runs on
//! both and their answers are compared. Then `hgs copy` moves a file store's registrations to a
//! fresh server and back, and the listings agree.
//!
//! Fixtures: the EK of a simulated host (hgs-testkit), the synthetic healthy reference log, a CI
//! policy and TPM vendor certificates from ../shared/corpus.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HGS: &str = env!("CARGO_BIN_EXE_hgs");
const TOKEN: &str = "admin-server-test-token-0123456789";
const CI_POLICY: &str = "aaronlocker__SiPolicy-Block__2579f3f8.p7b";

/// `hgs serve` killed when the test ends, however it ends.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, db: &str) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let cert = format!("{db}.pem");
    let child = Command::new(HGS)
        .current_dir(dir)
        .env_remove("HGS_SERVER")
        .args([
            "serve",
            "--listen",
            &listen,
            "--db",
            &format!("sqlite:{db}"),
            "--admin-token-file",
            "admin-token",
            "--cert-out",
            &cert,
        ])
        .spawn()
        .unwrap();
    let served = Served {
        child,
        url: format!("https://{listen}"),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() || !dir.join(&cert).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "hgs serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    served
}

fn hgs(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(HGS)
        .current_dir(dir)
        .env_remove("HGS_SERVER")
        .env_remove("HGS_ADMIN_TOKEN")
        .env_remove("HGS_ADMIN_TOKEN_FILE")
        .env("HGS_CONFIG", dir.join("no-config.json"))
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "$ hgs {} -> {:?}\n{}{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn corpus(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(sub)
}

/// What a verb answered, with the timing of `roots add` taken out.
#[derive(Debug, PartialEq)]
struct Answer {
    code: Option<i32>,
    stdout: String,
}

fn answer(out: &Output) -> Answer {
    let stdout = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.find(" in ") {
            Some(i) if l.starts_with("installed ") => l[..i].to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    Answer {
        code: out.status.code(),
        stdout,
    }
}

/// The verbs both backends run, in order, each with whether it must succeed.
fn script() -> Vec<(Vec<&'static str>, bool)> {
    vec![
        (vec!["roots", "add", "roots"], true),
        (
            vec![
                "host",
                "add",
                "--ekpub",
                "ek.pub",
                "--name",
                "H1",
                "--policy-version",
                "v1",
                "--force",
            ],
            true,
        ),
        // v2 refuses a host without an EK certificate; the name is taken; the naming rule.
        (
            vec!["host", "add", "--ekpub", "ek2.pub", "--name", "H2"],
            false,
        ),
        (
            vec![
                "host",
                "add",
                "--ekpub",
                "ek2.pub",
                "--name",
                "H1",
                "--policy-version",
                "v1",
                "--force",
            ],
            false,
        ),
        (
            vec![
                "host",
                "add",
                "--ekpub",
                "ek2.pub",
                "--name",
                "bad name",
                "--policy-version",
                "v1",
                "--force",
            ],
            false,
        ),
        (
            vec![
                "host",
                "add",
                "--ekpub",
                "ek2.pub",
                "--name",
                "H2",
                "--policy-version",
                "v1",
                "--force",
                "--json",
            ],
            true,
        ),
        (
            vec![
                "tpm-policy",
                "add",
                "--path",
                "ref.tcglog",
                "--name",
                "class",
                "--policy-version",
                "v1",
            ],
            true,
        ),
        (
            vec![
                "ci-policy",
                "add",
                "--path",
                "policy.p7b",
                "--name",
                "enforced",
                "--policy-version",
                "v1",
            ],
            true,
        ),
        (
            vec![
                "ci-policy",
                "add",
                "--from-log",
                "ref.tcglog",
                "--name",
                "measured",
                "--json",
            ],
            true,
        ),
        (
            vec![
                "ci-policy",
                "add",
                "--path",
                "policy.p7b",
                "--name",
                "enforced",
            ],
            false,
        ),
        (vec!["host", "list"], true),
        (vec!["host", "list", "--json"], true),
        (vec!["policy", "disable", "Hgs_NoDumps"], true),
        (vec!["policy", "disable", "Hgs_SecureBootSettings"], false),
        (vec!["policy", "list"], true),
        (vec!["policy", "enable", "NoDumps"], true),
        (vec!["policy", "list", "--json"], true),
        (vec!["policy", "remove", "measured"], true),
        (vec!["policy", "remove", "measured"], false),
        (vec!["host", "remove", "H2"], true),
        (vec!["host", "remove", "H2"], false),
        (vec!["host", "list"], true),
    ]
}

fn fixtures(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("admin-token"), TOKEN).unwrap();
    for (file, name) in [("ek.pub", "H1"), ("ek2.pub", "H2")] {
        let host = hgs_testkit::host::SimulatedHost::new(name, &hgs_testkit::host::healthy());
        let ekpub = host.registration()["ekpub"].as_str().unwrap().to_string();
        std::fs::write(dir.join(file), hgs_tpm::hex::decode(&ekpub).unwrap()).unwrap();
    }
    std::fs::write(dir.join("ref.tcglog"), hgs_testkit::host::healthy().build()).unwrap();
    std::fs::copy(corpus("cipolicy").join(CI_POLICY), dir.join("policy.p7b")).unwrap();
    // A vendor's roots and intermediates, as TrustedTpm.cab lays them out.
    let roots = dir.join("roots");
    std::fs::create_dir_all(&roots).unwrap();
    copy_tree(&corpus("ekcert/roots/IFX"), &roots.join("IFX"));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn server_args<'a>(served: &'a Served, cert: &'a str) -> Vec<&'a str> {
    vec![
        "--server",
        &served.url,
        "--server-cert",
        cert,
        "--admin-token-file",
        "admin-token",
    ]
}

#[test]
fn admin_verbs_answer_the_same_on_a_server_as_on_a_file_store() {
    let dir = std::env::temp_dir().join(format!("hgs-admin-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    fixtures(&dir);
    let served = serve(&dir, "one.db");
    let server = server_args(&served, "one.db.pem");

    for (args, must_succeed) in script() {
        let mut on_store = args.clone();
        on_store.extend(["--store", "store"]);
        let mut on_server = args.clone();
        on_server.extend(server.iter().copied());
        let (a, b) = (hgs(&dir, &on_store), hgs(&dir, &on_server));
        assert_eq!(
            a.status.success(),
            must_succeed,
            "{args:?} on the file store"
        );
        assert_eq!(answer(&a), answer(&b), "{args:?}: store vs server");
        if !must_succeed {
            assert_eq!(a.status.code(), Some(2), "{args:?}");
            // The same reason (the server's message may add its status and kind).
            let (ea, eb) = (
                String::from_utf8_lossy(&a.stderr).into_owned(),
                String::from_utf8_lossy(&b.stderr).into_owned(),
            );
            let reason = ea.trim().rsplit(": ").next().unwrap().to_string();
            assert!(eb.contains(&reason), "{args:?}: {ea:?} vs {eb:?}");
        }
    }

    // roots list: the same certificates (the server does not record the file each came from).
    let strip = |out: Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let list = v.as_array_mut().unwrap();
        for r in list.iter_mut() {
            r.as_object_mut().unwrap().remove("source");
        }
        list.sort_by(|a, b| a["fingerprint"].as_str().cmp(&b["fingerprint"].as_str()));
        v
    };
    let mut args = vec!["roots", "list", "--json"];
    let on_store = strip(hgs(&dir, &[&args[..], &["--store", "store"]].concat()));
    args.extend(server.iter().copied());
    assert!(
        on_store == strip(hgs(&dir, &args)),
        "roots list --json: store vs server"
    );
    assert!(!on_store.as_array().unwrap().is_empty());

    // The admin token is required, and a wrong one refused.
    std::fs::write(dir.join("wrong-token"), "not-the-token").unwrap();
    let out = hgs(
        &dir,
        &[
            "host",
            "list",
            "--server",
            &served.url,
            "--server-cert",
            "one.db.pem",
            "--admin-token-file",
            "wrong-token",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    let out = hgs(
        &dir,
        &[
            "host",
            "list",
            "--server",
            &served.url,
            "--server-cert",
            "one.db.pem",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin token"));
    // The server named by the environment, the token too.
    let out = Command::new(HGS)
        .current_dir(&dir)
        .env("HGS_CONFIG", dir.join("no-config.json"))
        .env("HGS_SERVER", &served.url)
        .env("HGS_SERVER_CERT", dir.join("one.db.pem"))
        .env("HGS_ADMIN_TOKEN", TOKEN)
        .args(["host", "list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("H1 "));

    // hgs copy: the file store to a fresh server, and that server to a fresh store.
    let second = serve(&dir, "two.db");
    let out = hgs(
        &dir,
        &[
            "copy",
            "--from",
            "store",
            "--to",
            &second.url,
            "--server-cert",
            "two.db.pem",
            "--admin-token-file",
            "admin-token",
        ],
    );
    assert!(out.status.success());
    let out = hgs(
        &dir,
        &[
            "copy",
            "--from",
            &second.url,
            "--to",
            "back",
            "--server-cert",
            "two.db.pem",
            "--admin-token-file",
            "admin-token",
        ],
    );
    assert!(out.status.success());
    let second_args = server_args(&second, "two.db.pem");
    for listing in [
        vec!["host", "list", "--json"],
        vec!["policy", "list", "--json"],
    ] {
        let original = hgs(&dir, &[&listing[..], &["--store", "store"]].concat());
        let copied = hgs(&dir, &[&listing[..], &second_args[..]].concat());
        let back = hgs(&dir, &[&listing[..], &["--store", "back"]].concat());
        assert_eq!(answer(&original), answer(&copied), "{listing:?}");
        assert_eq!(answer(&original), answer(&back), "{listing:?}");
    }
    // A second copy refuses the names now taken, and writes nothing.
    let out = hgs(
        &dir,
        &[
            "copy",
            "--from",
            "store",
            "--to",
            &second.url,
            "--server-cert",
            "two.db.pem",
            "--admin-token-file",
            "admin-token",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already registered"));
    let _ = std::fs::remove_dir_all(&dir);
}
