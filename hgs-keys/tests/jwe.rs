//! encrypt / decrypt: round trips for both key types, the header we write, every refusal with
//! its own error, and properties over random plaintexts and single-byte edits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    b64, header, join, other_rsa_key, p256_key, reheader, resegment, rsa_key, segments,
    with_raw_header, TestRng,
};
use hgs_keys::{
    decrypt, encrypt, BoundKey, JweError, JwkError, KeyUnwrap, Segment, SoftKeyError, SoftP256Key,
    SoftRsaKey, MAX_HEADER_LEN, MAX_JWE_LEN, MAX_PLAINTEXT,
};
use proptest::prelude::*;
use rand_core::OsRng;
use serde_json::json;

fn rsa_jwe(key: &SoftRsaKey, plaintext: &[u8]) -> String {
    encrypt(key.bound_key(), plaintext, &mut OsRng).unwrap()
}

fn p256_jwe(key: &SoftP256Key, plaintext: &[u8]) -> String {
    encrypt(key.bound_key(), plaintext, &mut OsRng).unwrap()
}

fn rsa_err(jwe: &str) -> JweError {
    let mut key = rsa_key();
    let public = key.bound_key().clone();
    decrypt(jwe, &public, &mut key).unwrap_err()
}

fn p256_err(jwe: &str) -> JweError {
    let mut key = p256_key(1);
    let public = key.bound_key().clone();
    decrypt(jwe, &public, &mut key).unwrap_err()
}

/// Decrypts with a test key, expecting a refusal.
type Check = fn(&str) -> JweError;

/// Decrypts with a test key.
type Outcome = Box<dyn Fn(&str) -> Result<Vec<u8>, JweError>>;

/// Both kinds of JWE to the test keys, with a checker for each.
fn both(plaintext: &[u8]) -> [(String, Check); 2] {
    [
        (rsa_jwe(&rsa_key(), plaintext), rsa_err),
        (p256_jwe(&p256_key(1), plaintext), p256_err),
    ]
}

/// A KeyUnwrap that must not be reached.
struct Unreachable;

#[derive(Debug, thiserror::Error)]
#[error("unreachable")]
struct Never;

impl KeyUnwrap for Unreachable {
    type Error = Never;
    fn rsa_oaep_decrypt(&mut self, _: &[u8]) -> Result<Vec<u8>, Never> {
        panic!("the private key was asked")
    }
    fn ecdh_z(&mut self, _: &[u8; 32], _: &[u8; 32]) -> Result<[u8; 32], Never> {
        panic!("the private key was asked")
    }
}

#[test]
fn round_trips() {
    let mut rsa = rsa_key();
    let mut ec = p256_key(1);
    for plaintext in [
        &b""[..],
        b"x",
        b"a VM's disk key",
        &vec![0xa5; MAX_PLAINTEXT],
    ] {
        let public = rsa.bound_key().clone();
        let jwe = rsa_jwe(&rsa, plaintext);
        assert_eq!(decrypt(&jwe, &public, &mut rsa).unwrap(), plaintext);
        let public = ec.bound_key().clone();
        let jwe = p256_jwe(&ec, plaintext);
        assert_eq!(decrypt(&jwe, &public, &mut ec).unwrap(), plaintext);
    }
}

#[test]
fn headers_we_write() {
    let rsa = rsa_key();
    let jwe = rsa_jwe(&rsa, b"s");
    assert_eq!(
        header(&jwe),
        json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": rsa.bound_key().thumbprint()})
    );
    let s = segments(&jwe);
    assert_eq!(s.len(), 5);
    assert_eq!(common::unb64(&s[1]).len(), 256);
    assert_eq!(common::unb64(&s[2]).len(), 12);
    assert_eq!(common::unb64(&s[4]).len(), 16);

    let ec = p256_key(1);
    let jwe = p256_jwe(&ec, b"s");
    let h = header(&jwe);
    assert_eq!(h["alg"], "ECDH-ES+A256KW");
    assert_eq!(h["enc"], "A256GCM");
    assert_eq!(h["kid"], ec.bound_key().thumbprint().as_str());
    assert_eq!(h["epk"]["kty"], "EC");
    assert_eq!(h["epk"]["crv"], "P-256");
    assert_eq!(h.as_object().unwrap().len(), 4);
    let epk = BoundKey::from_jwk_json(&h["epk"].to_string()).unwrap();
    assert_ne!(&epk, ec.bound_key());
    assert_eq!(common::unb64(&segments(&jwe)[1]).len(), 40);

    // Fresh CEK, IV and ephemeral key every time.
    let again = p256_jwe(&ec, b"s");
    assert_ne!(header(&again)["epk"], h["epk"]);
    assert_ne!(segments(&again)[2], segments(&jwe)[2]);
}

#[test]
fn plaintext_budget() {
    let big = vec![0; MAX_PLAINTEXT + 1];
    for key in [
        rsa_key().bound_key().clone(),
        p256_key(1).bound_key().clone(),
    ] {
        assert!(matches!(
            encrypt(&key, &big, &mut OsRng),
            Err(JweError::PlaintextTooLong { len, max: MAX_PLAINTEXT }) if len == MAX_PLAINTEXT + 1
        ));
    }
}

#[test]
fn wrong_recipient_is_refused_before_the_key_is_used() {
    let jwe = rsa_jwe(&other_rsa_key(), b"s");
    let key = rsa_key().bound_key().clone();
    match decrypt(&jwe, &key, &mut Unreachable).unwrap_err() {
        JweError::WrongRecipient { kid, expected } => {
            assert_eq!(kid, other_rsa_key().bound_key().thumbprint());
            assert_eq!(expected, key.thumbprint());
        }
        e => panic!("{e:?}"),
    }
    let jwe = p256_jwe(&p256_key(2), b"s");
    assert!(matches!(p256_err(&jwe), JweError::WrongRecipient { .. }));
    // RSA JWE, P-256 key: the kid already differs.
    let jwe = rsa_jwe(&rsa_key(), b"s");
    assert!(matches!(p256_err(&jwe), JweError::WrongRecipient { .. }));
}

#[test]
fn without_kid_a_jwe_for_another_key_fails_to_unwrap() {
    // RSA: OAEP fails under the other key; the soft key's error is the source, typed.
    let jwe = reheader(&rsa_jwe(&other_rsa_key(), b"s"), |h| {
        h.remove("kid");
    });
    match rsa_err(&jwe) {
        JweError::Unwrap(source) => {
            assert_eq!(
                source.downcast_ref::<SoftKeyError>(),
                Some(&SoftKeyError::Oaep)
            );
        }
        e => panic!("{e:?}"),
    }
    let jwe = reheader(&p256_jwe(&p256_key(2), b"s"), |h| {
        h.remove("kid");
    });
    assert!(matches!(p256_err(&jwe), JweError::KeyUnwrapIntegrity));
}

#[test]
fn algorithm_for_the_other_key_type() {
    let ec = p256_key(1);
    let jwe = reheader(&rsa_jwe(&rsa_key(), b"s"), |h| {
        h.insert("kid".into(), ec.bound_key().thumbprint().into());
    });
    assert!(matches!(
        p256_err(&jwe),
        JweError::KeyMismatch {
            alg: "RSA-OAEP-256",
            key: "P-256"
        }
    ));
    let jwe = reheader(&p256_jwe(&ec, b"s"), |h| {
        h.remove("kid");
    });
    assert!(matches!(
        rsa_err(&jwe),
        JweError::KeyMismatch {
            alg: "ECDH-ES+A256KW",
            key: "RSA"
        }
    ));
}

#[test]
fn unknown_algorithms_and_encryptions() {
    for (jwe, check) in both(b"s") {
        for alg in [
            "RSA-OAEP",
            "RSA1_5",
            "dir",
            "none",
            "ECDH-ES",
            "ECDH-ES+A128KW",
            "A256KW",
            "rsa-oaep-256",
        ] {
            let bad = reheader(&jwe, |h| {
                h.insert("alg".into(), alg.into());
            });
            assert!(
                matches!(check(&bad), JweError::Algorithm { alg: a } if a == alg),
                "{alg}"
            );
        }
        for enc in ["A128GCM", "A256CBC-HS512", "A192GCM", "a256gcm"] {
            let bad = reheader(&jwe, |h| {
                h.insert("enc".into(), enc.into());
            });
            assert!(
                matches!(check(&bad), JweError::Encryption { enc: e } if e == enc),
                "{enc}"
            );
        }
        for name in ["alg", "enc"] {
            let bad = reheader(&jwe, |h| {
                h.remove(name);
            });
            assert!(matches!(check(&bad), JweError::MissingHeader { name: n } if n == name));
        }
    }
}

#[test]
fn zip_and_crit() {
    for (jwe, check) in both(b"s") {
        let bad = reheader(&jwe, |h| {
            h.insert("zip".into(), "DEF".into());
        });
        assert!(matches!(check(&bad), JweError::Compressed));
        let bad = reheader(&jwe, |h| {
            h.insert("zip".into(), serde_json::Value::Null);
        });
        assert!(matches!(check(&bad), JweError::Compressed));
        let bad = reheader(&jwe, |h| {
            h.insert("crit".into(), json!(["exp"]));
            h.insert("exp".into(), json!(1));
        });
        assert!(matches!(check(&bad), JweError::Critical));
    }
}

#[test]
fn header_structure() {
    for (jwe, check) in both(b"s") {
        let not_object = with_raw_header(&jwe, br#"["RSA-OAEP-256","A256GCM"]"#);
        assert!(matches!(check(&not_object), JweError::HeaderNotObject));
        let not_json = with_raw_header(&jwe, br#"{"alg":"#);
        assert!(matches!(check(&not_json), JweError::Header(_)));
        let h = header(&jwe).to_string();
        let dup = h.replacen('{', r#"{"alg":"RSA-OAEP-256","#, 1);
        assert!(matches!(
            check(&with_raw_header(&jwe, dup.as_bytes())),
            JweError::Header(_)
        ));
        let typed = with_raw_header(&jwe, br#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":5}"#);
        assert!(matches!(check(&typed), JweError::Header(_)));
        let long = h.replacen(
            '{',
            &format!(r#"{{"pad":"{}","#, "p".repeat(MAX_HEADER_LEN)),
            1,
        );
        assert!(matches!(
            check(&with_raw_header(&jwe, long.as_bytes())),
            JweError::HeaderTooLong {
                max: MAX_HEADER_LEN,
                ..
            }
        ));
        // An unknown parameter is ignored, but the header is authenticated: the tag fails.
        let extra = reheader(&jwe, |h| {
            h.insert("cty".into(), "JWT".into());
        });
        assert!(matches!(check(&extra), JweError::Authentication));
        // Same parameters, other spelling (whitespace): still a different AAD.
        let spaced = h.replacen(',', ", ", 1);
        assert!(matches!(
            check(&with_raw_header(&jwe, spaced.as_bytes())),
            JweError::Authentication
        ));
    }
}

#[test]
fn ephemeral_key_refusals() {
    let jwe = p256_jwe(&p256_key(1), b"s");
    let set_epk = |epk: serde_json::Value| {
        reheader(&jwe, |h| {
            h.insert("epk".into(), epk);
        })
    };
    let missing = reheader(&jwe, |h| {
        h.remove("epk");
    });
    assert!(matches!(
        p256_err(&missing),
        JweError::MissingHeader { name: "epk" }
    ));
    let epk = header(&jwe)["epk"].clone();

    let mut off = epk.clone();
    let mut y = common::unb64(off["y"].as_str().unwrap());
    y[31] ^= 1;
    off["y"] = b64(&y).into();
    assert!(matches!(
        p256_err(&set_epk(off)),
        JweError::EphemeralKey(JwkError::NotOnCurve)
    ));
    let mut p384 = epk.clone();
    p384["crv"] = "P-384".into();
    assert!(matches!(
        p256_err(&set_epk(p384)),
        JweError::EphemeralKey(JwkError::Curve { .. })
    ));
    let mut private = epk.clone();
    private["d"] = "AAAA".into();
    assert!(matches!(
        p256_err(&set_epk(private)),
        JweError::EphemeralKey(JwkError::PrivateMember { member: "d" })
    ));
    let rsa_epk: serde_json::Value =
        serde_json::from_str(&rsa_key().bound_key().to_jwk_json()).unwrap();
    assert!(matches!(
        p256_err(&set_epk(rsa_epk)),
        JweError::EphemeralKey(JwkError::KeyType { .. })
    ));
    assert!(matches!(
        p256_err(&set_epk(json!("not a key"))),
        JweError::Header(_)
    ));
    // Another valid point: Z differs, so the key unwrap's integrity check fails.
    let other: serde_json::Value =
        serde_json::from_str(&p256_key(9).bound_key().to_jwk_json()).unwrap();
    assert!(matches!(
        p256_err(&set_epk(other)),
        JweError::KeyUnwrapIntegrity
    ));
}

#[test]
fn party_info() {
    let jwe = p256_jwe(&p256_key(1), b"s");
    for name in ["apu", "apv"] {
        let bad = reheader(&jwe, |h| {
            h.insert(name.into(), "Qm9i=".into());
        });
        assert!(matches!(p256_err(&bad), JweError::PartyInfo { name: n } if n == name));
        // Valid but not what the sender used: a different KEK.
        let other = reheader(&jwe, |h| {
            h.insert(name.into(), "Qm9i".into());
        });
        assert!(matches!(p256_err(&other), JweError::KeyUnwrapIntegrity));
    }
}

#[test]
fn sizes() {
    for (jwe, check) in both(b"s") {
        let expected = common::unb64(&segments(&jwe)[1]).len();
        let short_key = resegment(&jwe, 1, |k| {
            k.pop();
        });
        assert!(matches!(
            check(&short_key),
            JweError::EncryptedKeyLength { len, expected: e } if len == expected - 1 && e == expected
        ));
        let empty_key = resegment(&jwe, 1, Vec::clear);
        assert!(matches!(
            check(&empty_key),
            JweError::EncryptedKeyLength { len: 0, .. }
        ));
        for iv_len in [0, 11, 13, 16] {
            let bad = resegment(&jwe, 2, |iv| iv.resize(iv_len, 0));
            assert!(matches!(check(&bad), JweError::IvLength { len } if len == iv_len));
        }
        for tag_len in [0, 8, 12, 15, 17] {
            let bad = resegment(&jwe, 4, |t| t.resize(tag_len, 0));
            assert!(matches!(check(&bad), JweError::TagLength { len } if len == tag_len));
        }
        let big = resegment(&jwe, 3, |c| c.resize(MAX_PLAINTEXT + 1, 0));
        assert!(big.len() <= MAX_JWE_LEN);
        assert!(matches!(
            check(&big),
            JweError::CiphertextTooLong {
                max: MAX_PLAINTEXT,
                ..
            }
        ));
    }
}

#[test]
fn compact_framing() {
    for (jwe, check) in both(b"s") {
        let too_long = format!("{jwe}{}", "A".repeat(MAX_JWE_LEN));
        assert!(matches!(
            check(&too_long),
            JweError::TooLong {
                max: MAX_JWE_LEN,
                ..
            }
        ));
        let s = segments(&jwe);
        assert!(matches!(
            check(&join(&s[..4])),
            JweError::Segments { found: 4 }
        ));
        assert!(matches!(
            check(&format!("{jwe}.AAAA")),
            JweError::Segments { found: 6 }
        ));
        assert!(matches!(
            check(&format!("{jwe}...")),
            JweError::Segments { found: 6 }
        ));
        assert!(matches!(
            check(&join(&s[..3])),
            JweError::Segments { found: 3 }
        ));
        assert!(matches!(check(""), JweError::Segments { found: 1 }));
        // JSON serialization is not accepted.
        assert!(matches!(check("{}"), JweError::Segments { found: 1 }));
    }
}

#[test]
fn bad_base64_in_each_segment() {
    let segs = [
        Segment::Header,
        Segment::EncryptedKey,
        Segment::Iv,
        Segment::Ciphertext,
        Segment::Tag,
    ];
    for (jwe, check) in both(b"some secret") {
        for (i, segment) in segs.into_iter().enumerate() {
            for spoil in [
                |s: &mut String| s.push('='),
                |s: &mut String| s.insert(1, '+'),
                |s: &mut String| s.insert(0, ' '),
                |s: &mut String| s.push('A'),
            ] {
                let mut parts = segments(&jwe);
                spoil(&mut parts[i]);
                let bad = join(&parts);
                match check(&bad) {
                    JweError::Base64 { segment: got } => assert_eq!(got, segment),
                    // One more character can make a canonical spelling of one more byte: a
                    // length error (or, for the ciphertext, a failed tag) instead.
                    JweError::EncryptedKeyLength { .. }
                    | JweError::IvLength { .. }
                    | JweError::TagLength { .. }
                    | JweError::Authentication
                        if segment != Segment::Header => {}
                    e => panic!("{segment}: {e:?}"),
                }
            }
        }
    }
}

#[test]
fn tampering_with_authenticated_parts() {
    for (jwe, check) in both(b"a secret worth tampering with") {
        for i in [2, 3, 4] {
            let bad = resegment(&jwe, i, |b| b[0] ^= 0x01);
            assert!(
                matches!(check(&bad), JweError::Authentication),
                "segment {i}"
            );
        }
        // The ciphertext shortened by one byte: same tag, other data.
        let bad = resegment(&jwe, 3, |b| {
            b.pop();
        });
        assert!(matches!(check(&bad), JweError::Authentication));
    }
    // The encrypted key: OAEP (RSA) or the key wrap (P-256) notices.
    let bad = resegment(&rsa_jwe(&rsa_key(), b"s"), 1, |k| k[100] ^= 0x80);
    assert!(matches!(rsa_err(&bad), JweError::Unwrap(_)));
    let bad = resegment(&p256_jwe(&p256_key(1), b"s"), 1, |k| k[39] ^= 0x80);
    assert!(matches!(p256_err(&bad), JweError::KeyUnwrapIntegrity));
}

/// A KeyUnwrap of our own: returns what it is told, and its error comes back typed.
struct Scripted {
    cek: Vec<u8>,
    fail: bool,
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("TPM_RC_KEY")]
struct TpmRc(u32);

impl KeyUnwrap for Scripted {
    type Error = TpmRc;
    fn rsa_oaep_decrypt(&mut self, ct: &[u8]) -> Result<Vec<u8>, TpmRc> {
        assert_eq!(ct.len(), 256);
        if self.fail {
            return Err(TpmRc(0x1c4));
        }
        Ok(self.cek.clone())
    }
    fn ecdh_z(&mut self, _: &[u8; 32], _: &[u8; 32]) -> Result<[u8; 32], TpmRc> {
        Err(TpmRc(0x1c4))
    }
}

#[test]
fn the_callers_unwrap() {
    let jwe = rsa_jwe(&rsa_key(), b"s");
    let key = rsa_key().bound_key().clone();
    for len in [0, 16, 31, 33, 256] {
        let mut s = Scripted {
            cek: vec![0; len],
            fail: false,
        };
        assert!(
            matches!(decrypt(&jwe, &key, &mut s), Err(JweError::CekLength { len: l }) if l == len)
        );
    }
    // A 32-octet but wrong key: the tag fails.
    let mut s = Scripted {
        cek: vec![0; 32],
        fail: false,
    };
    assert!(matches!(
        decrypt(&jwe, &key, &mut s),
        Err(JweError::Authentication)
    ));
    let mut s = Scripted {
        cek: vec![],
        fail: true,
    };
    let e = decrypt(&jwe, &key, &mut s).unwrap_err();
    let JweError::Unwrap(source) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(source.downcast_ref::<TpmRc>(), Some(&TpmRc(0x1c4)));
    assert_eq!(
        std::error::Error::source(&e).map(ToString::to_string),
        Some("TPM_RC_KEY".into())
    );
    // &mut of an implementation is one too.
    let mut rsa = rsa_key();
    assert_eq!(decrypt(&jwe, &key, &mut &mut rsa).unwrap(), b"s");
}

#[test]
fn soft_keys_refuse_the_other_operation() {
    let mut rsa = rsa_key();
    assert_eq!(
        rsa.ecdh_z(&[0; 32], &[0; 32]),
        Err(SoftKeyError::WrongKeyType {
            key: "RSA",
            operation: "ECDH"
        })
    );
    let mut ec = p256_key(1);
    assert!(matches!(
        ec.rsa_oaep_decrypt(&[0; 256]),
        Err(SoftKeyError::WrongKeyType { .. })
    ));
    assert_eq!(ec.ecdh_z(&[0; 32], &[0; 32]), Err(SoftKeyError::Point));
    assert!(matches!(
        SoftP256Key::from_scalar_bytes(&[0; 32]),
        Err(SoftKeyError::Scalar)
    ));
    assert!(matches!(
        SoftP256Key::from_scalar_bytes(&[0xff; 32]),
        Err(SoftKeyError::Scalar)
    ));
    // Debug shows no private key.
    let d = format!("{rsa:?} {ec:?}");
    assert!(d.contains(&rsa.bound_key().thumbprint()));
    assert!(!d.contains(&p256_key(1).private_jwk_json()[60..]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip_random_plaintexts(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        seed in any::<u64>(),
        rsa in any::<bool>(),
    ) {
        let mut rng = TestRng::new(seed);
        if rsa {
            let mut key = rsa_key();
            let public = key.bound_key().clone();
            let jwe = encrypt(&public, &plaintext, &mut rng).unwrap();
            prop_assert_eq!(decrypt(&jwe, &public, &mut key).unwrap(), plaintext);
        } else {
            let mut key = p256_key(1 + (seed % 200) as u8);
            let public = key.bound_key().clone();
            let jwe = encrypt(&public, &plaintext, &mut rng).unwrap();
            prop_assert_eq!(decrypt(&jwe, &public, &mut key).unwrap(), plaintext);
        }
    }

    #[test]
    fn a_single_byte_change_never_decrypts_to_another_plaintext(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        seed in any::<u64>(),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
        rsa in any::<bool>(),
    ) {
        let mut rng = TestRng::new(seed);
        let (jwe, outcome): (String, Outcome) = if rsa {
            let key = rsa_key();
            let public = key.bound_key().clone();
            let jwe = encrypt(&public, &plaintext, &mut rng).unwrap();
            (jwe, Box::new(move |s| decrypt(s, &public, &mut key.clone())))
        } else {
            let key = p256_key(3);
            let public = key.bound_key().clone();
            let jwe = encrypt(&public, &plaintext, &mut rng).unwrap();
            (jwe, Box::new(move |s| decrypt(s, &public, &mut key.clone())))
        };
        let mut bytes = jwe.into_bytes();
        let i = position.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        if let Ok(edited) = String::from_utf8(bytes) {
            if let Ok(p) = outcome(&edited) {
                prop_assert_eq!(p, plaintext);
            }
        }
    }
}

#[test]
fn soft_rsa_key_from_primes() {
    // The fuzz target's fixture key.
    let p = hex_bytes("ef7ccb6b584dcd9067aa9b46302ee775eb9de9223c1567385d5ea36e9e720736b3785490c13c59f5e2b56f4980f3c9f1f3db77ea0d7ac7b628ee4acdc375d1bda3d4b25bc96e4324bd48d2dcbda66391f73f675917883b59454820306faa963f237ab71b08293dc0cdc87850bc1e4982a1ffc4e123782806c98608bce9bd40dd");
    let q = hex_bytes("d4d7c355cb7be3d9e105bd55eb37ed19df6b5981109d00657128f73ad232b27780611e9dc0ae648e333eaeefdc174f9ab76c055a0f01f5e7917bc764a204f408c533723b75c98159bb7815371c982f0fd3479e74e16726b98c9912dd8349dee5065a78582c84f527f712a5867afa1dd9d3090821b001bfa8653c9f9784a9535f");
    let mut key = SoftRsaKey::from_primes(&p, &q).unwrap();
    let public = key.bound_key().clone();
    let BoundKey::Rsa(rsa) = &public else {
        panic!("not RSA")
    };
    assert_eq!(rsa.e(), [1, 0, 1]);
    let jwe = rsa_jwe(&key, b"s");
    assert_eq!(decrypt(&jwe, &public, &mut key).unwrap(), b"s");
    assert!(matches!(
        SoftRsaKey::from_primes(&p, &p),
        Err(SoftKeyError::RsaShape)
    ));
    // 1024-bit primes make 2048 bits; 512-bit ones do not.
    assert!(matches!(
        SoftRsaKey::from_primes(&p[..64], &q[..64]),
        Err(SoftKeyError::RsaShape)
    ));
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
