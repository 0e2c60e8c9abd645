//! `hgs guardian new|export` and `hgs serve`'s master key, through the real binary: a new
//! guardian's key file is 0600 and never overwritten; export fetches the running server's
//! default guardian without a token; the master key is generated 0600 next to the database; a
//! rotation with --previous-master-key-file re-seals, after which the old key alone cannot start
//! the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hgs_kps::{Guardian, GuardianKey};

const HGS: &str = env!("CARGO_BIN_EXE_hgs");
const TOKEN: &str = "guardian-cli-test-token-0123456789";

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

fn serve_args(dir: &Path, extra: &[&str]) -> (Command, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(HGS);
    cmd.current_dir(dir)
        .env_remove("HGS_ADMIN_TOKEN")
        .args([
            "serve",
            "--listen",
            &listen,
            "--db",
            "sqlite:data/hgs.db",
            "--admin-token-file",
            "admin-token",
            "--cert-out",
            "server.pem",
        ])
        .args(extra);
    (cmd, listen)
}

fn serve(dir: &Path, extra: &[&str]) -> Served {
    let _ = std::fs::remove_file(dir.join("server.pem"));
    let (mut cmd, listen) = serve_args(dir, extra);
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() || !dir.join("server.pem").exists() {
        assert!(Instant::now() < deadline, "hgs serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Served {
        child,
        url: format!("https://{listen}"),
    }
}

fn hgs(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(HGS)
        .current_dir(dir)
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

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn guardian_new_writes_a_0600_key_that_is_never_overwritten() {
    let dir = std::env::temp_dir().join(format!("hgs-guardian-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = [
        "guardian",
        "new",
        "--name",
        "Owner",
        "--cert-out",
        "owner.pem",
        "--key-out",
        "owner.key",
        "--days",
        "30",
    ];
    let out = hgs(&dir, &args);
    assert!(out.status.success());
    let key_pem = std::fs::read_to_string(dir.join("owner.key")).unwrap();
    let cert_pem = std::fs::read_to_string(dir.join("owner.pem")).unwrap();
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("owner.key")), 0o600);
    let key = GuardianKey::from_pem(&key_pem, &cert_pem).unwrap();
    assert_eq!(key.guardian().name(), "CN=Owner");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&key.guardian().fingerprint().to_string())
    );
    // Again: refused, the key unchanged.
    let out = hgs(&dir, &args);
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.join("owner.key")).unwrap(),
        key_pem
    );
    // A name the certificate cannot carry.
    let long = "x".repeat(65);
    let out = hgs(
        &dir,
        &[
            "guardian",
            "new",
            "--name",
            &long,
            "--cert-out",
            "l.pem",
            "--key-out",
            "l.key",
        ],
    );
    assert!(!out.status.success());
    assert!(!dir.join("l.key").exists());
}

#[test]
fn export_fetches_the_default_guardian_and_master_key_rotation_reseals() {
    let dir = std::env::temp_dir().join(format!("hgs-guardian-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("admin-token"), TOKEN).unwrap();

    // First start: the master key is generated next to the database, 0600.
    let served = serve(&dir, &[]);
    let master = dir.join("data/hgs-master-key");
    assert!(master.exists(), "generated next to the database");
    #[cfg(unix)]
    assert_eq!(mode(&master), 0o600);
    let out = hgs(
        &dir,
        &[
            "guardian",
            "export",
            "--server",
            &served.url,
            "--server-cert",
            "server.pem",
            "--out",
            "fabric.pem",
        ],
    );
    assert!(out.status.success());
    let fabric =
        Guardian::from_pem(&std::fs::read_to_string(dir.join("fabric.pem")).unwrap()).unwrap();
    assert_eq!(fabric.name(), "CN=default");
    // An unknown guardian: a clear failure, nothing written.
    let out = hgs(
        &dir,
        &[
            "guardian",
            "export",
            "--server",
            &served.url,
            "--server-cert",
            "server.pem",
            "--name",
            "nope",
            "--out",
            "nope.pem",
        ],
    );
    assert!(!out.status.success());
    assert!(!dir.join("nope.pem").exists());
    drop(served);

    // Rotation: a new key file, the old one as previous.
    std::fs::rename(&master, dir.join("old-master-key")).unwrap();
    let mut new_key = std::fs::OpenOptions::new();
    new_key.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut new_key, 0o600);
    std::io::Write::write_all(
        &mut new_key.open(dir.join("new-master-key")).unwrap(),
        "ab".repeat(32).as_bytes(),
    )
    .unwrap();
    let served = serve(
        &dir,
        &[
            "--master-key-file",
            "new-master-key",
            "--previous-master-key-file",
            "old-master-key",
        ],
    );
    // Same guardian (its key was re-sealed, not replaced).
    let out = hgs(
        &dir,
        &[
            "guardian",
            "export",
            "--server",
            &served.url,
            "--server-cert",
            "server.pem",
            "--out",
            "fabric2.pem",
        ],
    );
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(dir.join("fabric.pem")).unwrap(),
        std::fs::read(dir.join("fabric2.pem")).unwrap()
    );
    drop(served);
    // The old key alone no longer starts the server: a clear error naming the keys.
    let (mut cmd, _) = serve_args(&dir, &["--master-key-file", "old-master-key"]);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key"), "{err}");
    // The new one alone does.
    let served = serve(&dir, &["--master-key-file", "new-master-key"]);
    drop(served);
}
