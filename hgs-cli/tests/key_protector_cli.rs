//! The owner's offline tooling through the `hgs` program: `hgs guardian new`
//! makes key pairs (private key mode 0600), `new` a protector for an owner and a guardian,
//! `show` lists it, `grant` adds a guardian that then opens the *same* transport key, `revoke`
//! removes one that then opens nothing; revoking the owner, or granting with a key that is not
//! listed, is refused and leaves the file as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hgs_kps::{GuardianKey, KeyProtector, ProtectorError};

const HGS: &str = env!("CARGO_BIN_EXE_hgs");

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hgs-kp-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = hgs(dir, args);
    assert!(out.status.success(), "hgs {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn key_pair(dir: &Path, name: &str) -> GuardianKey {
    ok(
        dir,
        &[
            "guardian",
            "new",
            "--name",
            name,
            "--key-out",
            &format!("{name}.key"),
            "--cert-out",
            &format!("{name}.pem"),
        ],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join(format!("{name}.key")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}'s private key is owner-only");
    }
    GuardianKey::from_pem(
        &std::fs::read_to_string(dir.join(format!("{name}.key"))).unwrap(),
        &std::fs::read_to_string(dir.join(format!("{name}.pem"))).unwrap(),
    )
    .unwrap()
}

fn show(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(
        dir,
        &[
            "key-protector",
            "show",
            "kp.json",
            "--certificate",
            "owner.pem",
            "--certificate",
            "fabric1.pem",
            "--certificate",
            "fabric2.pem",
            "--json",
        ],
    ))
    .unwrap()
}

fn roles(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    doc["wrappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["role"].as_str().unwrap().to_string(),
                w["fingerprint"].as_str().unwrap().to_string(),
                w["subject"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn read_kp(dir: &Path) -> KeyProtector {
    KeyProtector::parse(&std::fs::read(dir.join("kp.json")).unwrap()).unwrap()
}

#[test]
fn a_key_protector_made_with_new_round_trips_through_show_grant_and_revoke() {
    let dir = tempdir("roundtrip");
    let owner = key_pair(&dir, "owner");
    let fabric1 = key_pair(&dir, "fabric1");
    let fabric2 = key_pair(&dir, "fabric2");
    let stranger = key_pair(&dir, "stranger");
    let fp = |k: &GuardianKey| k.guardian().fingerprint().to_string();

    ok(
        &dir,
        &[
            "key-protector",
            "new",
            "--owner",
            "owner.pem",
            "--guardian",
            "fabric1.pem",
            "--out",
            "kp.json",
            "--transport-key-out",
            "transport.key",
        ],
    );
    let transport = std::fs::read(dir.join("transport.key")).unwrap();
    assert_eq!(transport.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("transport.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Both the owner and the guardian open it to the key `new` wrote.
    let kp = read_kp(&dir);
    assert_eq!(owner.open(&kp).unwrap().as_bytes(), &transport[..]);
    assert_eq!(fabric1.open(&kp).unwrap().as_bytes(), &transport[..]);

    let doc = show(&dir);
    assert_eq!(doc["owner"].as_str().unwrap(), fp(&owner));
    assert_eq!(doc["id"].as_str().unwrap(), hgs_tpm::hex::encode(kp.id()));
    assert_eq!(
        roles(&doc),
        vec![
            ("owner".into(), fp(&owner), "CN=owner".into()),
            ("guardian".into(), fp(&fabric1), "CN=fabric1".into()),
        ]
    );
    // The text form names the same.
    let text = ok(&dir, &["key-protector", "show", "kp.json"]);
    assert!(
        text.contains(&fp(&owner)) && text.contains(&fp(&fabric1)),
        "{text}"
    );

    // Grant: a second fabric, which then opens the same transport key.
    ok(
        &dir,
        &[
            "key-protector",
            "grant",
            "kp.json",
            "--owner-key",
            "owner.key",
            "--owner",
            "owner.pem",
            "--guardian",
            "fabric2.pem",
        ],
    );
    let kp = read_kp(&dir);
    assert_eq!(fabric2.open(&kp).unwrap().as_bytes(), &transport[..]);
    assert_eq!(roles(&show(&dir)).len(), 3);

    // Revoke fabric1: it no longer opens the protector; the others still do.
    ok(
        &dir,
        &[
            "key-protector",
            "revoke",
            "kp.json",
            "--owner-key",
            "owner.key",
            "--owner",
            "owner.pem",
            "--guardian-fingerprint",
            &fp(&fabric1),
        ],
    );
    let kp = read_kp(&dir);
    assert!(matches!(
        fabric1.open(&kp),
        Err(ProtectorError::NoWrapping { .. })
    ));
    assert_eq!(owner.open(&kp).unwrap().as_bytes(), &transport[..]);
    assert_eq!(
        roles(&show(&dir)),
        vec![
            ("owner".into(), fp(&owner), "CN=owner".into()),
            ("guardian".into(), fp(&fabric2), "CN=fabric2".into()),
        ]
    );

    // Refused, file untouched: revoking the owner; granting with a key the protector does not
    // list; a key file that does not go with the certificate.
    let before = std::fs::read(dir.join("kp.json")).unwrap();
    let out = hgs(
        &dir,
        &[
            "key-protector",
            "revoke",
            "kp.json",
            "--owner-key",
            "owner.key",
            "--owner",
            "owner.pem",
            "--guardian-fingerprint",
            &fp(&owner),
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be revoked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hgs(
        &dir,
        &[
            "key-protector",
            "grant",
            "kp.json",
            "--owner-key",
            "stranger.key",
            "--owner",
            "stranger.pem",
            "--guardian",
            "fabric1.pem",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("no wrapping is for guardian {}", fp(&stranger))),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hgs(
        &dir,
        &[
            "key-protector",
            "grant",
            "kp.json",
            "--owner-key",
            "stranger.key",
            "--owner",
            "owner.pem",
            "--guardian",
            "fabric1.pem",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not this private key's"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("kp.json")).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_key_protector_is_not_made_from_a_file_that_is_not_a_guardian_certificate() {
    let dir = tempdir("badcert");
    key_pair(&dir, "owner");
    std::fs::write(dir.join("junk.pem"), "not a certificate\n").unwrap();
    let out = hgs(
        &dir,
        &[
            "key-protector",
            "new",
            "--owner",
            "owner.pem",
            "--guardian",
            "junk.pem",
            "--out",
            "kp.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("junk.pem: not a guardian certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("kp.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
