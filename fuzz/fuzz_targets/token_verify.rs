//! `TokenVerifier::verify` on arbitrary strings: it must refuse with a typed error (never panic,
//! hang or allocate without bound), and nothing but the one token the fixture signed verifies.
//!
//! Mode byte 0: the rest of the input is the token text.
//! Otherwise: the input overwrites bytes of a valid token, from the offset its first two bytes
//! give (so the fuzzer explores the header, claims and signature checks behind a good prefix).
#![no_main]

use hgs_attest::{AttestationStatus, TokenClaims, TokenSigner, TokenVerifier};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const IAT: u64 = 1_700_000_000;
const NOW: u64 = IAT + 100;

struct Fixture {
    verifier: TokenVerifier,
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let signer = TokenSigner::from_scalar_bytes(&[0x42; 32]).expect("fixed key");
        let claims = TokenClaims::new(
            Some("HOST01".into()),
            hgs_attest::EkFingerprint::from_bytes([0xab; 32]),
            AttestationStatus::Passed,
            IAT,
            3600,
        );
        Fixture {
            verifier: TokenVerifier::new().with_key(*signer.verifying_key()),
            token: signer.sign(&claims).expect("valid claims"),
        }
    })
}

fn check(f: &Fixture, text: &str) {
    if let Ok(v) = f.verifier.verify(text, NOW) {
        // Deterministic low-S signing and canonical base64url: one token per claims.
        assert_eq!(text, f.token);
        assert!(v.is_affirming(NOW));
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    match data.split_first() {
        Some((0, rest)) => {
            if let Ok(s) = std::str::from_utf8(rest) {
                check(f, s);
            }
        }
        Some((_, rest)) if rest.len() >= 2 => {
            let mut bytes = f.token.clone().into_bytes();
            let at = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % (bytes.len() + 1);
            for (i, b) in rest[2..].iter().enumerate() {
                match bytes.get_mut(at + i) {
                    Some(slot) => *slot = *b,
                    None => bytes.push(*b),
                }
            }
            if let Ok(s) = std::str::from_utf8(&bytes) {
                check(f, s);
            }
        }
        _ => {}
    }
});
