//! hgs-keys on arbitrary input: the JWK reader and JWE `decrypt` must refuse with a typed error
//! (never panic, hang or allocate without bound), and nothing decrypts to a plaintext other
//! than the one a fixture JWE was made of.
//!
//! Mode byte 0: the rest of the input is a JWK (what parses must re-parse from its canonical
//! form to the same key). 1 / 2: the rest is a compact JWE for the fixture P-256 / RSA key.
//! 3 / 4: the rest overwrites bytes of the fixture's valid P-256 / RSA JWE from the offset its
//! first two bytes give (so the fuzzer explores the checks behind a good prefix, and the
//! unwrap and tag checks). 5: the rest is a plaintext to round-trip through the P-256 key.
#![no_main]

use hgs_keys::{decrypt, encrypt, BoundKey, KeyUnwrap, SoftP256Key, SoftRsaKey};
use libfuzzer_sys::fuzz_target;
use rand_core::{CryptoRng, RngCore};
use std::sync::OnceLock;

const PLAINTEXT: &[u8] = b"the fixture's secret";

/// The fixture RSA key's primes (hex; generated once for this file: generating a key in an
/// instrumented build takes half a minute).
const P: &str = concat!(
    "ef7ccb6b584dcd9067aa9b46302ee775eb9de9223c1567385d5ea36e9e720736",
    "b3785490c13c59f5e2b56f4980f3c9f1f3db77ea0d7ac7b628ee4acdc375d1bd",
    "a3d4b25bc96e4324bd48d2dcbda66391f73f675917883b59454820306faa963f",
    "237ab71b08293dc0cdc87850bc1e4982a1ffc4e123782806c98608bce9bd40dd",
);
const Q: &str = concat!(
    "d4d7c355cb7be3d9e105bd55eb37ed19df6b5981109d00657128f73ad232b277",
    "80611e9dc0ae648e333eaeefdc174f9ab76c055a0f01f5e7917bc764a204f408",
    "c533723b75c98159bb7815371c982f0fd3479e74e16726b98c9912dd8349dee5",
    "065a78582c84f527f712a5867afa1dd9d3090821b001bfa8653c9f9784a9535f",
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Deterministic randomness (splitmix64), so a crash reproduces; never for real keys.
struct FixedRng(u64);

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedRng {}

struct Fixture {
    p256: SoftP256Key,
    rsa: SoftRsaKey,
    p256_jwe: String,
    rsa_jwe: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = FixedRng(42);
        let p256 = SoftP256Key::from_scalar_bytes(&[0x42; 32]).expect("fixed key");
        let rsa = SoftRsaKey::from_primes(&unhex(P), &unhex(Q)).expect("RSA key");
        let p256_jwe = encrypt(p256.bound_key(), PLAINTEXT, &mut rng).expect("encrypts");
        let rsa_jwe = encrypt(rsa.bound_key(), PLAINTEXT, &mut rng).expect("encrypts");
        Fixture {
            p256,
            rsa,
            p256_jwe,
            rsa_jwe,
        }
    })
}

/// Decrypts; anything that decrypts is the fixture's plaintext.
fn check(text: &str, key: &BoundKey, unwrap: &mut impl KeyUnwrap) {
    if let Ok(plaintext) = decrypt(text, key, unwrap) {
        assert_eq!(plaintext, PLAINTEXT, "decrypted to another plaintext");
    }
}

fn overwrite(base: &str, data: &[u8]) -> Option<String> {
    let (offset, patch) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => return None,
    };
    let mut bytes = base.as_bytes().to_vec();
    let start = offset % (bytes.len() + 1);
    let end = (start + patch.len()).min(bytes.len());
    bytes[start..end].copy_from_slice(&patch[..end - start]);
    bytes.extend_from_slice(&patch[end - start..]);
    String::from_utf8(bytes).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    // Per-input copies of the keys (KeyUnwrap takes &mut); cloning the RSA key is not free, so
    // only where it is used.
    let p256 = || f.p256.clone();
    let rsa = || f.rsa.clone();
    match mode % 6 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            if let Ok(key) = BoundKey::from_jwk_json(&text) {
                let again = BoundKey::from_jwk_json(&key.to_jwk_json()).expect("canonical JWK");
                assert_eq!(again, key);
                assert_eq!(again.thumbprint(), key.thumbprint());
            }
        }
        1 => check(
            &String::from_utf8_lossy(rest),
            f.p256.bound_key(),
            &mut p256(),
        ),
        2 => check(
            &String::from_utf8_lossy(rest),
            f.rsa.bound_key(),
            &mut rsa(),
        ),
        3 => {
            if let Some(text) = overwrite(&f.p256_jwe, rest) {
                check(&text, f.p256.bound_key(), &mut p256());
            }
        }
        4 => {
            if let Some(text) = overwrite(&f.rsa_jwe, rest) {
                check(&text, f.rsa.bound_key(), &mut rsa());
            }
        }
        _ => {
            let mut rng = FixedRng(rest.len() as u64);
            if let Ok(jwe) = encrypt(f.p256.bound_key(), rest, &mut rng) {
                let back = decrypt(&jwe, f.p256.bound_key(), &mut p256()).expect("round trip");
                assert_eq!(back, rest);
            }
        }
    }
});
