//! Shared test support: a deterministic RNG, cached keys, JWE surgery.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use hgs_keys::{SoftP256Key, SoftRsaKey};
use rand_core::{CryptoRng, RngCore};

/// A deterministic RNG (splitmix64): reproducible proptest cases, nothing else.
pub struct TestRng {
    state: u64,
}

impl TestRng {
    pub fn new(seed: u64) -> TestRng {
        TestRng {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Not cryptographically secure; marked so only to drive the library deterministically in tests.
impl CryptoRng for TestRng {}

/// One RSA-2048 key per test binary (generation takes a while).
pub fn rsa_key() -> SoftRsaKey {
    static KEY: OnceLock<SoftRsaKey> = OnceLock::new();
    KEY.get_or_init(|| SoftRsaKey::generate(&mut rand_core::OsRng).unwrap())
        .clone()
}

/// A second RSA key, for wrong-recipient tests.
pub fn other_rsa_key() -> SoftRsaKey {
    static KEY: OnceLock<SoftRsaKey> = OnceLock::new();
    KEY.get_or_init(|| SoftRsaKey::generate(&mut rand_core::OsRng).unwrap())
        .clone()
}

pub fn p256_key(seed: u8) -> SoftP256Key {
    SoftP256Key::from_scalar_bytes(&[seed; 32]).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(s).unwrap()
}

/// The five segments.
pub fn segments(jwe: &str) -> Vec<String> {
    jwe.split('.').map(str::to_owned).collect()
}

pub fn join(segments: &[String]) -> String {
    segments.join(".")
}

/// The decoded protected header.
pub fn header(jwe: &str) -> serde_json::Value {
    serde_json::from_slice(&unb64(&segments(jwe)[0])).unwrap()
}

/// The JWE with its protected header replaced by `f` of it (the tag then no longer matches).
pub fn reheader(
    jwe: &str,
    f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    let mut h = header(jwe);
    f(h.as_object_mut().unwrap());
    with_raw_header(jwe, serde_json::to_string(&h).unwrap().as_bytes())
}

/// The JWE with these header bytes.
pub fn with_raw_header(jwe: &str, raw: &[u8]) -> String {
    let mut s = segments(jwe);
    s[0] = b64(raw);
    join(&s)
}

/// The JWE with segment `i` replaced by `f` of its decoding, re-encoded.
pub fn resegment(jwe: &str, i: usize, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut s = segments(jwe);
    let mut bytes = unb64(&s[i]);
    f(&mut bytes);
    s[i] = b64(&bytes);
    join(&s)
}
