//! Key protection end to end on a software TPM: a real `hgs serve` (SQLite, loopback,
//! self-signed TLS), the swtpm host registered through the admin verbs, a secret stored through
//! the admin API, and the agent's verbs:
//!
//! - `hgs agent secret get` attests (its evidence certifying the TPM-bound key), is released
//!   the secret as a JWE to that key, decrypts it in the TPM and writes it mode 0600; the next
//!   call presents the saved token without attesting;
//! - `hgs agent key-protector unwrap` on a protector made with `hgs key-protector new` for the
//!   service's guardian yields the protector's transport key;
//! - the token copied to another agent (another state dir, another bound key) yields only a JWE
//!   that agent's TPM key cannot open, and the agent itself does not present it;
//! - a secret whose policy names another host is refused with the service's reason;
//! - a host with a tampered boot (Secure Boot off) is refused, the verdict's reason printed.
//!
//! Needs `swtpm`/`swtpm_setup`; fails with instructions when missing unless
//! HGS_SKIP_TPM_TESTS=1.
#![cfg(feature = "demo")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use hgs_testkit::synthetic::WindowsBoot;

const ADMIN_TOKEN: &str = "agent-keys-test-admin-token";
const SECRET: &[u8] = b"the shielded VM's disk key \x00\x01\xfe\xff, for guarded hosts";

/// `hgs serve` killed when the test ends, however it ends.
struct Served {
    child: std::process::Child,
    url: String,
    http: reqwest::blocking::Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(dir: &Path) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(dir.join("admin-token"), ADMIN_TOKEN).unwrap();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(HGS)
            .current_dir(dir)
            .env_remove("HGS_SERVER")
            .args([
                "serve",
                "--listen",
                &listen,
                "--db",
                "sqlite:server.db",
                "--admin-token-file",
                "admin-token",
                "--cert-out",
                "server.pem",
            ])
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(&listen).is_err() || !dir.join("server.pem").exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "hgs serve did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let cert = reqwest::Certificate::from_pem(&std::fs::read(dir.join("server.pem")).unwrap())
            .unwrap();
        let http = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert)
            .build()
            .unwrap();
        Served {
            child,
            url: format!("https://{listen}"),
            http,
        }
    }

    /// An admin verb against the server, run in `r`'s directory.
    fn admin(&self, r: &Run, cert: &Path, args: &[&str]) -> String {
        let mut all = args.to_vec();
        let cert = cert.display().to_string();
        let token = cert.replace("server.pem", "admin-token");
        all.extend([
            "--server",
            &self.url,
            "--server-cert",
            &cert,
            "--admin-token-file",
            &token,
        ]);
        r.ok(&all)
    }

    fn put_secret(&self, name: &str, value: &[u8], policy: serde_json::Value) {
        let response = self
            .http
            .put(format!("{}/v1/secrets/{name}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "value": b64url(value), "policy": policy }))
            .send()
            .unwrap();
        assert!(
            response.status().is_success(),
            "PUT secret: {}",
            response.text().unwrap()
        );
    }
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The agent options every verb here takes, for `r`'s host `host` against `served`.
fn agent_args<'a>(
    served: &'a Served,
    cert: &'a str,
    host: &'a str,
    state: &'a str,
) -> Vec<&'a str> {
    vec![
        "--server",
        &served.url,
        "--server-cert",
        cert,
        "--host",
        host,
        "--log",
        "boot.log",
        "--state",
        state,
    ]
}

fn run_agent(r: &Run, verb: &[&str], opts: &[&str]) -> Output {
    let mut all = verb.to_vec();
    all.extend_from_slice(opts);
    r.hgs(&all)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_guarded_swtpm_host_gets_its_secret_and_transport_key_decrypted_in_its_tpm_and_no_one_else_does(
) {
    if !swtpm_available() {
        return;
    }
    let r = start("agent-keys");
    boot_host(&r, &running(ENFORCED));
    capture(&r, "boot.log");
    let served = Served::start(&r.dir);
    let cert = r.dir.join("server.pem");
    served.admin(
        &r,
        &cert,
        &[
            "host",
            "add",
            "--path",
            "host.json",
            "--name",
            "host1",
            "--policy-version",
            "v1",
            "--force",
        ],
    );
    served.admin(
        &r,
        &cert,
        &[
            "tpm-policy",
            "add",
            "--path",
            "ref.tcglog",
            "--name",
            "class",
            "--policy-version",
            "v1",
        ],
    );
    served.admin(
        &r,
        &cert,
        &[
            "ci-policy",
            "add",
            "--from-log",
            "ref.tcglog",
            "--name",
            "ci",
            "--policy-version",
            "v1",
        ],
    );
    served.put_secret(
        "disk-key",
        SECRET,
        serde_json::json!({"hosts": "all_guarded", "min_policy_version": "v1"}),
    );
    let opts = agent_args(&served, "server.pem", "host1", "agent");

    // 1. The secret: attest (no token yet), release, decrypt in the TPM, written 0600.
    let out = run_agent(
        &r,
        &["agent", "secret", "get", "disk-key", "--out", "disk.key"],
        &opts,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("attested: Passed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(r.dir.join("disk.key")).unwrap(), SECRET);
    #[cfg(unix)]
    {
        assert_eq!(mode(&r.dir.join("disk.key")), 0o600);
        assert_eq!(mode(&r.dir.join("agent/token.jwt")), 0o600);
        assert_eq!(mode(&r.dir.join("agent/bound-key.json")), 0o600);
    }
    // The token names the agent's bound key.
    let token = std::fs::read_to_string(r.dir.join("agent/token.jwt")).unwrap();
    let jwk = served
        .http
        .get(format!("{}/v1/token-key", served.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = hgs_attest::TokenVerifier::new()
        .with_public_jwk(&jwk)
        .unwrap()
        .verify(&token, now)
        .unwrap();
    let bound = hgs_agent::tpm::key_state::load_bound_key(&r.dir.join("agent"))
        .unwrap()
        .unwrap();
    assert_eq!(verified.claims().cnf.as_ref(), Some(&bound.jwk().unwrap()));

    // 2. Again, to stdout: the saved token is presented, no new attestation.
    let out = run_agent(&r, &["agent", "secret", "get", "disk-key"], &opts);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, SECRET);
    assert!(!stderr(&out).contains("attest"), "{}", stderr(&out));

    // The administrator's cut-off (DenyHealthCertificatesIssuedBefore) after the saved token
    // was issued: the service refuses it, the agent attests afresh and is released the secret.
    let cutoff = verified.claims().issued_at + 1;
    let response = served
        .http
        .put(format!("{}/v1/settings/deny-issued-before", served.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "before": cutoff }))
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().unwrap()
    );
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        < cutoff
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = run_agent(&r, &["agent", "secret", "get", "disk-key"], &opts);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, SECRET);
    let err = stderr(&out);
    assert!(
        err.contains("the saved token was refused") && err.contains("issued_before_cutoff"),
        "{err}"
    );
    assert!(err.contains("attested: Passed"), "{err}");
    let token = std::fs::read_to_string(r.dir.join("agent/token.jwt")).unwrap();

    // 3. A key protector for the service's guardian, made offline by the owner; the host
    //    gets its transport key.
    let response = served
        .http
        .post(format!("{}/v1/guardians/fabric", served.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().unwrap()
    );
    r.ok(&[
        "guardian",
        "export",
        "--server",
        &served.url,
        "--server-cert",
        "server.pem",
        "--name",
        "fabric",
        "--out",
        "fabric.pem",
    ]);
    r.ok(&[
        "guardian",
        "new",
        "--name",
        "owner",
        "--key-out",
        "owner.key",
        "--cert-out",
        "owner.pem",
    ]);
    r.ok(&[
        "key-protector",
        "new",
        "--owner",
        "owner.pem",
        "--guardian",
        "fabric.pem",
        "--out",
        "kp.json",
        "--transport-key-out",
        "transport.key",
    ]);
    let out = run_agent(
        &r,
        &[
            "agent",
            "key-protector",
            "unwrap",
            "kp.json",
            "--out",
            "unwrapped.key",
        ],
        &opts,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let transport = std::fs::read(r.dir.join("transport.key")).unwrap();
    assert_eq!(transport.len(), 32);
    assert_eq!(
        std::fs::read(r.dir.join("unwrapped.key")).unwrap(),
        transport
    );
    #[cfg(unix)]
    assert_eq!(mode(&r.dir.join("unwrapped.key")), 0o600);
    // On stdout: hex.
    let out = run_agent(&r, &["agent", "key-protector", "unwrap", "kp.json"], &opts);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", hgs_tpm::hex::encode(&transport))
    );

    // 4. The token taken to another agent (same TPM, another state dir: another AK and bound
    //    key). Presented directly, the service releases, but only to the first agent's key:
    //    the other key cannot open it, neither by its kid nor in the TPM.
    r.ok(&["agent", "ak", "--out", "ak2.pub", "--state", "agent2"]);
    std::fs::create_dir_all(r.dir.join("agent2")).unwrap();
    std::fs::copy(
        r.dir.join("agent/token.jwt"),
        r.dir.join("agent2/token.jwt"),
    )
    .unwrap();
    let mut opts2 = agent_args(&served, "server.pem", "host1", "agent2");
    opts2.extend(["--bound-key", "rsa"]);
    // The agent itself does not present another key's token: it attests for its own.
    let out = run_agent(
        &r,
        &["agent", "secret", "get", "disk-key", "--out", "disk2.key"],
        &opts2,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the saved token will not do")
            && stderr(&out).contains("names bound key"),
        "{}",
        stderr(&out)
    );
    let thief_key = hgs_agent::tpm::key_state::load_bound_key(&r.dir.join("agent2"))
        .unwrap()
        .unwrap();
    assert_ne!(thief_key.public, bound.public);
    // A thief presenting the stolen token itself.
    let jwe = served
        .http
        .post(format!("{}/v1/secrets/disk-key/release", served.url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(jwe.status().as_u16(), 200);
    let jwe = jwe.text().unwrap();
    let mut tpm = hgs_agent::tpm::Tpm::open(&r.tcti).unwrap();
    let thief_jwk = thief_key.jwk().unwrap();
    let e = hgs_keys::decrypt(
        &jwe,
        &thief_jwk,
        &mut hgs_agent::tpm::unwrap::TpmUnwrap::new(&mut tpm, &thief_key),
    )
    .unwrap_err();
    assert!(
        matches!(e, hgs_keys::JweError::WrongRecipient { .. }),
        "{e:?}"
    );
    // Even presented as the victim's key (so the kid matches), the thief's TPM key yields
    // nothing: TPM2_RSA_Decrypt refuses the OAEP ciphertext.
    let e = hgs_keys::decrypt(
        &jwe,
        &bound.jwk().unwrap(),
        &mut hgs_agent::tpm::unwrap::TpmUnwrap::new(&mut tpm, &thief_key),
    )
    .unwrap_err();
    assert!(matches!(e, hgs_keys::JweError::Unwrap(_)), "{e:?}");
    // The owner of the key opens it (the JWE itself is fine).
    assert_eq!(
        hgs_keys::decrypt(
            &jwe,
            &bound.jwk().unwrap(),
            &mut hgs_agent::tpm::unwrap::TpmUnwrap::new(&mut tpm, &bound),
        )
        .unwrap(),
        SECRET
    );
    drop(tpm);

    // The other agent switched to a P-256 bound key: replaced, attested for (its token named
    // the RSA key), and released the secret as ECDH-ES+A256KW, decrypted by TPM2_ECDH_ZGen.
    let mut opts_ecc = agent_args(&served, "server.pem", "host1", "agent2");
    opts_ecc.extend(["--bound-key", "ecc"]);
    let out = run_agent(&r, &["agent", "secret", "get", "disk-key"], &opts_ecc);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, SECRET);
    let err = stderr(&out);
    assert!(
        err.contains("replaced the bound key with a new ecc-p256 key"),
        "{err}"
    );
    assert!(err.contains("attested: Passed"), "{err}");

    // 5. A secret for another host only: refused with the service's reason, nothing written
    //    (and no attestation: a new token would not change the host list).
    served.put_secret(
        "other-hosts-key",
        b"not for host1",
        serde_json::json!({"hosts": {"names": ["host9"]}, "min_policy_version": "v1"}),
    );
    let out = run_agent(
        &r,
        &[
            "agent",
            "secret",
            "get",
            "other-hosts-key",
            "--out",
            "other.key",
        ],
        &opts,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("release refused: host_not_selected"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("attest"), "{}", stderr(&out));
    assert!(!r.dir.join("other.key").exists());
    // An unknown name: refused as not found.
    let out = run_agent(&r, &["agent", "secret", "get", "no-such-secret"], &opts);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not_found"), "{}", stderr(&out));

    // 6. A tampered boot on another host (Secure Boot off), registered on the same service:
    //    attestation fails, so nothing is released; the verdict's reason is printed.
    let t = start("agent-keys-tampered");
    boot_host(
        &t,
        &WindowsBoot {
            secure_boot: false,
            ..running(ENFORCED)
        },
    );
    served.admin(
        &t,
        &cert,
        &[
            "host",
            "add",
            "--path",
            "host.json",
            "--name",
            "host2",
            "--policy-version",
            "v1",
            "--force",
        ],
    );
    let cert_str = cert.display().to_string();
    let opts_t = agent_args(&served, &cert_str, "host2", "agent");
    let out = run_agent(
        &t,
        &["agent", "secret", "get", "disk-key", "--out", "disk.key"],
        &opts_t,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("InsecureHostConfiguration"), "{err}");
    assert!(err.contains("Hgs_SecureBootEnabled"), "{err}");
    assert!(err.contains("nothing is released"), "{err}");
    assert!(!t.dir.join("disk.key").exists());
    assert!(!t.dir.join("agent/token.jwt").exists());
}
