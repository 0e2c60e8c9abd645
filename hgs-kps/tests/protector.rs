//! Key protectors: round trips with RSA and P-256 guardians, grant and revoke, rewrap to a
//! host's key, tampered documents refused by the MAC, malformed documents typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hgs_keys::{SoftP256Key, SoftRsaKey};
use hgs_kps::{
    Guardian, GuardianFingerprint, KeyProtector, ProtectorError, Role, TransportKey,
    KEY_PROTECTOR_FORMAT, MAX_KEY_PROTECTOR_LEN, MAX_WRAPPINGS, MAX_WRAPPING_JWE_LEN,
};
use serde_json::{json, Value};

struct Fixture {
    owner: Guardian,
    owner_key: SoftRsaKey,
    fabric: Guardian,
    fabric_key: SoftP256Key,
    dr: Guardian,
    dr_key: SoftP256Key,
}

fn fixture() -> Fixture {
    let (owner, owner_key) = rsa_guardian("Owner");
    let (fabric, fabric_key) = p256_guardian("Fabric", 0x22);
    let (dr, dr_key) = p256_guardian("DR site", 0x44);
    Fixture {
        owner,
        owner_key,
        fabric,
        fabric_key,
        dr,
        dr_key,
    }
}

fn made(f: &Fixture) -> (KeyProtector, TransportKey) {
    KeyProtector::new(&f.owner, std::slice::from_ref(&f.fabric), &mut TestRng(1)).unwrap()
}

fn json_of(kp: &KeyProtector) -> Value {
    serde_json::from_slice(&kp.to_bytes()).unwrap()
}

fn reparse(v: &Value) -> Result<KeyProtector, ProtectorError> {
    KeyProtector::parse(v.to_string().as_bytes())
}

#[test]
fn round_trip_with_rsa_owner_and_p256_guardian() {
    let mut f = fixture();
    let (kp, transport) = made(&f);
    let bytes = kp.to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["format"], KEY_PROTECTOR_FORMAT);
    assert_eq!(v["wrappings"][0]["role"], "owner");
    assert_eq!(
        v["wrappings"][0]["guardian"],
        f.owner.fingerprint().to_string()
    );
    assert_eq!(v["wrappings"][1]["role"], "guardian");
    assert_eq!(v["wrappings"].as_array().unwrap().len(), 2);

    let back = KeyProtector::parse(&bytes).unwrap();
    assert_eq!(back, kp);
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.owner(), f.owner.fingerprint());
    assert_eq!(back.wrappings()[1].role(), Role::Guardian);

    let a = back.unwrap(&f.owner, &mut f.owner_key).unwrap();
    let b = back.unwrap(&f.fabric, &mut f.fabric_key).unwrap();
    assert_eq!(a.as_bytes(), transport.as_bytes());
    assert_eq!(b.as_bytes(), transport.as_bytes());
    back.verify_mac(&transport).unwrap();

    // Fresh keys and ids per protector.
    let (other, other_key) =
        KeyProtector::new(&f.owner, std::slice::from_ref(&f.fabric), &mut TestRng(2)).unwrap();
    assert_ne!(other.id(), kp.id());
    assert_ne!(other_key.as_bytes(), transport.as_bytes());
    assert!(matches!(
        other.verify_mac(&transport),
        Err(ProtectorError::Integrity)
    ));
    // Debug of the protector names guardians, never a key.
    let shown = format!("{kp:?} {transport:?}");
    assert!(!shown.contains(&format!("{:?}", transport.as_bytes())));
}

#[test]
fn p256_owner_and_rsa_guardian_round_trip_too() {
    let mut f = fixture();
    let (kp, transport) =
        KeyProtector::new(&f.fabric, std::slice::from_ref(&f.owner), &mut TestRng(3)).unwrap();
    let kp = KeyProtector::parse(&kp.to_bytes()).unwrap();
    assert_eq!(
        kp.unwrap(&f.owner, &mut f.owner_key).unwrap().as_bytes(),
        transport.as_bytes()
    );
    assert_eq!(
        kp.unwrap(&f.fabric, &mut f.fabric_key).unwrap().as_bytes(),
        transport.as_bytes()
    );
}

#[test]
fn unknown_guardian_and_wrong_key_are_typed() {
    let mut f = fixture();
    let (kp, _) = made(&f);
    match kp.unwrap(&f.dr, &mut f.dr_key) {
        Err(ProtectorError::NoWrapping { guardian }) => assert_eq!(&guardian, f.dr.fingerprint()),
        other => panic!("{other:?}"),
    }
    // The fabric's certificate with another private key: the JWE decrypts to nothing.
    assert!(matches!(
        kp.unwrap(&f.fabric, &mut f.dr_key),
        Err(ProtectorError::Decrypt { .. })
    ));
}

#[test]
fn new_refuses_duplicates_and_too_many() {
    let f = fixture();
    assert!(matches!(
        KeyProtector::new(&f.owner, std::slice::from_ref(&f.owner), &mut TestRng(1)),
        Err(ProtectorError::DuplicateGuardian { .. })
    ));
    assert!(matches!(
        KeyProtector::new(
            &f.owner,
            &[f.fabric.clone(), f.fabric.clone()],
            &mut TestRng(1)
        ),
        Err(ProtectorError::DuplicateGuardian { .. })
    ));
    let many: Vec<Guardian> = (0..MAX_WRAPPINGS).map(|_| f.fabric.clone()).collect();
    assert!(matches!(
        KeyProtector::new(&f.owner, &many, &mut TestRng(1)),
        Err(ProtectorError::TooManyWrappings { count, max: MAX_WRAPPINGS }) if count == MAX_WRAPPINGS + 1
    ));
}

#[test]
fn grant_and_revoke() {
    let mut f = fixture();
    let (mut kp, transport) = made(&f);
    // A guardian (not only the owner) may grant: it holds the transport key anyway.
    kp.grant(&f.fabric, &mut f.fabric_key, &f.dr, &mut TestRng(9))
        .unwrap();
    let kp2 = KeyProtector::parse(&kp.to_bytes()).unwrap();
    assert_eq!(
        kp2.unwrap(&f.dr, &mut f.dr_key).unwrap().as_bytes(),
        transport.as_bytes()
    );
    assert_eq!(kp2.wrappings().len(), 3);
    // Granting twice, or granting as someone not listed, is refused and changes nothing.
    let before = kp.clone();
    assert!(matches!(
        kp.grant(&f.owner, &mut f.owner_key, &f.dr, &mut TestRng(9)),
        Err(ProtectorError::DuplicateGuardian { .. })
    ));
    let (stranger, mut stranger_key) = p256_guardian("Stranger", 0x55);
    assert!(matches!(
        kp.grant(&stranger, &mut stranger_key, &stranger, &mut TestRng(9)),
        Err(ProtectorError::NoWrapping { .. })
    ));
    assert_eq!(kp, before);

    // Revoke the fabric; the owner cannot be revoked.
    let fabric_fp = *f.fabric.fingerprint();
    kp.revoke(&f.owner, &mut f.owner_key, &fabric_fp).unwrap();
    let kp3 = KeyProtector::parse(&kp.to_bytes()).unwrap();
    assert!(matches!(
        kp3.unwrap(&f.fabric, &mut f.fabric_key),
        Err(ProtectorError::NoWrapping { .. })
    ));
    assert_eq!(
        kp3.unwrap(&f.dr, &mut f.dr_key).unwrap().as_bytes(),
        transport.as_bytes()
    );
    let owner_fp = *f.owner.fingerprint();
    assert!(matches!(
        kp.revoke(&f.dr, &mut f.dr_key, &owner_fp),
        Err(ProtectorError::RevokeOwner { .. })
    ));
    assert!(matches!(
        kp.revoke(&f.owner, &mut f.owner_key, &fabric_fp),
        Err(ProtectorError::NoWrapping { .. })
    ));
    // The revoked guardian's old document still opens: revocation is not retroactive.
    assert!(before.unwrap(&f.fabric, &mut f.fabric_key).is_ok());
}

#[test]
fn rewrap_to_a_hosts_bound_key() {
    let mut f = fixture();
    let (kp, transport) = made(&f);
    let opened = kp.unwrap(&f.fabric, &mut f.fabric_key).unwrap();
    let mut host = p256_soft(0x66);
    let jwe = kp
        .rewrap_to(&opened, host.bound_key(), &mut TestRng(4))
        .unwrap();
    let key = hgs_keys::decrypt(&jwe, &host.bound_key().clone(), &mut host).unwrap();
    assert_eq!(key.as_slice(), transport.as_bytes());
    // An RSA host key too.
    let mut rsa_host = rsa_soft();
    let jwe = kp
        .rewrap_to(&opened, rsa_host.bound_key(), &mut TestRng(5))
        .unwrap();
    let key = hgs_keys::decrypt(&jwe, &rsa_host.bound_key().clone(), &mut rsa_host).unwrap();
    assert_eq!(key.as_slice(), transport.as_bytes());
    // Another protector's key is not rewrapped.
    assert!(matches!(
        kp.rewrap_to(
            &TransportKey::from_bytes([7; 32]),
            host.bound_key(),
            &mut TestRng(6)
        ),
        Err(ProtectorError::Integrity)
    ));
}

/// Someone without the transport key (but with the guardians' public keys) substitutes the
/// fabric's wrapping with a JWE of a key of their own: the fabric's holder gets that key and
/// the MAC, made under the real key, refuses it.
#[test]
fn substituted_wrapping_is_detected_by_whoever_opens_it() {
    let mut f = fixture();
    let (kp, _) = made(&f);
    let mut v = json_of(&kp);
    let forged = hgs_keys::encrypt(f.fabric.key(), &[0x41; 32], &mut TestRng(7)).unwrap();
    v["wrappings"][1]["jwe"] = json!(forged);
    let tampered = reparse(&v).unwrap();
    assert!(matches!(
        tampered.unwrap(&f.fabric, &mut f.fabric_key),
        Err(ProtectorError::Integrity)
    ));
    // The owner's wrapping is intact, and the MAC still refuses the document.
    assert!(matches!(
        tampered.unwrap(&f.owner, &mut f.owner_key),
        Err(ProtectorError::Integrity)
    ));
}

#[test]
fn moved_wrapping_is_wrong_recipient() {
    let mut f = fixture();
    let (kp, _) = made(&f);
    let mut v = json_of(&kp);
    // The owner's JWE filed under the fabric's fingerprint.
    v["wrappings"][1]["jwe"] = v["wrappings"][0]["jwe"].clone();
    let tampered = reparse(&v).unwrap();
    match tampered.unwrap(&f.fabric, &mut f.fabric_key) {
        Err(ProtectorError::WrongRecipient {
            guardian,
            kid,
            expected,
        }) => {
            assert_eq!(&guardian, f.fabric.fingerprint());
            assert_eq!(kid, f.owner.key().thumbprint());
            assert_eq!(expected, f.fabric.key().thumbprint());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_other_edit_breaks_the_mac() {
    let mut f = fixture();
    let (mut kp, _) = made(&f);
    kp.grant(&f.owner, &mut f.owner_key, &f.dr, &mut TestRng(8))
        .unwrap();
    let v = json_of(&kp);
    let mut edits: Vec<Value> = Vec::new();
    // Another id.
    let mut e = v.clone();
    e["id"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
    edits.push(e);
    // A wrapping dropped.
    let mut e = v.clone();
    e["wrappings"].as_array_mut().unwrap().remove(2);
    edits.push(e);
    // Wrappings reordered.
    let mut e = v.clone();
    e["wrappings"].as_array_mut().unwrap().swap(1, 2);
    edits.push(e);
    // Roles swapped (the fabric made owner, the owner a guardian).
    let mut e = v.clone();
    e["wrappings"][0]["role"] = json!("guardian");
    e["wrappings"][1]["role"] = json!("owner");
    edits.push(e);
    // Another MAC.
    let mut e = v.clone();
    e["mac"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    edits.push(e);
    for e in edits {
        let kp = reparse(&e).unwrap();
        assert!(
            matches!(
                kp.unwrap(&f.owner, &mut f.owner_key),
                Err(ProtectorError::Integrity)
            ),
            "{e}"
        );
    }
}

#[test]
fn malformed_documents_are_typed_errors() {
    let f = fixture();
    let (kp, _) = made(&f);
    let v = json_of(&kp);
    let with = |path: &[&str], value: Value| {
        let mut e = v.clone();
        let mut at = &mut e;
        for p in &path[..path.len() - 1] {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        let last = path[path.len() - 1];
        match last.parse::<usize>() {
            Ok(i) => at[i] = value,
            Err(_) => at[last] = value,
        }
        reparse(&e)
    };
    assert!(matches!(
        KeyProtector::parse(&vec![b' '; MAX_KEY_PROTECTOR_LEN + 1]),
        Err(ProtectorError::TooLong { .. })
    ));
    assert!(matches!(
        KeyProtector::parse(b"[]"),
        Err(ProtectorError::NotObject)
    ));
    assert!(matches!(
        KeyProtector::parse(b""),
        Err(ProtectorError::NotObject)
    ));
    assert!(matches!(
        KeyProtector::parse(b"{"),
        Err(ProtectorError::Json(_))
    ));
    assert!(matches!(
        with(&["format"], json!("hgs-key-protector/2")),
        Err(ProtectorError::Format { found }) if found == "hgs-key-protector/2"
    ));
    assert!(matches!(
        with(&["format"], json!("x".repeat(1000))),
        Err(ProtectorError::Format { found }) if found.len() == 64
    ));
    assert!(matches!(
        with(&["id"], json!("AAAA")),
        Err(ProtectorError::Id)
    ));
    assert!(matches!(
        with(&["id"], json!("AAAAAAAAAAAAAAAAAAAAAB")),
        Err(ProtectorError::Id)
    ));
    assert!(matches!(
        with(&["mac"], json!("AA==")),
        Err(ProtectorError::MacEncoding)
    ));
    assert!(matches!(
        with(&["wrappings", "1", "guardian"], json!("AB".repeat(32))),
        Err(ProtectorError::Fingerprint { index: 1 })
    ));
    assert!(matches!(
        with(&["wrappings", "1", "role"], json!("admin")),
        Err(ProtectorError::UnknownRole { index: 1, role }) if role == "admin"
    ));
    assert!(matches!(
        with(
            &["wrappings", "1", "jwe"],
            json!("a".repeat(MAX_WRAPPING_JWE_LEN + 1))
        ),
        Err(ProtectorError::WrappingTooLong { index: 1, .. })
    ));
    assert!(matches!(
        with(&["wrappings", "1", "role"], json!("owner")),
        Err(ProtectorError::SeveralOwners { count: 2 })
    ));
    assert!(matches!(
        with(&["wrappings", "0", "role"], json!("guardian")),
        Err(ProtectorError::NoOwner)
    ));
    assert!(matches!(
        with(
            &["wrappings", "1", "guardian"],
            v["wrappings"][0]["guardian"].clone()
        ),
        Err(ProtectorError::DuplicateGuardian { .. })
    ));
    assert!(matches!(
        with(&["wrappings"], json!([])),
        Err(ProtectorError::NoWrappings)
    ));
    let many: Vec<Value> = (0..40)
        .map(|i| {
            let mut w = v["wrappings"][1].clone();
            w["guardian"] = json!(GuardianFingerprint::from_bytes([i; 32]).to_string());
            w
        })
        .collect();
    assert!(matches!(
        with(&["wrappings"], json!(many)),
        Err(ProtectorError::TooManyWrappings {
            count: 40,
            max: MAX_WRAPPINGS
        })
    ));
    // Unknown members, wrong types, missing members: JSON errors.
    assert!(matches!(
        with(&["extra"], json!(1)),
        Err(ProtectorError::Json(_))
    ));
    assert!(matches!(
        with(&["wrappings", "0", "extra"], json!(1)),
        Err(ProtectorError::Json(_))
    ));
    assert!(matches!(
        with(&["id"], json!(5)),
        Err(ProtectorError::Json(_))
    ));
    let mut e = v.clone();
    e.as_object_mut().unwrap().remove("mac");
    assert!(matches!(reparse(&e), Err(ProtectorError::Json(_))));
    // A duplicate member (text: a map would merge it).
    let text = String::from_utf8(kp.to_bytes()).unwrap();
    let dup = text.replacen(
        "{\"format\"",
        "{\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"format\"",
        1,
    );
    assert!(matches!(
        KeyProtector::parse(dup.as_bytes()),
        Err(ProtectorError::Json(_))
    ));
}

#[test]
fn errors_show_no_key_material() {
    let mut f = fixture();
    let (kp, transport) = made(&f);
    let hex: String = transport
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let b64 = {
        use base64ct::{Base64UrlUnpadded, Encoding};
        Base64UrlUnpadded::encode_string(transport.as_bytes())
    };
    let errors = [
        kp.unwrap(&f.fabric, &mut f.dr_key).unwrap_err(),
        kp.rewrap_to(
            &TransportKey::from_bytes([7; 32]),
            f.dr.key(),
            &mut TestRng(1),
        )
        .unwrap_err(),
    ];
    for e in errors {
        let mut shown = format!("{e} {e:?}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            shown.push_str(&format!(" {s}"));
            src = s.source();
        }
        assert!(!shown.contains(&hex) && !shown.contains(&b64), "{shown}");
    }
}
