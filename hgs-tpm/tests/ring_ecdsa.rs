//! The ring backend and the pure-Rust backend agree on ECDSA over P-256 and P-384 with SHA-256 and
//! SHA-384 (the fixed and the DER forms ring needs), for valid and corrupted signatures.
#![cfg(feature = "ring")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_tpm::alg::{TPM_ALG_SHA256, TPM_ALG_SHA384};
use hgs_tpm::{
    DefaultVerifier, EccCurve, PublicKey, RingVerifier, RustCryptoVerifier, Signature,
    SignatureVerifier,
};
use proptest::prelude::*;
use sha2::Digest;

fn prehash(hash: u16, msg: &[u8]) -> Vec<u8> {
    if hash == TPM_ALG_SHA256 {
        sha2::Sha256::digest(msg).to_vec()
    } else {
        sha2::Sha384::digest(msg).to_vec()
    }
}

fn check(key: PublicKey, hash: u16, msg: &[u8], r: Vec<u8>, s: Vec<u8>, flip: usize) {
    let sig = Signature::Ecdsa { hash, r: &r, s: &s };
    RingVerifier.verify(&key, msg, &sig).unwrap();
    RustCryptoVerifier.verify(&key, msg, &sig).unwrap();
    DefaultVerifier.verify(&key, msg, &sig).unwrap();
    let mut bad = r.clone();
    let i = flip % bad.len();
    bad[i] ^= 1;
    let sig = Signature::Ecdsa {
        hash,
        r: &bad,
        s: &s,
    };
    assert!(RingVerifier.verify(&key, msg, &sig).is_err());
    assert!(RustCryptoVerifier.verify(&key, msg, &sig).is_err());
    assert!(DefaultVerifier.verify(&key, msg, &sig).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn ecdsa_backends_agree(seed in any::<[u8; 32]>(), msg in proptest::collection::vec(any::<u8>(), 0..200), flip in any::<usize>(), sha384 in any::<bool>()) {
        use ecdsa::hazmat::SignPrimitive;
        let hash = if sha384 { TPM_ALG_SHA384 } else { TPM_ALG_SHA256 };
        let digest = prehash(hash, &msg);
        // P-256.
        if let Ok(sk) = p256::ecdsa::SigningKey::from_slice(&seed) {
            let (sig, _) = sk.as_nonzero_scalar().try_sign_prehashed_rfc6979::<sha2::Sha256>(&p256::FieldBytes::clone_from_slice(&digest[..32]), b"").unwrap();
            let pt = sk.verifying_key().to_encoded_point(false);
            let key = PublicKey::Ecc { curve: EccCurve::NistP256, x: pt.x().unwrap().to_vec(), y: pt.y().unwrap().to_vec() };
            let (r, s) = sig.split_bytes();
            check(key, hash, &msg, r.to_vec(), s.to_vec(), flip);
        }
        // P-384 (seed widened to 48 bytes).
        let mut seed48 = [7u8; 48];
        seed48[16..].copy_from_slice(&seed);
        if let Ok(sk) = p384::ecdsa::SigningKey::from_slice(&seed48) {
            let mut d = [0u8; 48];
            let n = digest.len().min(48);
            d[48 - n..].copy_from_slice(&digest[..n]);
            let (sig, _) = sk.as_nonzero_scalar().try_sign_prehashed_rfc6979::<sha2::Sha384>(&p384::FieldBytes::clone_from_slice(&d), b"").unwrap();
            let pt = sk.verifying_key().to_encoded_point(false);
            let key = PublicKey::Ecc { curve: EccCurve::NistP384, x: pt.x().unwrap().to_vec(), y: pt.y().unwrap().to_vec() };
            let (r, s) = sig.split_bytes();
            check(key, hash, &msg, r.to_vec(), s.to_vec(), flip);
        }
    }
}
