//! Forgeries built in the test (fresh P-256 keys, certificates encoded by hand): each one fails
//! with its own reason, and the genuine chain they are derived from passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_ekcert::{
    Budget, EkPublic, Error, Options, SignatureBackend, TrustStore, UnixTime, Verified,
};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

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

fn utc(t: &str) -> Vec<u8> {
    tlv(0x17, t.as_bytes())
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

#[derive(Clone)]
struct Spec<'a> {
    serial: u8,
    subject: &'a str,
    issuer: &'a str,
    key: &'a SigningKey,
    signer: &'a SigningKey,
    ca: bool,
    not_before: &'a str,
    not_after: &'a str,
    /// An extra critical extension (OID) with an empty SEQUENCE value.
    extra_critical: Option<&'a str>,
    /// Carry subjectKeyIdentifier (of `key`) and authorityKeyIdentifier (of `signer`), as real
    /// vendor certificates do.
    key_ids: bool,
}

/// A key identifier (RFC 5280 §4.2.1.2 method 1 in spirit: a hash of the public key).
fn key_id(k: &SigningKey) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(k.verifying_key().to_encoded_point(false).as_bytes())[..20].to_vec()
}

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

fn build(s: &Spec<'_>) -> Vec<u8> {
    let alg = seq(&[oid(ECDSA_SHA256)]);
    let mut exts = Vec::new();
    if s.ca {
        exts.push(ext("2.5.29.19", true, seq(&[tlv(0x01, &[0xff])])));
        exts.push(ext("2.5.29.15", true, tlv(0x03, &[0x01, 0x06]))); // keyCertSign, cRLSign
    } else {
        exts.push(ext("2.5.29.19", true, seq(&[])));
        exts.push(ext("2.5.29.15", true, tlv(0x03, &[0x03, 0x08]))); // keyAgreement
        exts.push(ext("2.5.29.37", false, seq(&[oid("2.23.133.8.1")])));
    }
    if let Some(id) = s.extra_critical {
        exts.push(ext(id, true, seq(&[])));
    }
    if s.key_ids {
        exts.push(ext("2.5.29.14", false, tlv(0x04, &key_id(s.key))));
        exts.push(ext(
            "2.5.29.35",
            false,
            seq(&[tlv(0x80, &key_id(s.signer))]),
        ));
    }
    let subject = if s.subject.is_empty() {
        seq(&[])
    } else {
        name(s.subject)
    };
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[s.serial]),
        alg.clone(),
        name(s.issuer),
        seq(&[utc(s.not_before), utc(s.not_after)]),
        subject,
        spki(s.key),
        tlv(0xa3, &seq(&exts)),
    ]);
    sign(tbs, s.signer)
}

fn sign(tbs: Vec<u8>, signer: &SigningKey) -> Vec<u8> {
    let sig: Signature = signer.sign(&tbs);
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.to_der().as_bytes());
    seq(&[tbs, seq(&[oid(ECDSA_SHA256)]), tlv(0x03, &bits)])
}

fn key() -> SigningKey {
    SigningKey::random(&mut rand_core::OsRng)
}

/// Every verification of these tests runs on both signature backends (the default, ring when
/// the feature is on, and the pure-Rust one), which must give the same answer.
fn verify(
    der: &[u8],
    store: &TrustStore,
    ek: Option<&EkPublic>,
    opts: &Options,
) -> Result<Verified, Error> {
    let default = hgs_ekcert::verify_chain(der, store, ek, opts);
    let mut pure = *opts;
    pure.backend = SignatureBackend::PureRust;
    assert_eq!(
        hgs_ekcert::verify_chain(der, store, ek, &pure),
        default,
        "the signature backends disagree"
    );
    default
}

fn now() -> Options {
    Options::at(UnixTime::parse_rfc3339("2026-11-22T00:00:00Z").unwrap())
}

const NB: &str = "200101000000Z";
const NA: &str = "450101000000Z";

struct Pki {
    root: SigningKey,
    int: SigningKey,
    ek: SigningKey,
    root_der: Vec<u8>,
    int_der: Vec<u8>,
    leaf_der: Vec<u8>,
}

fn pki() -> Pki {
    pki_with(false)
}

/// A chain whose certificates carry key identifiers.
fn pki_with(key_ids: bool) -> Pki {
    let (root, int, ek) = (key(), key(), key());
    let base = Spec {
        serial: 1,
        subject: "Test TPM Root",
        issuer: "Test TPM Root",
        key: &root,
        signer: &root,
        ca: true,
        not_before: NB,
        not_after: NA,
        extra_critical: None,
        key_ids,
    };
    let root_der = build(&base);
    let int_der = build(&Spec {
        serial: 2,
        subject: "Test TPM EK CA",
        key: &int,
        ..base.clone()
    });
    let leaf_der = build(&Spec {
        serial: 3,
        subject: "",
        issuer: "Test TPM EK CA",
        key: &ek,
        signer: &int,
        ca: false,
        ..base
    });
    Pki {
        root,
        int,
        ek,
        root_der,
        int_der,
        leaf_der,
    }
}

fn store(anchors: &[&[u8]], ints: &[&[u8]]) -> TrustStore {
    let (s, skipped) = TrustStore::from_certificates(anchors.iter().copied(), ints.iter().copied());
    assert!(skipped.is_empty(), "{skipped:?}");
    s
}

fn ekpub(k: &SigningKey) -> EkPublic {
    EkPublic::from_spki(&spki(k)).unwrap()
}

#[test]
fn genuine_chain_passes() {
    let p = pki();
    let s = store(&[&p.root_der], &[&p.int_der]);
    let v = verify(&p.leaf_der, &s, Some(&ekpub(&p.ek)), &now()).unwrap();
    assert_eq!(v.chain.len(), 3);
    assert!(v.anchor_self_signed);
    assert!(v.ekpub_matched);
}

#[test]
fn leaf_resigned_by_untrusted_key_with_same_issuer_name() {
    let p = pki();
    let rogue = key();
    let forged = build(&Spec {
        serial: 3,
        subject: "",
        issuer: "Test TPM EK CA",
        key: &p.ek,
        signer: &rogue,
        ca: false,
        not_before: NB,
        not_after: NA,
        extra_critical: None,
        key_ids: false,
    });
    let s = store(&[&p.root_der], &[&p.int_der]);
    let e = verify(&forged, &s, None, &now()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::IssuerSignatureMismatch {
                depth: 0,
                candidates: 1,
                authority_key_id: None,
                ..
            }
        ),
        "{e}"
    );
}

/// A CA named like the installed one, with another key (a look-alike, or the vendor re-keyed its
/// CA): its certificate names the installed CA as issuer, and its authorityKeyIdentifier names
/// the other key. Not "no installed CA issued it": one is installed by that name and did not sign.
#[test]
fn leaf_of_a_look_alike_ca_with_key_identifiers() {
    let p = pki_with(true);
    let rogue = key();
    let forged = build(&Spec {
        serial: 3,
        subject: "",
        issuer: "Test TPM EK CA",
        key: &p.ek,
        signer: &rogue,
        ca: false,
        not_before: NB,
        not_after: NA,
        extra_critical: None,
        key_ids: true,
    });
    let s = store(&[&p.root_der], &[&p.int_der]);
    // The genuine chain with key identifiers passes.
    assert!(verify(&p.leaf_der, &s, Some(&ekpub(&p.ek)), &now()).is_ok());
    let e = verify(&forged, &s, None, &now()).unwrap_err();
    match &e {
        Error::IssuerSignatureMismatch {
            depth: 0,
            issuer,
            candidates: 1,
            authority_key_id,
            installed_key_ids,
            ..
        } => {
            assert_eq!(issuer.to_string(), "CN=Test TPM EK CA");
            assert_eq!(authority_key_id.as_deref(), Some(&key_id(&rogue)[..]));
            assert_eq!(installed_key_ids, &[key_id(&p.int)]);
        }
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(text.contains("did not sign"), "{text}");
    assert!(text.contains("look-alike or re-keyed"), "{text}");
}

/// The same one level up: the EK CA is genuine-looking but signed by a root named like the
/// installed root, with another key.
#[test]
fn intermediate_of_a_look_alike_root() {
    let p = pki_with(true);
    let rogue_root = key();
    let int_by_rogue = build(&Spec {
        serial: 2,
        subject: "Test TPM EK CA",
        issuer: "Test TPM Root",
        key: &p.int,
        signer: &rogue_root,
        ca: true,
        not_before: NB,
        not_after: NA,
        extra_critical: None,
        key_ids: true,
    });
    let s = store(&[&p.root_der], &[&int_by_rogue]);
    let e = verify(&p.leaf_der, &s, None, &now()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::IssuerSignatureMismatch {
                depth: 1,
                candidates: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn tampered_tbs_byte() {
    let p = pki();
    let mut t = p.leaf_der.clone();
    // The serial's content octet: SEQ hdr(3-4) + TBS hdr + version(5) + INTEGER hdr(2).
    let pos = t.windows(3).position(|w| w == [0x02, 0x01, 0x03]).unwrap() + 2;
    t[pos] ^= 0x40;
    let s = store(&[&p.root_der], &[&p.int_der]);
    let e = verify(&t, &s, None, &now()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::IssuerSignatureMismatch {
                depth: 0,
                candidates: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn chain_through_a_ca_without_ca_rights() {
    let p = pki();
    // The "EK CA" is an end-entity certificate (cA false, keyAgreement) signed by the root.
    let fake_ca = build(&Spec {
        serial: 9,
        subject: "Test TPM EK CA",
        issuer: "Test TPM Root",
        key: &p.int,
        signer: &p.root,
        ca: false,
        not_before: NB,
        not_after: NA,
        extra_critical: None,
        key_ids: false,
    });
    let s = store(&[&p.root_der], &[&fake_ca]);
    let e = verify(&p.leaf_der, &s, None, &now()).unwrap_err();
    assert!(matches!(e, Error::NotCa { depth: 1, .. }), "{e}");
}

#[test]
fn key_differs_from_ekpub() {
    let p = pki();
    let s = store(&[&p.root_der], &[&p.int_der]);
    let e = verify(&p.leaf_der, &s, Some(&ekpub(&key())), &now()).unwrap_err();
    assert!(matches!(e, Error::KeyMismatch { .. }), "{e}");
}

#[test]
fn expired_intermediate() {
    let p = pki();
    let old = build(&Spec {
        serial: 2,
        subject: "Test TPM EK CA",
        issuer: "Test TPM Root",
        key: &p.int,
        signer: &p.root,
        ca: true,
        not_before: NB,
        not_after: "250101000000Z",
        extra_critical: None,
        key_ids: false,
    });
    let s = store(&[&p.root_der], &[&old]);
    let e = verify(&p.leaf_der, &s, None, &now()).unwrap_err();
    assert!(matches!(e, Error::Expired { depth: 1, .. }), "{e}");
    // The named option accepts it.
    let mut o = now();
    o.allow_expired = true;
    assert!(verify(&p.leaf_der, &s, None, &o).is_ok());
}

#[test]
fn loop_of_cross_signed_cas() {
    let p = pki();
    let (a, b) = (key(), key());
    // A (named like the EK CA, with the EK CA's key) is issued by B, B is issued by A.
    let ca = |subject: &'static str, issuer: &'static str, k: &SigningKey, signer: &SigningKey| {
        build(&Spec {
            serial: 7,
            subject,
            issuer,
            key: k,
            signer,
            ca: true,
            not_before: NB,
            not_after: NA,
            extra_critical: None,
            key_ids: false,
        })
    };
    let a_cert = ca("Test TPM EK CA", "Loop B", &p.int, &b);
    let b_cert = ca("Loop B", "Test TPM EK CA", &b, &p.int);
    let _ = a;
    let s = store(&[&p.root_der], &[&a_cert, &b_cert]);
    let e = verify(&p.leaf_der, &s, None, &now()).unwrap_err();
    assert!(matches!(e, Error::ChainLoop { .. }), "{e}");
}

#[test]
fn untrusted_root_and_not_yet_valid() {
    let p = pki();
    let s = store(&[], &[&p.int_der]);
    let e = verify(&p.leaf_der, &s, None, &now()).unwrap_err();
    assert!(matches!(e, Error::UntrustedRoot { depth: 1, .. }), "{e}");
    let s = store(&[&p.root_der], &[&p.int_der]);
    let mut o = now();
    o.time = UnixTime::parse_rfc3339("2019-01-01").unwrap();
    let e = verify(&p.leaf_der, &s, None, &o).unwrap_err();
    assert!(matches!(e, Error::NotYetValid { depth: 0, .. }), "{e}");
}

#[test]
fn budget_bounds_a_pile_of_same_name_cas() {
    let p = pki();
    // 100 CAs named like the EK CA, none with the right key: each costs one signature check.
    let pile: Vec<Vec<u8>> = (0..100u8)
        .map(|i| {
            let k = key();
            build(&Spec {
                serial: i,
                subject: "Test TPM EK CA",
                issuer: "Test TPM Root",
                key: &k,
                signer: &p.root,
                ca: true,
                not_before: NB,
                not_after: NA,
                extra_critical: None,
                key_ids: false,
            })
        })
        .collect();
    let mut s = store(&[&p.root_der], &[]);
    for c in &pile {
        s.add_intermediate(c).unwrap();
    }
    let e = verify(&p.leaf_der, &s, None, &now()).unwrap_err();
    assert_eq!(e, Error::BudgetExceeded("signature checks"));
    // A smaller budget stops earlier; a bigger one reaches the genuine CA added last.
    s.add_intermediate(&p.int_der).unwrap();
    let mut o = now();
    o.budget = Budget {
        max_signature_checks: 200,
        max_depth: 8,
    };
    assert!(verify(&p.leaf_der, &s, None, &o).is_ok());
}

#[test]
fn ca_certificate_is_not_an_ek_certificate() {
    let p = pki();
    let s = store(&[&p.root_der], &[&p.int_der]);
    let e = verify(&p.int_der, &s, None, &now()).unwrap_err();
    assert!(matches!(e, Error::NotEkCertificate(_)), "{e}");
    let _ = &p.ek;
}

#[test]
fn unknown_critical_extension_in_leaf_or_ca_is_refused() {
    let p = pki();
    let s = store(&[&p.root_der], &[&p.int_der]);
    // The genuine leaf, re-signed by the genuine EK CA with an extra critical extension
    // (a private OID nobody processes): the signature is good, the extension is not.
    let forged = build(&Spec {
        serial: 3,
        subject: "",
        issuer: "Test TPM EK CA",
        key: &p.ek,
        signer: &p.int,
        ca: false,
        not_before: NB,
        not_after: NA,
        extra_critical: Some("1.3.6.1.4.1.99999.1"),
        key_ids: false,
    });
    match verify(&forged, &s, Some(&ekpub(&p.ek)), &now()) {
        Err(Error::UnknownCriticalExtension { depth, oid, .. }) => {
            assert_eq!((depth, oid.as_str()), (0, "1.3.6.1.4.1.99999.1"));
        }
        other => panic!("{other:?}"),
    }
    // Same in the intermediate (nameConstraints, which this crate does not process), depth 1.
    let int_nc = build(&Spec {
        serial: 2,
        subject: "Test TPM EK CA",
        issuer: "Test TPM Root",
        key: &p.int,
        signer: &p.root,
        ca: true,
        not_before: NB,
        not_after: NA,
        extra_critical: Some("2.5.29.30"),
        key_ids: false,
    });
    let s = store(&[&p.root_der], &[&int_nc]);
    match verify(&p.leaf_der, &s, Some(&ekpub(&p.ek)), &now()) {
        Err(Error::UnknownCriticalExtension { depth, oid, .. }) => {
            assert_eq!((depth, oid.as_str()), (1, "2.5.29.30"));
        }
        other => panic!("{other:?}"),
    }
}
