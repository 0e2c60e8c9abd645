//! The registration bridge (`check_ek_certificate`): each reason the EK certificate check gives
//! reaches the registration as its own `EkDistrust`, so an admin is not sent the wrong way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_attest::policy::{EkCertificateCheck, EkDistrust, TrustRole, TrustedCertificate};
// Everything from hgs-attest alone: an embedder needs no lower crate for this check.
use hgs_attest::UnixTime;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

// A minimal DER writer for the test PKI (as hgs-ekcert/tests/forgery.rs and
// hgs-server/tests/roots.rs build their chains).
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
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

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
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

fn name(cn: &str) -> Vec<u8> {
    seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())]))])
}

fn spki(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_encoded_point(false);
    let mut bits = vec![0u8];
    bits.extend_from_slice(point.as_bytes());
    seq(&[
        seq(&[oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")]),
        tlv(0x03, &bits),
    ])
}

fn ext(id: &str, critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(tlv(0x01, &[0xff]));
    }
    parts.push(tlv(0x04, &value));
    seq(&parts)
}

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// A certificate for `key` signed by `signer`: a CA, or an EK certificate (tcg-kp-EKCertificate).
fn key_id(k: &SigningKey) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(k.verifying_key().to_encoded_point(false).as_bytes())[..20].to_vec()
}

/// A certificate for `key` signed by `signer` (a CA, or an EK certificate), with subject and
/// authority key identifiers as vendor certificates carry them.
fn cert(subject: &str, issuer: &str, key: &SigningKey, signer: &SigningKey, ca: bool) -> Vec<u8> {
    let mut exts = if ca {
        vec![
            ext("2.5.29.19", true, seq(&[tlv(0x01, &[0xff])])),
            ext("2.5.29.15", true, tlv(0x03, &[0x01, 0x06])),
        ]
    } else {
        vec![
            ext("2.5.29.19", true, seq(&[])),
            ext("2.5.29.15", true, tlv(0x03, &[0x03, 0x08])),
            ext("2.5.29.37", false, seq(&[oid("2.23.133.8.1")])),
        ]
    };
    exts.push(ext("2.5.29.14", false, tlv(0x04, &key_id(key))));
    exts.push(ext("2.5.29.35", false, seq(&[tlv(0x80, &key_id(signer))])));
    let subject = if subject.is_empty() {
        seq(&[])
    } else {
        name(subject)
    };
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[1]),
        seq(&[oid(ECDSA_SHA256)]),
        name(issuer),
        seq(&[tlv(0x17, b"200101000000Z"), tlv(0x17, b"450101000000Z")]),
        subject,
        spki(key),
        tlv(0xa3, &seq(&exts)),
    ]);
    let sig: Signature = signer.sign(&tbs);
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.to_der().as_bytes());
    seq(&[tbs, seq(&[oid(ECDSA_SHA256)]), tlv(0x03, &bits)])
}

fn key() -> SigningKey {
    SigningKey::random(&mut rand_core::OsRng)
}

fn installed(role: TrustRole, der: &[u8]) -> TrustedCertificate {
    hgs_attest::trusted_certificate(role, der).unwrap()
}

fn ekpub(k: &SigningKey) -> Vec<u8> {
    let point = k.verifying_key().to_encoded_point(false);
    hgs_tpm::ek_p256_public(point.x().unwrap(), point.y().unwrap())
}

#[test]
fn a_certificate_from_a_look_alike_ca_is_not_an_untrusted_root() {
    let (root, int, ek, rogue) = (key(), key(), key(), key());
    let root_der = cert("Look Root", "Look Root", &root, &root, true);
    let int_der = cert("Look EK CA", "Look Root", &int, &root, true);
    let genuine = cert("", "Look EK CA", &ek, &int, false);
    // Same issuer name, another key: a look-alike (or re-keyed) "Look EK CA" signed it.
    let forged = cert("", "Look EK CA", &ek, &rogue, false);
    let roots = [
        installed(TrustRole::Root, &root_der),
        installed(TrustRole::Intermediate, &int_der),
    ];
    let at = UnixTime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let check = |c: &[u8]| hgs_attest::check_ek_certificate(Some(c), &ekpub(&ek), &roots, at);
    assert!(matches!(check(&genuine), EkCertificateCheck::Trusted(_)));
    match check(&forged) {
        EkCertificateCheck::Untrusted {
            why:
                EkDistrust::IssuerSignatureMismatch {
                    issuer, candidates, ..
                },
            reason,
        } => {
            assert_eq!(issuer, "CN=Look EK CA");
            assert_eq!(candidates, 1);
            assert!(reason.contains("did not sign"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let why = match check(&forged) {
        EkCertificateCheck::Untrusted { why, .. } => why.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(why.contains("is installed but did not sign"), "{why}");
    assert!(!why.contains("no installed"), "{why}");
}

#[test]
fn a_trusted_certificate_is_made_from_der_alone() {
    let root = key();
    let der = cert("Made Root", "Made Root", &root, &root, true);
    let t: TrustedCertificate = hgs_attest::trusted_certificate(TrustRole::Root, &der).unwrap();
    assert_eq!(t.role, TrustRole::Root);
    assert_eq!(t.subject, "CN=Made Root");
    assert_eq!(t.der, der);
    assert_eq!(t.vendor, None);
    // Not a certificate: the reader's typed error.
    assert!(matches!(
        hgs_attest::trusted_certificate(TrustRole::Intermediate, b"\x30\x03\x02\x01\x00"),
        Err(hgs_attest::EkCertificateError::Malformed { .. })
    ));
}
