//! Guardians from certificates: RSA-2048 and P-256 accepted, with subject and fingerprint;
//! every other key and every malformed input a typed error. The fixtures the README reads are
//! the ones the builder makes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hgs_keys::{BoundKey, JwkError};
use hgs_kps::{Guardian, GuardianError, GuardianFingerprint, MAX_GUARDIAN_CERT_LEN};
use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

fn pem(der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn rsa_and_p256_guardians_read_with_name_fingerprint_and_key() {
    let rsa = rsa_soft();
    let der = certificate("Owner", spki_of(rsa.bound_key()), &signer());
    let g = Guardian::from_certificate_der(&der).unwrap();
    assert_eq!(g.name(), "CN=Owner");
    assert_eq!(g.key(), rsa.bound_key());
    assert!(matches!(g.key(), BoundKey::Rsa(_)));
    assert_eq!(
        g.fingerprint(),
        &GuardianFingerprint::from_bytes(Sha256::digest(&der).into())
    );
    assert_eq!(g.certificate_der(), der.as_slice());

    let p = p256_soft(0x22);
    let der = certificate(
        "Fabric",
        spki_of(p.bound_key()),
        &SigningKey::from_slice(&[0x22; 32]).unwrap(),
    );
    let g = Guardian::from_certificate_der(&der).unwrap();
    assert_eq!(g.name(), "CN=Fabric");
    assert_eq!(g.key(), p.bound_key());
    // PEM reads to the same guardian.
    assert_eq!(Guardian::from_pem(&pem(&der)).unwrap(), g);
    // Debug shows no key material beyond the type.
    let shown = format!("{g:?}");
    assert!(
        shown.contains("P-256") && shown.contains("Fabric"),
        "{shown}"
    );
}

#[test]
fn other_keys_are_refused_by_type() {
    // P-384.
    let mut point = vec![4u8];
    point.extend_from_slice(&[0x5a; 96]);
    let der = certificate("P384", ec_spki("1.3.132.0.34", &point), &signer());
    match Guardian::from_certificate_der(&der) {
        Err(GuardianError::KeyType { found }) => assert!(found.contains("P-384"), "{found}"),
        other => panic!("{other:?}"),
    }
    // Ed25519 (an algorithm hgs-ekcert keeps as Other, or refuses).
    let ed = common::seq(&[common::seq(&[oid("1.3.101.112")]), {
        let mut b = vec![0u8];
        b.extend_from_slice(&[7; 32]);
        tlv(0x03, &b)
    }]);
    let der = certificate("Ed", ed, &signer());
    assert!(matches!(
        Guardian::from_certificate_der(&der),
        Err(GuardianError::KeyType { .. } | GuardianError::Certificate(_))
    ));
    // RSA-1024 and an even exponent: hgs_keys' reason kept.
    let der = certificate("Small", rsa_spki(&[0xc5; 128], &[1, 0, 1]), &signer());
    assert!(matches!(
        Guardian::from_certificate_der(&der),
        Err(GuardianError::Key(JwkError::RsaModulusSize { bits: 1024 }))
    ));
    let n = match rsa_soft().bound_key() {
        BoundKey::Rsa(k) => k.n().to_vec(),
        _ => unreachable!(),
    };
    let der = certificate("Even", rsa_spki(&n, &[1, 0, 0]), &signer());
    assert!(matches!(
        Guardian::from_certificate_der(&der),
        Err(GuardianError::Key(JwkError::RsaExponentEven))
    ));
    // A P-256 point off the curve.
    let mut off = vec![4u8];
    off.extend_from_slice(&[1; 64]);
    let der = certificate("Off", ec_spki("1.2.840.10045.3.1.7", &off), &signer());
    assert!(matches!(
        Guardian::from_certificate_der(&der),
        Err(GuardianError::Key(JwkError::NotOnCurve))
    ));
}

#[test]
fn malformed_inputs_are_typed_errors() {
    let (g, _) = p256_guardian("G", 0x22);
    let der = g.certificate_der().to_vec();
    assert!(matches!(
        Guardian::from_certificate_der(b""),
        Err(GuardianError::Certificate(_))
    ));
    assert!(matches!(
        Guardian::from_certificate_der(&der[..der.len() - 1]),
        Err(GuardianError::Certificate(_))
    ));
    let mut trailing = der.clone();
    trailing.extend_from_slice(&[0, 0, 0]);
    assert!(matches!(
        Guardian::from_certificate_der(&trailing),
        Err(GuardianError::NotExactDer { .. } | GuardianError::Certificate(_))
    ));
    // PEM where DER is asked for.
    assert!(matches!(
        Guardian::from_certificate_der(pem(&der).as_bytes()),
        Err(GuardianError::NotExactDer { .. })
    ));
    assert!(matches!(
        Guardian::from_certificate_der(&vec![0x30; MAX_GUARDIAN_CERT_LEN + 1]),
        Err(GuardianError::TooLong { .. })
    ));
    assert!(matches!(
        Guardian::from_pem("no certificate here"),
        Err(GuardianError::PemBlocks { count: 0 })
    ));
    let two = format!("{}{}", pem(&der), pem(&der));
    assert!(matches!(
        Guardian::from_pem(&two),
        Err(GuardianError::PemBlocks { count: 2 })
    ));
    assert!(matches!(
        Guardian::from_pem(&"A".repeat(2 * MAX_GUARDIAN_CERT_LEN + 1)),
        Err(GuardianError::TooLong { .. })
    ));
}

/// The README's fixtures: `owner-p256.der` (scalar 0x11 repeated) and `fabric-p256.pem`
/// (scalar 0x22), self-signed. `HGS_KPS_WRITE_FIXTURES=1` rewrites them.
#[test]
fn fixtures_are_what_the_builder_makes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let (owner, _) = p256_guardian("HGS Owner", 0x11);
    let (fabric, _) = p256_guardian("HGS Fabric", 0x22);
    let fabric_pem = pem(fabric.certificate_der());
    if std::env::var_os("HGS_KPS_WRITE_FIXTURES").is_some() {
        std::fs::write(format!("{dir}owner-p256.der"), owner.certificate_der()).unwrap();
        std::fs::write(format!("{dir}fabric-p256.pem"), &fabric_pem).unwrap();
    }
    assert_eq!(
        std::fs::read(format!("{dir}owner-p256.der")).unwrap(),
        owner.certificate_der()
    );
    assert_eq!(
        std::fs::read_to_string(format!("{dir}fabric-p256.pem")).unwrap(),
        fabric_pem
    );
}
