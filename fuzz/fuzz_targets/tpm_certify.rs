//! `verify_certify` on arbitrary bytes: it must refuse with a typed error (never panic), and the
//! security invariant holds: Ok implies the certified key's Name was signed by the AK.
//!
//! Mode byte even: the rest is split into AK public, attestation, signature and certified public
//! (each prefixed by a 2-byte length) and verified without a nonce check.
//! Mode byte odd: the rest is a list of (part, 2-byte offset, byte) edits applied to a good
//! software certification of a P-256 decryption key; whatever verifies must be that key.
#![no_main]

use hgs_tpm::{
    decrypt_key_public, verify_certify, CertifyRequirements, DefaultVerifier, Freshness, Public,
    SoftAk, BOUND_KEY_ATTRIBUTES,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NONCE: &[u8] = b"fuzz-certify-nonce";

struct Fixture {
    ak: Vec<u8>,
    attest: Vec<u8>,
    signature: Vec<u8>,
    public: Vec<u8>,
    name: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ak = SoftAk::from_seed(&[0x42; 32]).expect("fixed seed");
        // The AK's own point is a valid P-256 point: reuse it for the decryption key.
        let point = Public::parse(ak.public())
            .expect("soft AK parses")
            .key()
            .expect("soft AK is ECC");
        let public = decrypt_key_public(&point, BOUND_KEY_ATTRIBUTES);
        let (attest, signature) = ak.certify(NONCE, &public).expect("certify");
        let name = Public::parse(&public)
            .expect("decrypt key parses")
            .name()
            .expect("SHA-256 name");
        Fixture {
            ak: ak.public().to_vec(),
            attest,
            signature,
            public,
            name,
        }
    })
}

/// Splits `n` length-prefixed parts off `data` (a short input gives short or empty parts).
fn split(mut data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    for _ in 0..n {
        let len = match data {
            [a, b, rest @ ..] => {
                data = rest;
                usize::from(u16::from_be_bytes([*a, *b]))
            }
            _ => 0,
        };
        let (part, rest) = data.split_at(len.min(data.len()));
        parts.push(part);
        data = rest;
    }
    parts
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let p = split(rest, 4);
        let _ = verify_certify(
            p[0],
            p[1],
            p[2],
            p[3],
            &CertifyRequirements {
                freshness: Freshness::NotChecked,
            },
            &DefaultVerifier,
        );
        return;
    }
    let f = fixture();
    let (mut attest, mut signature, mut public) =
        (f.attest.clone(), f.signature.clone(), f.public.clone());
    for edit in rest.chunks_exact(4) {
        let target = match edit[0] % 3 {
            0 => &mut attest,
            1 => &mut signature,
            _ => &mut public,
        };
        let at = usize::from(u16::from_be_bytes([edit[1], edit[2]])) % target.len();
        target[at] = edit[3];
    }
    if let Ok(key) = verify_certify(
        &f.ak,
        &attest,
        &signature,
        &public,
        &CertifyRequirements {
            freshness: Freshness::Nonce(NONCE),
        },
        &DefaultVerifier,
    ) {
        assert_eq!(key.name(), &f.name[..], "Ok for a key the AK did not certify");
        assert_eq!(key.public_area(), &f.public[..]);
    }
});
