//! BoundKey: JWK reading and writing, constructors from TPM parts, thumbprints, cnf; every
//! refusal with its own error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{b64, p256_key, rsa_key, unb64};
use hgs_keys::{BoundKey, Confirmation, JwkError, SoftP256Key, MAX_JWK_LEN};

/// RFC 7638 §3.1's 2048-bit modulus.
const N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
/// RFC 7518 Appendix C, Alice's ephemeral public key.
const X: &str = "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0";
const Y: &str = "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps";

fn rsa_jwk(n: &str, e: &str) -> String {
    format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#)
}

fn ec_jwk(x: &str, y: &str) -> String {
    format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#)
}

fn err(json: &str) -> JwkError {
    BoundKey::from_jwk_json(json).unwrap_err()
}

#[test]
fn rsa_round_trip_and_tpm_parts() {
    let key = BoundKey::from_jwk_json(&rsa_jwk(N, "AQAB")).unwrap();
    let BoundKey::Rsa(rsa) = &key else {
        panic!("not RSA")
    };
    assert_eq!(rsa.n().len(), 256);
    assert_eq!(rsa.e(), [1, 0, 1]);
    assert_eq!(BoundKey::from_jwk_json(&key.to_jwk_json()).unwrap(), key);
    // As a TPM gives them: the modulus as stored, a 32-bit exponent in 4 octets.
    assert_eq!(
        BoundKey::from_rsa_parts(&unb64(N), &65537u32.to_be_bytes()).unwrap(),
        key
    );
    assert_eq!(key.key_type(), "RSA");
    assert_eq!(key.jwe_alg(), "RSA-OAEP-256");
}

#[test]
fn p256_round_trip_and_tpm_parts() {
    let key = BoundKey::from_jwk_json(&ec_jwk(X, Y)).unwrap();
    let BoundKey::P256(p) = &key else {
        panic!("not P-256")
    };
    assert_eq!(b64(p.x()), X);
    assert_eq!(b64(p.y()), Y);
    assert_eq!(
        key.to_jwk_json(),
        format!(r#"{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}}"#)
    );
    assert_eq!(BoundKey::from_jwk_json(&key.to_jwk_json()).unwrap(), key);
    assert_eq!(BoundKey::from_p256_xy(&unb64(X), &unb64(Y)).unwrap(), key);
    let sec1 = p.to_sec1_uncompressed();
    assert_eq!(BoundKey::from_p256_sec1(&sec1).unwrap(), key);
    // Compressed: the parity of y (odd here) in the tag.
    let mut compressed = vec![0x02 | (p.y()[31] & 1)];
    compressed.extend_from_slice(p.x());
    assert_eq!(BoundKey::from_p256_sec1(&compressed).unwrap(), key);
    assert_eq!(key.jwe_alg(), "ECDH-ES+A256KW");
    assert_eq!(serde_json::to_string(&key).unwrap(), key.to_jwk_json());
}

#[test]
fn p256_coordinates_from_a_tpm_may_lack_leading_zeros() {
    // Find a key whose x starts with a zero octet.
    let key = (1u16..4096)
        .filter_map(|i| {
            let mut scalar = [0u8; 32];
            scalar[30..].copy_from_slice(&i.to_be_bytes());
            SoftP256Key::from_scalar_bytes(&scalar).ok()
        })
        .find_map(|k| match k.bound_key() {
            BoundKey::P256(p) if p.x()[0] == 0 => Some(k.bound_key().clone()),
            _ => None,
        })
        .expect("some seed gives x with a leading zero octet");
    let BoundKey::P256(p) = &key else {
        unreachable!()
    };
    let short_x = &p.x()[1..];
    assert_eq!(BoundKey::from_p256_xy(short_x, p.y()).unwrap(), key);
    // In a JWK a coordinate is the full 32 octets.
    assert!(matches!(
        err(&ec_jwk(&b64(short_x), &b64(p.y()))),
        JwkError::CoordinateLength {
            member: "x",
            len: 31
        }
    ));
}

#[test]
fn unknown_members_are_ignored() {
    let json = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"k1","use":"enc","alg":"ECDH-ES+A256KW","x5c":["AAAA"],"ext":true,"key_ops":["deriveKey"],"whatever":{{"d":1}}}}"#
    );
    assert_eq!(
        BoundKey::from_jwk_json(&json).unwrap(),
        BoundKey::from_jwk_json(&ec_jwk(X, Y)).unwrap()
    );
}

#[test]
fn private_members_are_refused() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        let json = format!(r#"{{"kty":"RSA","n":"{N}","e":"AQAB","{member}":"AQAB"}}"#);
        assert!(
            matches!(err(&json), JwkError::PrivateMember { member: m } if m == member),
            "{member}"
        );
    }
    let json = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","d":null}}"#);
    assert!(matches!(
        err(&json),
        JwkError::PrivateMember { member: "d" }
    ));
    assert!(matches!(
        err(r#"{"kty":"oct","k":"AAAA"}"#),
        JwkError::PrivateMember { member: "k" }
    ));
    // A software key's private JWK is not accepted where a public key is expected.
    assert!(matches!(
        err(&p256_key(7).private_jwk_json()),
        JwkError::PrivateMember { member: "d" }
    ));
    assert!(matches!(
        err(rsa_key().private_jwk_json()),
        JwkError::PrivateMember { member: "d" }
    ));
}

#[test]
fn structural_refusals() {
    let long = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","pad":"{}"}}"#,
        "a".repeat(MAX_JWK_LEN)
    );
    assert!(matches!(
        err(&long),
        JwkError::TooLong {
            max: MAX_JWK_LEN,
            ..
        }
    ));
    assert!(matches!(err(r#"["EC"]"#), JwkError::NotObject));
    assert!(matches!(err(""), JwkError::NotObject));
    assert!(matches!(err(r#"{"kty":"EC""#), JwkError::Json(_)));
    assert!(matches!(err(r#"{"kty":1}"#), JwkError::Json(_)));
    let dup = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","x":"{Y}","y":"{Y}"}}"#);
    assert!(matches!(err(&dup), JwkError::Json(_)));
    assert!(matches!(err("{}"), JwkError::Missing { member: "kty" }));
    assert!(matches!(
        err(r#"{"kty":"RSA","e":"AQAB"}"#),
        JwkError::Missing { member: "n" }
    ));
    assert!(matches!(
        err(&format!(r#"{{"kty":"RSA","n":"{N}"}}"#)),
        JwkError::Missing { member: "e" }
    ));
    assert!(matches!(
        err(&format!(r#"{{"kty":"EC","x":"{X}","y":"{Y}"}}"#)),
        JwkError::Missing { member: "crv" }
    ));
    assert!(matches!(
        err(&format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}"}}"#)),
        JwkError::Missing { member: "y" }
    ));
    assert!(matches!(err(r#"{"kty":"OKP"}"#), JwkError::KeyType { kty } if kty == "OKP"));
    assert!(matches!(
        err(&format!(r#"{{"kty":"EC","crv":"P-384","x":"{X}","y":"{Y}"}}"#)),
        JwkError::Curve { crv } if crv == "P-384"
    ));
}

#[test]
fn base64_must_be_canonical_unpadded_base64url() {
    assert!(matches!(
        err(&rsa_jwk(N, "AQAB=")),
        JwkError::Base64 { member: "e" }
    ));
    let std_alphabet = N.replace('-', "+");
    assert!(matches!(
        err(&rsa_jwk(&std_alphabet, "AQAB")),
        JwkError::Base64 { member: "n" }
    ));
    // Non-zero trailing bits: "AR" would decode to the byte 0x01.
    assert!(matches!(
        err(&ec_jwk(X, &format!("{}R", &Y[..Y.len() - 1]))),
        JwkError::Base64 { member: "y" }
    ));
}

#[test]
fn rsa_refusals() {
    let n = unb64(N);
    let minimal = |name: &'static str, e: JwkError| {
        assert!(
            matches!(e, JwkError::NotMinimal { member } if member == name),
            "{name}"
        );
    };
    let mut padded_n = vec![0];
    padded_n.extend_from_slice(&n);
    minimal("n", err(&rsa_jwk(&b64(&padded_n), "AQAB")));
    minimal("e", err(&rsa_jwk(N, "AAEAAQ")));

    let short = &n[..128];
    assert!(matches!(
        err(&rsa_jwk(&b64(short), "AQAB")),
        JwkError::RsaModulusSize { bits: 1024 }
    ));
    let mut n2047 = n.clone();
    n2047[0] &= 0x7f;
    assert!(matches!(
        BoundKey::from_rsa_parts(&n2047, &[1, 0, 1]),
        Err(JwkError::RsaModulusSize { bits: 2047 })
    ));
    let mut long = n.clone();
    long.push(0x01);
    assert!(matches!(
        BoundKey::from_rsa_parts(&long, &[3]),
        Err(JwkError::RsaModulusSize { bits: 2056 })
    ));
    let mut even = n.clone();
    even[255] &= 0xfe;
    assert!(matches!(
        BoundKey::from_rsa_parts(&even, &[3]),
        Err(JwkError::RsaModulusEven)
    ));
    for e in [&[][..], &[0], &[1], &[0, 0, 0, 1]] {
        assert!(matches!(
            BoundKey::from_rsa_parts(&n, e),
            Err(JwkError::RsaExponentTooSmall)
        ));
    }
    assert!(matches!(
        BoundKey::from_rsa_parts(&n, &[1, 0, 0]),
        Err(JwkError::RsaExponentEven)
    ));
    assert!(matches!(
        BoundKey::from_rsa_parts(&n, &[1, 0, 0, 0, 1]),
        Err(JwkError::RsaExponentTooLong { len: 5 })
    ));
    assert!(BoundKey::from_rsa_parts(&n, &[0xff, 0xff, 0xff, 0xff]).is_ok());
    assert!(BoundKey::from_rsa_parts(&n, &[3]).is_ok());
}

#[test]
fn p256_refusals() {
    let one = b64(&{
        let mut c = [0u8; 32];
        c[31] = 1;
        c
    });
    assert!(matches!(err(&ec_jwk(&one, &one)), JwkError::NotOnCurve));
    assert!(matches!(
        err(&ec_jwk(&b64(&[0; 32]), &b64(&[0; 32]))),
        JwkError::NotOnCurve
    ));
    assert!(matches!(
        err(&ec_jwk(&b64(&[1; 33]), Y)),
        JwkError::CoordinateLength {
            member: "x",
            len: 33
        }
    ));
    assert!(matches!(
        BoundKey::from_p256_xy(&[1; 33], &unb64(Y)),
        Err(JwkError::CoordinateLength {
            member: "x",
            len: 33
        })
    ));
    // y of another point: off the curve.
    let mut y = unb64(Y);
    y[31] ^= 1;
    assert!(matches!(
        BoundKey::from_p256_xy(&unb64(X), &y),
        Err(JwkError::NotOnCurve)
    ));
    // SEC1 shapes: the identity (00), hybrid (06), wrong lengths.
    assert!(matches!(
        BoundKey::from_p256_sec1(&[0]),
        Err(JwkError::Sec1 { len: 1, tag: 0 })
    ));
    assert!(matches!(
        BoundKey::from_p256_sec1(&[]),
        Err(JwkError::Sec1 { len: 0, tag: 0 })
    ));
    let mut hybrid = vec![0x06];
    hybrid.extend_from_slice(&unb64(X));
    hybrid.extend_from_slice(&unb64(Y));
    assert!(matches!(
        BoundKey::from_p256_sec1(&hybrid),
        Err(JwkError::Sec1 { len: 65, tag: 6 })
    ));
    assert!(matches!(
        BoundKey::from_p256_sec1(&hybrid[..64]),
        Err(JwkError::Sec1 { len: 64, tag: 6 })
    ));
    // An x with no point on the curve, compressed.
    let no_point = (0u8..=255)
        .map(|b| {
            let mut c = vec![0x02];
            c.extend_from_slice(&[b; 32]);
            c
        })
        .find(|c| BoundKey::from_p256_sec1(c).is_err())
        .unwrap();
    assert!(matches!(
        BoundKey::from_p256_sec1(&no_point),
        Err(JwkError::NotOnCurve)
    ));
}

#[test]
fn thumbprints_differ_per_key_and_ignore_extra_members() {
    let a = p256_key(1).bound_key().thumbprint();
    let b = p256_key(2).bound_key().thumbprint();
    assert_ne!(a, b);
    assert_eq!(a.len(), 43);
    let with_kid = p256_key(1)
        .bound_key()
        .to_jwk_json()
        .replace('}', r#","kid":"anything"}"#);
    assert_eq!(BoundKey::from_jwk_json(&with_kid).unwrap().thumbprint(), a);
}

#[test]
fn confirmation_claim_shape() {
    let key = rsa_key().bound_key().clone();
    let cnf = Confirmation::from(key.clone());
    let json = serde_json::to_value(&cnf).unwrap();
    assert_eq!(json["jwk"]["kty"], "RSA");
    assert_eq!(json["jwk"]["e"], "AQAB");
    assert_eq!(json.as_object().unwrap().len(), 1);
    assert_eq!(
        serde_json::from_value::<Confirmation>(json).unwrap().jwk,
        key
    );

    // Other cnf members (RFC 7800 jkt, kid) are ignored; a private key inside is refused.
    let json = format!(
        r#"{{"kid":"x","jwk":{},"jkt":"y"}}"#,
        p256_key(3).bound_key().to_jwk_json()
    );
    let cnf: Confirmation = serde_json::from_str(&json).unwrap();
    assert_eq!(&cnf.jwk, p256_key(3).bound_key());
    let json = format!(r#"{{"jwk":{}}}"#, *p256_key(3).private_jwk_json());
    let e = serde_json::from_str::<Confirmation>(&json).unwrap_err();
    assert!(e.to_string().contains("private member"), "{e}");
    assert!(serde_json::from_str::<Confirmation>("{}").is_err());
}
