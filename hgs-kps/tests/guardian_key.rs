//! Guardian key pairs (New-HgsGuardian): generated certificates read back as guardians, open
//! key protectors made to them, survive PKCS#8/PEM round trips, and refuse a mismatched key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hgs_kps::{
    Guardian, GuardianKey, GuardianKeyError, KeyProtector, ProtectorError, MAX_GUARDIAN_CN_LEN,
    MAX_GUARDIAN_NOT_AFTER,
};

const NB: u64 = 1_735_689_600; // 2025-01-01
const NA: u64 = 2_051_222_400; // 2035-01-01

#[test]
fn generated_certificate_reads_back_as_the_keys_guardian() {
    let key = GuardianKey::generate("Fabric guardian", NB, NA, &mut TestRng(1)).unwrap();
    let g = Guardian::from_certificate_der(key.guardian().certificate_der()).unwrap();
    assert_eq!(g.name(), "CN=Fabric guardian");
    assert_eq!(&g, key.guardian());
    // The PEM is the same certificate.
    assert_eq!(
        &Guardian::from_pem(&key.certificate_pem()).unwrap(),
        key.guardian()
    );
    // Its key is P-256 and is the private key's public half.
    assert!(matches!(g.key(), hgs_keys::BoundKey::P256(_)));
    // Two generations differ (fresh key, fresh serial).
    let other = GuardianKey::generate("Fabric guardian", NB, NA, &mut TestRng(2)).unwrap();
    assert_ne!(other.guardian().fingerprint(), g.fingerprint());
}

#[test]
fn certificate_is_self_signed_v3_with_key_agreement_usage() {
    let key = GuardianKey::generate("Owner", NB, NA, &mut TestRng(3)).unwrap();
    let cert = hgs_ekcert::Certificate::from_bytes(key.guardian().certificate_der()).unwrap();
    assert_eq!(cert.version, 3);
    assert_eq!(cert.subject.to_string(), "CN=Owner");
    assert_eq!(cert.issuer.to_string(), "CN=Owner");
    assert_eq!(cert.not_before.0, NB as i64);
    assert_eq!(cert.not_after.0, NA as i64);
    // Serial: 16 octets, positive.
    assert_eq!(cert.serial.len(), 16);
    assert!(cert.serial[0] & 0x80 == 0);
    // The signature verifies under the certificate's own key (ECDSA P-256 SHA-256).
    use p256::ecdsa::{signature::Verifier, Signature, VerifyingKey};
    let der = key.guardian().certificate_der();
    let hgs_keys::BoundKey::P256(pk) = key.guardian().key() else {
        panic!("P-256 expected")
    };
    let vk = VerifyingKey::from_sec1_bytes(&pk.to_sec1_uncompressed()).unwrap();
    let (tbs, sig) = split_certificate(der);
    vk.verify(&tbs, &Signature::from_der(&sig).unwrap())
        .unwrap();
    // keyUsage: critical keyAgreement only.
    let ku = [
        0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x03, 0x08,
    ];
    assert!(
        der.windows(ku.len()).any(|w| w == ku),
        "keyUsage keyAgreement"
    );
}

/// (tbsCertificate TLV, signature value) of a certificate whose lengths use at most 2 octets.
fn split_certificate(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn header(b: &[u8]) -> (usize, usize) {
        match b[1] {
            n if n < 0x80 => (2, n as usize),
            0x81 => (3, b[2] as usize),
            0x82 => (4, (b[2] as usize) << 8 | b[3] as usize),
            _ => panic!("length"),
        }
    }
    let (h, _) = header(der);
    let body = &der[h..];
    let (th, tl) = header(body);
    let tbs = body[..th + tl].to_vec();
    let rest = &body[th + tl..];
    let (ah, al) = header(rest);
    let bits = &rest[ah + al..];
    let (bh, bl) = header(bits);
    (tbs, bits[bh + 1..bh + bl].to_vec())
}

#[test]
fn key_protector_made_to_a_generated_guardian_opens_with_its_key() {
    let owner = GuardianKey::generate("Owner", NB, NA, &mut TestRng(4)).unwrap();
    let fabric = GuardianKey::generate("Fabric", NB, NA, &mut TestRng(5)).unwrap();
    let (kp, transport) = KeyProtector::new(
        owner.guardian(),
        &[fabric.guardian().clone()],
        &mut TestRng(6),
    )
    .unwrap();
    let parsed = KeyProtector::parse(&kp.to_bytes()).unwrap();
    // The KeyUnwrap impls: by shared reference and by value, and the `open` shorthand.
    let opened = parsed.unwrap(fabric.guardian(), &mut &fabric).unwrap();
    assert_eq!(opened.as_bytes(), transport.as_bytes());
    let mut owned = owner.clone();
    let opened = parsed.unwrap(owner.guardian(), &mut owned).unwrap();
    assert_eq!(opened.as_bytes(), transport.as_bytes());
    assert_eq!(
        fabric.open(&parsed).unwrap().as_bytes(),
        transport.as_bytes()
    );
    // Grant and revoke work with it too.
    let third = GuardianKey::generate("Third", NB, NA, &mut TestRng(7)).unwrap();
    let mut granted = parsed.clone();
    granted
        .grant(
            fabric.guardian(),
            &mut &fabric,
            third.guardian(),
            &mut TestRng(8),
        )
        .unwrap();
    assert_eq!(
        third.open(&granted).unwrap().as_bytes(),
        transport.as_bytes()
    );
    granted
        .revoke(
            owner.guardian(),
            &mut &owner,
            third.guardian().fingerprint(),
        )
        .unwrap();
    assert!(matches!(
        third.open(&granted),
        Err(ProtectorError::NoWrapping { .. })
    ));
    // A guardian that is not listed cannot open it.
    assert!(matches!(
        third.open(&parsed),
        Err(ProtectorError::NoWrapping { .. })
    ));
}

#[test]
fn pkcs8_and_pem_round_trip_to_the_same_key_pair() {
    let key = GuardianKey::generate("Owner", NB, NA, &mut TestRng(9)).unwrap();
    let (kp, transport) = KeyProtector::new(key.guardian(), &[], &mut TestRng(10)).unwrap();

    let der = key.pkcs8_der();
    let back = GuardianKey::from_parts(&der, key.guardian().certificate_der()).unwrap();
    assert_eq!(back.guardian(), key.guardian());
    assert_eq!(back.open(&kp).unwrap().as_bytes(), transport.as_bytes());

    let pem = key.private_pem();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{}",
        pem.len()
    );
    let back = GuardianKey::from_pem(&pem, &key.certificate_pem()).unwrap();
    assert_eq!(back.open(&kp).unwrap().as_bytes(), transport.as_bytes());
    // Debug shows the name and fingerprint, never the private key.
    let shown = format!("{back:?}");
    assert!(shown.contains("CN=Owner"), "{shown}");
    let b64 = pem.lines().nth(1).unwrap();
    assert!(!shown.contains(b64));
}

#[test]
fn from_parts_with_another_keys_certificate_is_key_mismatch() {
    let a = GuardianKey::generate("A", NB, NA, &mut TestRng(11)).unwrap();
    let b = GuardianKey::generate("B", NB, NA, &mut TestRng(12)).unwrap();
    match GuardianKey::from_parts(&a.pkcs8_der(), b.guardian().certificate_der()) {
        Err(GuardianKeyError::KeyMismatch { fingerprint }) => {
            assert_eq!(&fingerprint, b.guardian().fingerprint())
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        GuardianKey::from_pem(&a.private_pem(), &b.certificate_pem()),
        Err(GuardianKeyError::KeyMismatch { .. })
    ));
    // An RSA guardian certificate with a P-256 private key: mismatch too.
    let (rsa, _) = rsa_guardian("Rsa");
    assert!(matches!(
        GuardianKey::from_parts(&a.pkcs8_der(), rsa.certificate_der()),
        Err(GuardianKeyError::KeyMismatch { .. })
    ));
}

#[test]
fn malformed_parts_are_typed_errors() {
    let a = GuardianKey::generate("A", NB, NA, &mut TestRng(13)).unwrap();
    let cert = a.guardian().certificate_der();
    assert!(matches!(
        GuardianKey::from_parts(b"not a key", cert),
        Err(GuardianKeyError::PrivateKey)
    ));
    assert!(matches!(
        GuardianKey::from_parts(&vec![0x30; 5000], cert),
        Err(GuardianKeyError::KeyTooLong { len: 5000, .. })
    ));
    assert!(matches!(
        GuardianKey::from_parts(&a.pkcs8_der(), &cert[..cert.len() - 1]),
        Err(GuardianKeyError::Certificate(_))
    ));
    assert!(matches!(
        GuardianKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
            &a.certificate_pem()
        ),
        Err(GuardianKeyError::PrivateKey)
    ));
}

#[test]
fn generate_refuses_bad_names_and_validity() {
    let long = "x".repeat(MAX_GUARDIAN_CN_LEN + 1);
    for cn in ["", long.as_str(), "a\nb"] {
        assert!(
            matches!(
                GuardianKey::generate(cn, NB, NA, &mut TestRng(14)),
                Err(GuardianKeyError::CommonName { .. })
            ),
            "{cn:?}"
        );
    }
    assert!(
        GuardianKey::generate(&"x".repeat(MAX_GUARDIAN_CN_LEN), NB, NA, &mut TestRng(14)).is_ok()
    );
    assert!(matches!(
        GuardianKey::generate("A", NA, NB, &mut TestRng(15)),
        Err(GuardianKeyError::Validity { .. })
    ));
    assert!(matches!(
        GuardianKey::generate("A", NB, MAX_GUARDIAN_NOT_AFTER + 1, &mut TestRng(15)),
        Err(GuardianKeyError::Validity { .. })
    ));
    // The far end (GeneralizedTime) reads back.
    let far = GuardianKey::generate("A", NB, MAX_GUARDIAN_NOT_AFTER, &mut TestRng(16)).unwrap();
    let cert = hgs_ekcert::Certificate::from_bytes(far.guardian().certificate_der()).unwrap();
    assert_eq!(cert.not_after.0, MAX_GUARDIAN_NOT_AFTER as i64);
}
