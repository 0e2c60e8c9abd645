//! Guardian certificates for the tests, DER encoded by hand (as hgs-ekcert's forgery tests do)
//! and signed with P-256: no certificate-generation dependency. Fixed keys, so the tests are
//! deterministic and generate no RSA key.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_keys::{BoundKey, SoftP256Key, SoftRsaKey};
use hgs_kps::Guardian;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(body);
    out
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut chunk = vec![(a & 0x7f) as u8];
        let mut v = a >> 7;
        while v > 0 {
            chunk.push(((v & 0x7f) as u8) | 0x80);
            v >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

fn uint(bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(bytes);
    tlv(0x02, &body)
}

fn bits(body: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(body);
    tlv(0x03, &v)
}

pub fn name(cn: &str) -> Vec<u8> {
    seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())]))])
}

pub fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    seq(&[
        seq(&[oid("1.2.840.113549.1.1.1"), tlv(0x05, &[])]),
        bits(&seq(&[uint(n), uint(e)])),
    ])
}

pub fn ec_spki(curve_oid: &str, sec1: &[u8]) -> Vec<u8> {
    seq(&[seq(&[oid("1.2.840.10045.2.1"), oid(curve_oid)]), bits(sec1)])
}

pub fn spki_of(key: &BoundKey) -> Vec<u8> {
    match key {
        BoundKey::Rsa(k) => rsa_spki(k.n(), k.e()),
        BoundKey::P256(k) => ec_spki("1.2.840.10045.3.1.7", &k.to_sec1_uncompressed()),
    }
}

/// A v3 certificate for `spki`, subject and issuer `CN=<cn>`, keyEncipherment, signed
/// ECDSA-SHA256 by `signer`.
pub fn certificate(cn: &str, spki: Vec<u8>, signer: &SigningKey) -> Vec<u8> {
    let alg = seq(&[oid("1.2.840.10045.4.3.2")]);
    let key_usage = seq(&[
        oid("2.5.29.15"),
        tlv(0x01, &[0xff]),
        tlv(0x04, &tlv(0x03, &[0x05, 0x20])),
    ]);
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[0x01, 0x23]),
        alg.clone(),
        name(cn),
        seq(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z")]),
        name(cn),
        spki,
        tlv(0xa3, &seq(&[key_usage])),
    ]);
    let sig: Signature = signer.sign(&tbs);
    seq(&[tbs, alg, bits(sig.to_der().as_bytes())])
}

pub fn signer() -> SigningKey {
    SigningKey::from_slice(&[0x77; 32]).unwrap()
}

/// Fixed RSA primes (hgs-keys' keys_jwe fuzz fixture), so no test generates a key.
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

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn rsa_soft() -> SoftRsaKey {
    SoftRsaKey::from_primes(&unhex(P), &unhex(Q)).unwrap()
}

pub fn p256_soft(seed: u8) -> SoftP256Key {
    SoftP256Key::from_scalar_bytes(&[seed; 32]).unwrap()
}

/// An RSA-2048 guardian and its private key.
pub fn rsa_guardian(cn: &str) -> (Guardian, SoftRsaKey) {
    let key = rsa_soft();
    let der = certificate(cn, spki_of(key.bound_key()), &signer());
    (Guardian::from_certificate_der(&der).unwrap(), key)
}

/// A P-256 guardian (self-signed with its own key) and its private key.
pub fn p256_guardian(cn: &str, seed: u8) -> (Guardian, SoftP256Key) {
    let key = p256_soft(seed);
    let own = SigningKey::from_slice(&[seed; 32]).unwrap();
    let der = certificate(cn, spki_of(key.bound_key()), &own);
    (Guardian::from_certificate_der(&der).unwrap(), key)
}

/// A deterministic RNG for tests (not cryptographic).
pub struct TestRng(pub u64);

impl rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
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

impl rand_core::CryptoRng for TestRng {}
