//! TPM roots over the API, and v2 host registration against them: a simulated host's EK
//! certificate (issued here by a test CA for its SoftEk key) is untrusted until the CA's root and
//! intermediate are installed, then the host registers under v2 and passes under v2.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

// A minimal DER writer for the test PKI (as hgs-ekcert/tests/forgery.rs builds its chains).
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
fn cert(
    serial: u8,
    subject: &str,
    issuer: &str,
    key: &SigningKey,
    signer: &SigningKey,
    ca: bool,
) -> Vec<u8> {
    let exts = if ca {
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
    let subject = if subject.is_empty() {
        seq(&[])
    } else {
        name(subject)
    };
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[serial]),
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

#[tokio::test]
async fn v2_hosts_register_once_their_vendor_roots_are_installed_and_then_pass() {
    let clock = TestClock::new();
    let store = hgs_server::SqliteStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let r = Running::start(
        hgs_server::Server::new(config(&clock), store)
            .await
            .unwrap(),
    )
    .await;
    let log = hgs_tpm::hex::encode(&healthy().build());
    for path in ["/v1/baselines/class2", "/v1/ci-policies/ci2"] {
        let resp = r
            .admin_put(
                path,
                &serde_json::json!({ "reference_log": log, "policy_version": "v2" }),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }

    let host = SimulatedHost::new("V2HOST", &healthy());
    let (root, int) = (
        SigningKey::random(&mut rand_core::OsRng),
        SigningKey::random(&mut rand_core::OsRng),
    );
    let ek_key = SigningKey::from_slice(&seed("V2HOST", "ek")).unwrap();
    let root_der = cert(1, "Test TPM Root", "Test TPM Root", &root, &root, true);
    let int_der = cert(2, "Test TPM EK CA", "Test TPM Root", &int, &root, true);
    let leaf_der = cert(3, "", "Test TPM EK CA", &ek_key, &int, false);
    let registration = serde_json::json!({
        "ekpub": hgs_tpm::hex::encode(host.ek.public()),
        "ek_certificate": hgs_tpm::hex::encode(&leaf_der),
        "policy_version": "v2",
    });

    // No roots yet: the certificate is untrusted and v2 refuses the host.
    let resp = r.admin_put("/v1/hosts/V2HOST", &registration).await;
    assert_eq!(resp.status(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "registration_refused", "{body}");

    let post = |json: serde_json::Value| {
        r.client
            .post(r.url("/v1/roots"))
            .bearer_auth(ADMIN)
            .json(&json)
            .send()
    };
    let resp = post(
        serde_json::json!({ "role": "root", "der": hgs_tpm::hex::encode(&root_der), "vendor": "Test" }),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let installed: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        installed["subject"]
            .as_str()
            .map(|s| s.contains("Test TPM Root")),
        Some(true),
        "{installed}"
    );
    let resp =
        post(serde_json::json!({ "role": "intermediate", "der": hgs_tpm::hex::encode(&int_der) }))
            .await
            .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = post(serde_json::json!({ "role": "root", "der": hgs_tpm::hex::encode(&root_der) }))
        .await
        .unwrap();
    assert_eq!(resp.status(), 409, "installed twice");
    let resp = post(serde_json::json!({ "role": "root", "der": "3003020100" }))
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "certificate_refused", "{body}");

    let resp = r.admin_put("/v1/hosts/V2HOST", &registration).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let registered: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        registered["ek_certificate_check"]["status"], "trusted",
        "{registered}"
    );
    assert_eq!(registered["forced"], false);

    let msg = r.challenge(&host).await;
    let (status, body) = r.attest(&host.answer(&msg)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["status"], "Passed", "{body}");
    assert_eq!(body["verdict"]["policy_version"], "v2", "{body}");

    let list: Vec<serde_json::Value> = r
        .client
        .get(r.url("/v1/roots"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let fp = installed["fingerprint"].as_str().unwrap();
    let resp = r
        .client
        .delete(r.url(&format!("/v1/roots/{fp}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = r.client.get(r.url("/v1/roots")).send().await.unwrap();
    assert_eq!(resp.status(), 401, "listing roots is an admin verb");
}

#[test]
fn the_registration_bridge_keeps_an_untrusted_root_apart_from_a_key_mismatch() {
    use hgs_attest::policy::{EkCertificateCheck, EkDistrust};
    use hgs_attest::policy::{TrustRole, TrustedCertificate};
    let host = SimulatedHost::new("BRIDGE", &healthy());
    let other = SimulatedHost::new("OTHER", &healthy());
    let (root, int) = (
        SigningKey::random(&mut rand_core::OsRng),
        SigningKey::random(&mut rand_core::OsRng),
    );
    let ek_key = SigningKey::from_slice(&seed("BRIDGE", "ek")).unwrap();
    let root_der = cert(1, "Bridge Root", "Bridge Root", &root, &root, true);
    let int_der = cert(2, "Bridge EK CA", "Bridge Root", &int, &root, true);
    let leaf_der = cert(3, "", "Bridge EK CA", &ek_key, &int, false);
    let installed = |role, der: &[u8]| TrustedCertificate {
        role,
        vendor: None,
        subject: String::new(),
        der: der.to_vec(),
    };
    let at = hgs_attest::UnixTime(i64::try_from(START).unwrap());
    let check = |ekpub: &[u8], roots: &[TrustedCertificate]| {
        hgs_attest::check_ek_certificate(Some(&leaf_der), ekpub, roots, at)
    };

    // Nothing installed: untrusted root, naming the issuer that is missing.
    match check(host.ek.public(), &[]) {
        EkCertificateCheck::Untrusted {
            why: EkDistrust::UntrustedRoot { issuer, .. },
            ..
        } => assert!(issuer.contains("Bridge EK CA"), "{issuer}"),
        other => panic!("{other:?}"),
    }
    let roots = [
        installed(TrustRole::Root, &root_der),
        installed(TrustRole::Intermediate, &int_der),
    ];
    assert!(matches!(
        check(host.ek.public(), &roots),
        EkCertificateCheck::Trusted(_)
    ));
    // A chain that validates, presented with another TPM's EKpub: a key mismatch.
    assert!(matches!(
        check(other.ek.public(), &roots),
        EkCertificateCheck::Untrusted {
            why: EkDistrust::KeyMismatch,
            ..
        }
    ));
    // Not a certificate at all.
    assert!(matches!(
        hgs_attest::check_ek_certificate(
            Some(b"\x30\x03\x02\x01\x00"),
            host.ek.public(),
            &roots,
            at
        ),
        EkCertificateCheck::Untrusted {
            why: EkDistrust::Malformed,
            ..
        }
    ));
}
