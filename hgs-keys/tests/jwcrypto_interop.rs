//! Interoperability with a second JOSE implementation: python3-jwcrypto (Debian's package).
//!
//! Rust encrypts to a key generated here and jwcrypto decrypts with its private JWK; jwcrypto
//! encrypts to the public JWK with both algorithms and Rust decrypts with the soft keys; both
//! compute the same RFC 7638 thumbprint. Without python3 and jwcrypto this test FAILS (CI
//! installs python3-jwcrypto): a skipped interop check would pass silently forever.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use hgs_keys::{decrypt, encrypt, BoundKey, KeyUnwrap, SoftP256Key, SoftRsaKey};
use rand_core::OsRng;

/// The jwcrypto side: `thumbprint JWK`, `decrypt JWK JWE` (prints the plaintext as hex),
/// `encrypt JWK ALG HEX` (prints a compact JWE with alg, A256GCM and kid = the thumbprint).
const SCRIPT: &str = r#"
import json, sys
from jwcrypto import jwe, jwk

mode = sys.argv[1]
key = jwk.JWK.from_json(open(sys.argv[2]).read())
if mode == "thumbprint":
    sys.stdout.write(key.thumbprint())
elif mode == "decrypt":
    token = jwe.JWE()
    token.deserialize(open(sys.argv[3]).read(), key=key)
    sys.stdout.write(token.payload.hex())
elif mode == "encrypt":
    protected = {"alg": sys.argv[3], "enc": "A256GCM", "kid": key.thumbprint()}
    token = jwe.JWE(bytes.fromhex(sys.argv[4]), protected=json.dumps(protected))
    token.add_recipient(key)
    sys.stdout.write(token.serialize(compact=True))
else:
    sys.exit("unknown mode " + mode)
"#;

/// A Python with jwcrypto: `$HGS_PYTHON`, else `python3` on PATH, else Debian's
/// `/usr/bin/python3` (where python3-jwcrypto installs, when PATH has another Python first).
fn python() -> PathBuf {
    let candidates: Vec<PathBuf> = std::env::var_os("HGS_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(["python3", "/usr/bin/python3"].map(PathBuf::from))
        .collect();
    for python in &candidates {
        let ok = Command::new(python)
            .args(["-c", "import jwcrypto.jwe, jwcrypto.jwk"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return python.clone();
        }
    }
    panic!(
        "this interoperability test needs python3 with jwcrypto: install the Debian package \
         python3-jwcrypto (apt-get install python3-jwcrypto), or point HGS_PYTHON at a python3 \
         that has it; tried {candidates:?}"
    );
}

struct Jwcrypto {
    python: PathBuf,
    dir: PathBuf,
}

impl Jwcrypto {
    fn new(name: &str) -> Jwcrypto {
        let python = python();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("jwcrypto-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("jose.py"), SCRIPT).unwrap();
        Jwcrypto { python, dir }
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(self.dir.join("jose.py"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "jwcrypto {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Jwcrypto {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Both directions for one key.
fn interop(
    py: &Jwcrypto,
    public: &BoundKey,
    private_jwk: &str,
    alg: &str,
    unwrap: &mut impl KeyUnwrap,
) {
    let private = py.write(&format!("{alg}-private.json"), private_jwk);
    let public_file = py.write(&format!("{alg}-public.json"), &public.to_jwk_json());

    assert_eq!(
        py.run(&["thumbprint", public_file.to_str().unwrap()]),
        public.thumbprint()
    );

    for plaintext in [&b"a VM's disk key"[..], b"", &[0xa5; 3000]] {
        // Rust encrypts, jwcrypto decrypts. jwcrypto 1.1 (Debian 12) takes an empty plaintext
        // for a failed decryption (`if not self.plaintext`), so that one is checked one way only.
        if !plaintext.is_empty() {
            let jwe = encrypt(public, plaintext, &mut OsRng).unwrap();
            let jwe_file = py.write("rust.jwe", &jwe);
            assert_eq!(
                py.run(&[
                    "decrypt",
                    private.to_str().unwrap(),
                    jwe_file.to_str().unwrap()
                ]),
                hex(plaintext),
                "{alg}: jwcrypto decrypting ours"
            );
        }

        // jwcrypto encrypts to the public JWK, Rust decrypts.
        let jwe = py.run(&[
            "encrypt",
            public_file.to_str().unwrap(),
            alg,
            &hex(plaintext),
        ]);
        let header = common::header(&jwe);
        assert_eq!(header["alg"], alg);
        assert_eq!(
            decrypt(&jwe, public, unwrap).unwrap(),
            plaintext,
            "{alg}: decrypting jwcrypto's {jwe}"
        );
    }
}

#[test]
fn rsa_oaep_256_both_directions() {
    let py = Jwcrypto::new("rsa");
    let mut key = SoftRsaKey::generate(&mut OsRng).unwrap();
    let public = key.bound_key().clone();
    let private = key.private_jwk_json().to_owned();
    interop(&py, &public, &private, "RSA-OAEP-256", &mut key);
}

#[test]
fn ecdh_es_a256kw_both_directions() {
    let py = Jwcrypto::new("p256");
    let mut key = SoftP256Key::generate(&mut OsRng).unwrap();
    let public = key.bound_key().clone();
    let private = key.private_jwk_json().to_string();
    interop(&py, &public, &private, "ECDH-ES+A256KW", &mut key);
}
