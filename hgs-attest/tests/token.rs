//! The signed attestation-result token: round trip, time, every refusal, an independent
//! verification path, and a single-byte-mutation property.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use hgs_attest::policy::{PolicyVersion, SubStatus};
use hgs_attest::{
    AttestationStatus, EarStatus, Segment, TokenClaims, TokenError, TokenKeyError, TokenSigner,
    TokenStatus, TokenVerifier, Verdict, EAR_PROFILE, MAX_TOKEN_LEN,
};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePrivateKey, LineEnding};
use proptest::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const IAT: u64 = 1_700_000_000;
const LIFETIME: u64 = 3600;
const EXP: u64 = IAT + LIFETIME;

fn signer() -> TokenSigner {
    TokenSigner::from_scalar_bytes(&[0x42; 32]).unwrap()
}

fn other_signer() -> TokenSigner {
    TokenSigner::from_scalar_bytes(&[0x43; 32]).unwrap()
}

fn verifier() -> TokenVerifier {
    TokenVerifier::new().with_key(*signer().verifying_key())
}

fn fingerprint() -> hgs_attest::EkFingerprint {
    hgs_attest::EkFingerprint::from_bytes(Sha256::digest(b"an EK").into())
}

fn verdict(
    status: AttestationStatus,
    sub_statuses: Vec<SubStatus>,
    policy_version: Option<PolicyVersion>,
    host: Option<&str>,
) -> Verdict {
    Verdict {
        status,
        sub_statuses,
        policy_version,
        host: host.map(str::to_owned),
        baseline: None,
        ci_policy: None,
        audit_mode: false,
        freshness_checked: true,
        quoted_bank: None,
        quoted_pcrs: hgs_attest::PcrSet::EMPTY,
        failures: Vec::new(),
        checks: Vec::new(),
        policies: Vec::new(),
        resolution: None,
        bound_key: None,
        bound_key_source: None,
    }
}

fn passed_claims() -> TokenClaims {
    let v = verdict(
        AttestationStatus::Passed,
        vec![],
        Some(PolicyVersion::V2),
        Some("HOST01"),
    );
    TokenClaims::from_verdict(&v, &fingerprint(), IAT, LIFETIME)
}

fn passed_token() -> String {
    signer().sign(&passed_claims()).unwrap()
}

fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

fn unb64(s: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(s).unwrap()
}

/// Signs arbitrary header and payload JSON with a raw p256 key (low-S), bypassing TokenSigner.
fn forge(header: &Value, payload: &Value, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig: Signature = key.sign(input.as_bytes());
    let sig = sig.normalize_s().unwrap_or(sig);
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn trusted_key() -> SigningKey {
    SigningKey::from_slice(&[0x42; 32]).unwrap()
}

fn good_header() -> Value {
    json!({"alg": "ES256", "typ": "JWT", "kid": signer().key_id()})
}

/// The payload of a valid token, as JSON, to edit and re-sign.
fn good_payload() -> Value {
    let t = passed_token();
    let p = t.split('.').nth(1).unwrap();
    serde_json::from_slice(&unb64(p)).unwrap()
}

fn now() -> u64 {
    IAT + 100
}

#[test]
fn round_trip_passed_verdict_is_affirming() {
    let token = passed_token();
    let v = verifier().verify(&token, now()).unwrap();
    assert_eq!(v.claims(), &passed_claims());
    assert_eq!(v.key_id(), signer().key_id());
    let c = v.claims();
    assert_eq!(c.host.as_deref(), Some("HOST01"));
    assert_eq!(c.ek_fingerprint, fingerprint());
    assert_eq!(c.policy_version, Some(PolicyVersion::V2));
    assert_eq!(c.status, AttestationStatus::Passed);
    assert_eq!(c.ear_status, EarStatus::Affirming);
    assert!(c.sub_statuses.is_empty());
    assert_eq!((c.issued_at, c.expires_at), (IAT, EXP));
    assert!(v.is_affirming(now()));
    assert_eq!(
        v.status(now()),
        TokenStatus::Valid {
            remaining: EXP - now()
        }
    );
    // Deterministic (RFC 6979) and low-S: one token per claims and key.
    assert_eq!(token, passed_token());
}

#[test]
fn nonce_round_trips_and_bad_length_is_refused_at_signing() {
    let claims = passed_claims().with_nonce("relying-party-nonce-0001");
    let token = signer().sign(&claims).unwrap();
    let v = verifier().verify(&token, now()).unwrap();
    assert_eq!(
        v.claims().nonce.as_deref(),
        Some("relying-party-nonce-0001")
    );
    let err = signer()
        .sign(&passed_claims().with_nonce("short"))
        .unwrap_err();
    assert!(matches!(
        err,
        TokenError::InvalidClaim {
            name: "eat_nonce",
            ..
        }
    ));
}

#[test]
fn expired_reads_as_expired_at_exactly_exp_and_after() {
    let token = passed_token();
    let v = verifier().verify(&token, EXP - 1).unwrap();
    assert!(v.is_affirming(EXP - 1));
    assert_eq!(v.status(EXP - 1), TokenStatus::Valid { remaining: 1 });
    for t in [EXP, EXP + 1, EXP + 1_000_000, u64::MAX] {
        assert_eq!(v.status(t), TokenStatus::Expired { exp: EXP, now: t });
        assert!(!v.is_affirming(t));
        match verifier().verify(&token, t) {
            Err(e @ TokenError::Expired { .. }) => {
                assert!(e.is_expired());
                let TokenError::Expired { exp, now, claims } = e else {
                    unreachable!()
                };
                assert_eq!((exp, now), (EXP, t));
                // Still authenticated claims, for the log.
                assert_eq!(*claims, passed_claims());
            }
            other => panic!("at {t}: {other:?}"),
        }
    }
}

#[test]
fn iat_beyond_clock_skew_is_not_yet_valid() {
    let token = passed_token();
    // Within the default 60 s of skew: accepted.
    assert!(verifier().verify(&token, IAT - 60).is_ok());
    assert!(matches!(
        verifier().verify(&token, IAT - 61),
        Err(TokenError::IssuedInFuture {
            iat: IAT,
            now,
            skew: 60
        }) if now == IAT - 61
    ));
    let strict = verifier().with_clock_skew(0);
    assert!(strict.verify(&token, IAT).is_ok());
    assert!(matches!(
        strict.verify(&token, IAT - 1),
        Err(TokenError::IssuedInFuture { .. })
    ));
}

#[test]
fn tampered_payload_byte_is_refused() {
    let token = passed_token();
    let dot = token.find('.').unwrap();
    let mut b = token.clone().into_bytes();
    let i = dot + 10;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    let t = String::from_utf8(b).unwrap();
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::BadSignature)
    ));
    // Re-encoded claims with another host, original signature: refused.
    let mut p = good_payload();
    p["submods"] = json!({"HOST02": p["submods"]["HOST01"].clone()});
    p["submods"]["HOST02"]["hgs.host"] = json!("HOST02");
    let parts: Vec<&str> = token.split('.').collect();
    let t = format!(
        "{}.{}.{}",
        parts[0],
        b64(p.to_string().as_bytes()),
        parts[2]
    );
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::BadSignature)
    ));
}

#[test]
fn tampered_signature_is_refused() {
    let token = passed_token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut sig = unb64(parts[2]);
    sig[5] ^= 1;
    let t = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::BadSignature)
    ));
}

#[test]
fn signature_from_another_key_under_the_trusted_kid_is_refused() {
    let other = SigningKey::from_slice(&[0x43; 32]).unwrap();
    let t = forge(&good_header(), &good_payload(), &other);
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::BadSignature)
    ));
}

#[test]
fn unknown_kid_is_refused() {
    let t = other_signer().sign(&passed_claims()).unwrap();
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::UnknownKey { kid }) if kid == other_signer().key_id()
    ));
    // Both trusted: each verifies under its own kid.
    let both = verifier().with_key(*other_signer().verifying_key());
    assert_eq!(
        both.verify(&t, now()).unwrap().key_id(),
        other_signer().key_id()
    );
    assert_eq!(both.key_ids().count(), 2);
}

#[test]
fn alg_none_is_refused() {
    for alg in ["none", "None", "NONE"] {
        let h = json!({"alg": alg, "typ": "JWT", "kid": signer().key_id()});
        let t = format!(
            "{}.{}.",
            b64(h.to_string().as_bytes()),
            b64(good_payload().to_string().as_bytes())
        );
        assert!(
            matches!(verifier().verify(&t, now()), Err(TokenError::Algorithm { alg: a }) if a == alg)
        );
    }
}

#[test]
fn alg_hs256_with_the_public_key_as_hmac_secret_is_refused() {
    let s = signer();
    let secrets: [Vec<u8>; 3] = [
        s.verifying_key_der(),
        s.public_jwk().into_bytes(),
        s.verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec(),
    ];
    for secret in secrets {
        let h = json!({"alg": "HS256", "typ": "JWT", "kid": s.key_id()});
        let input = format!(
            "{}.{}",
            b64(h.to_string().as_bytes()),
            b64(good_payload().to_string().as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(input.as_bytes());
        let t = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
        assert!(
            matches!(verifier().verify(&t, now()), Err(TokenError::Algorithm { alg }) if alg == "HS256")
        );
    }
}

#[test]
fn every_alg_but_es256_is_refused_even_when_validly_signed() {
    for alg in [
        json!("RS256"),
        json!("ES384"),
        json!("ES256K"),
        json!("es256"),
        json!("PS256"),
        json!("EdDSA"),
        json!(["ES256"]),
        json!(null),
    ] {
        let h = json!({"alg": alg, "typ": "JWT", "kid": signer().key_id()});
        let t = forge(&h, &good_payload(), &trusted_key());
        assert!(
            matches!(
                verifier().verify(&t, now()),
                Err(TokenError::Algorithm { .. })
            ),
            "{alg}"
        );
    }
    let h = json!({"typ": "JWT", "kid": signer().key_id()});
    let t = forge(&h, &good_payload(), &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::MissingHeader { name: "alg" })
    ));
}

#[test]
fn crit_header_is_refused_even_when_validly_signed() {
    for crit in [json!(["exp"]), json!([]), json!("b64")] {
        let h = json!({"alg": "ES256", "typ": "JWT", "kid": signer().key_id(), "crit": crit});
        let t = forge(&h, &good_payload(), &trusted_key());
        assert!(matches!(
            verifier().verify(&t, now()),
            Err(TokenError::Critical)
        ));
    }
}

#[test]
fn embedded_key_and_other_header_parameters_are_refused() {
    let jwk: Value = serde_json::from_str(&other_signer().public_jwk()).unwrap();
    for (name, value) in [
        ("jwk", jwk),
        ("jku", json!("https://attacker.invalid/keys")),
        ("x5u", json!("https://attacker.invalid/cert")),
        ("x5c", json!(["MIIB"])),
        ("b64", json!(false)),
    ] {
        let mut h = good_header();
        h[name] = value;
        let t = forge(&h, &good_payload(), &trusted_key());
        assert!(
            matches!(verifier().verify(&t, now()), Err(TokenError::HeaderParameter { name: n }) if n == name)
        );
    }
}

#[test]
fn typ_other_than_jwt_or_missing_is_refused() {
    let mut h = good_header();
    h["typ"] = json!("jwt");
    assert!(verifier()
        .verify(&forge(&h, &good_payload(), &trusted_key()), now())
        .is_ok());
    h["typ"] = json!("at+jwt");
    assert!(matches!(
        verifier().verify(&forge(&h, &good_payload(), &trusted_key()), now()),
        Err(TokenError::Type { typ }) if typ == "at+jwt"
    ));
    let h = json!({"alg": "ES256", "kid": signer().key_id()});
    assert!(matches!(
        verifier().verify(&forge(&h, &good_payload(), &trusted_key()), now()),
        Err(TokenError::MissingHeader { name: "typ" })
    ));
    let h = json!({"alg": "ES256", "typ": "JWT"});
    assert!(matches!(
        verifier().verify(&forge(&h, &good_payload(), &trusted_key()), now()),
        Err(TokenError::MissingHeader { name: "kid" })
    ));
}

#[test]
fn duplicate_header_parameter_is_refused() {
    let kid = signer().key_id().to_owned();
    let header = format!(r#"{{"alg":"none","alg":"ES256","typ":"JWT","kid":"{kid}"}}"#);
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(good_payload().to_string().as_bytes())
    );
    let sig: Signature = trusted_key().sign(input.as_bytes());
    let sig = sig.normalize_s().unwrap_or(sig);
    let t = format!("{input}.{}", b64(&sig.to_bytes()));
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Json {
            segment: Segment::Header,
            ..
        })
    ));
}

#[test]
fn truncated_token_and_extra_segment_are_refused() {
    let token = passed_token();
    let parts: Vec<&str> = token.split('.').collect();
    for (t, found) in [
        (parts[0].to_owned(), 1),
        (format!("{}.{}", parts[0], parts[1]), 2),
        (format!("{token}."), 4),
        (format!("{token}.{}", parts[2]), 4),
        (String::new(), 1),
    ] {
        assert!(
            matches!(verifier().verify(&t, now()), Err(TokenError::Segments { found: f }) if f == found),
            "{t}"
        );
    }
    // Cut inside the signature: a short or non-canonical signature.
    let cut = &token[..token.len() - 3];
    assert!(matches!(
        verifier().verify(cut, now()),
        Err(TokenError::Base64 {
            segment: Segment::Signature
        } | TokenError::SignatureLength { .. })
    ));
}

#[test]
fn malformed_base64_names_its_segment() {
    let token = passed_token();
    let parts: Vec<&str> = token.split('.').collect();
    let t = format!("{}!.{}.{}", parts[0], parts[1], parts[2]);
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Base64 {
            segment: Segment::Header
        })
    ));
    // Padded base64url is not the compact serialization.
    let t = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Base64 { .. })
    ));
    let t = format!("{}.{}+.{}", parts[0], parts[1], parts[2]);
    assert!(verifier().verify(&t, now()).is_err());
    let t = format!("{}.{}.{}/", parts[0], parts[1], parts[2]);
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Base64 {
            segment: Segment::Signature
        })
    ));
    // Header that is base64 of something other than a JSON object.
    let t = format!("{}.{}.{}", b64(b"[1,2]"), parts[1], parts[2]);
    let err = verifier().verify(&t, now()).unwrap_err();
    assert!(matches!(
        err,
        TokenError::Json {
            segment: Segment::Header,
            ..
        }
    ));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn non_canonical_base64_is_refused() {
    // The signature is 64 bytes = 85.33 characters: its last character carries 4 unused bits.
    // Setting them spells the same bytes another way; only the canonical spelling is accepted.
    let token = passed_token();
    let last = token.as_bytes()[token.len() - 1];
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let i = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(i & 0x0f, 0, "canonical spelling has the unused bits clear");
    let mut t = token[..token.len() - 1].to_owned();
    t.push(ALPHABET[i | 1] as char);
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Base64 {
            segment: Segment::Signature
        })
    ));
}

#[test]
fn huge_token_is_refused_before_decoding() {
    // Garbage that would fail every later check: refused by length alone.
    let huge = "!".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(
        verifier().verify(&huge, now()),
        Err(TokenError::TooLong { len, max: MAX_TOKEN_LEN }) if len == MAX_TOKEN_LEN + 1
    ));
    let huge = ".".repeat(10 * MAX_TOKEN_LEN);
    assert!(matches!(
        verifier().verify(&huge, now()),
        Err(TokenError::TooLong { .. })
    ));
    // Our largest realistic token is far below the cap.
    let mut c = TokenClaims::from_verdict(
        &verdict(
            AttestationStatus::InsecureHostConfiguration,
            vec![
                SubStatus::BitLocker,
                SubStatus::CodeIntegrityPolicy,
                SubStatus::DumpsEnabled,
                SubStatus::DumpEncryption,
                SubStatus::DumpEncryptionKey,
                SubStatus::FullBoot,
                SubStatus::HibernationEnabled,
                SubStatus::HypervisorEnforcedCodeIntegrityPolicy,
                SubStatus::Iommu,
                SubStatus::PagefileEncryption,
                SubStatus::SecureBoot,
                SubStatus::SecureBootSettings,
                SubStatus::TcgLogVerification,
                SubStatus::VirtualSecureMode,
            ],
            Some(PolicyVersion::V1),
            Some(&"h".repeat(255)),
        ),
        &fingerprint(),
        IAT,
        LIFETIME,
    );
    c = c.with_nonce("n".repeat(88));
    let t = signer().sign(&c).unwrap();
    assert!(t.len() < 2048, "{}", t.len());
    assert!(verifier().verify(&t, now()).is_ok());
}

#[test]
fn non_passed_verdict_is_contraindicated_and_not_affirming() {
    for (status, subs, host) in [
        (AttestationStatus::UnauthorizedHost, vec![], None),
        (AttestationStatus::TpmError, vec![], Some("HOST01")),
        (
            AttestationStatus::InsecureHostConfiguration,
            vec![SubStatus::SecureBoot, SubStatus::TcgLogVerification],
            Some("HOST01"),
        ),
    ] {
        let v = verdict(status, subs.clone(), None, host);
        let c = TokenClaims::from_verdict(&v, &fingerprint(), IAT, LIFETIME);
        assert_eq!(c.ear_status, EarStatus::Contraindicated);
        let t = signer().sign(&c).unwrap();
        let vt = verifier().verify(&t, now()).unwrap();
        assert_eq!(vt.claims().status, status);
        assert_eq!(vt.claims().sub_statuses, subs);
        assert_eq!(vt.claims().host.as_deref(), host);
        assert!(matches!(vt.status(now()), TokenStatus::Valid { .. }));
        assert!(!vt.is_affirming(now()));
        // The unregistered EK's submodule is named for its fingerprint.
        let p: Value = serde_json::from_slice(&unb64(t.split('.').nth(1).unwrap())).unwrap();
        let name = host.map_or_else(|| fingerprint().to_string(), str::to_owned);
        assert_eq!(p["submods"][&name]["ear.status"], "contraindicated");
    }
}

#[test]
fn inconsistent_status_claims_are_refused_even_when_validly_signed() {
    // affirming with a failed status.
    let mut p = good_payload();
    p["submods"]["HOST01"]["hgs.status"] = json!("TpmError");
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::InvalidClaim {
            name: "ear.status",
            ..
        })
    ));
    // contraindicated with Passed.
    let mut p = good_payload();
    p["submods"]["HOST01"]["ear.status"] = json!("contraindicated");
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::InvalidClaim {
            name: "ear.status",
            ..
        })
    ));
    // The signer refuses to issue such claims in the first place.
    let mut c = passed_claims();
    c.ear_status = EarStatus::Contraindicated;
    assert!(signer().sign(&c).is_err());
    let mut c = passed_claims();
    c.sub_statuses = vec![SubStatus::Iommu];
    assert!(signer().sign(&c).is_err());
    // Submodule named for another host.
    let mut p = good_payload();
    p["submods"] = json!({"HOST02": p["submods"]["HOST01"].clone()});
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::InvalidClaim {
            name: "submods",
            ..
        })
    ));
    // Malformed EK fingerprint.
    let mut p = good_payload();
    p["submods"]["HOST01"]["hgs.ek-fingerprint"] = json!("AB".repeat(32));
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::InvalidClaim {
            name: "hgs.ek-fingerprint",
            ..
        })
    ));
}

#[test]
fn wrong_profile_is_refused() {
    let mut p = good_payload();
    p["eat_profile"] = json!("tag:example.com,2024:other");
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Profile { found }) if found == "tag:example.com,2024:other"
    ));
}

#[test]
fn missing_claims_are_named() {
    for (path, name) in [
        (&["eat_profile"][..], "eat_profile"),
        (&["iat"][..], "iat"),
        (&["exp"][..], "exp"),
        (&["ear.verifier-id"][..], "ear.verifier-id"),
        (&["submods"][..], "submods"),
        (
            &["submods", "HOST01", "ear.status"][..],
            "submods.*.ear.status",
        ),
        (
            &["submods", "HOST01", "hgs.status"][..],
            "submods.*.hgs.status",
        ),
        (
            &["submods", "HOST01", "hgs.ek-fingerprint"][..],
            "submods.*.hgs.ek-fingerprint",
        ),
        (
            &["submods", "HOST01", "hgs.sub-statuses"][..],
            "submods.*.hgs.sub-statuses",
        ),
    ] {
        let mut p = good_payload();
        let mut obj = &mut p;
        for k in &path[..path.len() - 1] {
            obj = &mut obj[*k];
        }
        obj.as_object_mut().unwrap().remove(path[path.len() - 1]);
        let t = forge(&good_header(), &p, &trusted_key());
        assert!(
            matches!(verifier().verify(&t, now()), Err(TokenError::MissingClaim { name: n }) if n == name),
            "{name}"
        );
    }
}

#[test]
fn exp_not_after_iat_is_refused() {
    let mut c = passed_claims();
    c.expires_at = c.issued_at;
    assert!(matches!(
        signer().sign(&c),
        Err(TokenError::Lifetime { .. })
    ));
    assert!(signer()
        .sign(&TokenClaims::from_verdict(
            &verdict(AttestationStatus::Passed, vec![], None, Some("H")),
            &fingerprint(),
            IAT,
            0
        ))
        .is_err());
    let mut p = good_payload();
    p["exp"] = json!(IAT - 1);
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Lifetime { iat: IAT, exp }) if exp == IAT - 1
    ));
    // Non-integer or negative NumericDate: not our JSON.
    for exp in [json!(1.7e9), json!(-1), json!("1700003600")] {
        let mut p = good_payload();
        p["exp"] = exp;
        let t = forge(&good_header(), &p, &trusted_key());
        assert!(matches!(
            verifier().verify(&t, now()),
            Err(TokenError::Json {
                segment: Segment::Payload,
                ..
            })
        ));
    }
}

#[test]
fn several_or_duplicate_submodules_are_refused() {
    let mut p = good_payload();
    let sub = p["submods"]["HOST01"].clone();
    p["submods"]["HOST02"] = sub.clone();
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Submodules { count: 2 })
    ));
    p["submods"] = json!({});
    let t = forge(&good_header(), &p, &trusted_key());
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Submodules { count: 0 })
    ));
    // The same name twice (a JSON map would keep only one).
    let mut p = good_payload();
    p["submods"] = json!("@@");
    let s = sub.to_string();
    let payload = p
        .to_string()
        .replace(r#""@@""#, &format!(r#"{{"HOST01":{s},"HOST01":{s}}}"#));
    let header = good_header();
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.as_bytes())
    );
    let sig: Signature = trusted_key().sign(input.as_bytes());
    let sig = sig.normalize_s().unwrap_or(sig);
    let t = format!("{input}.{}", b64(&sig.to_bytes()));
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::Submodules { count: 2 })
    ));
}

#[test]
fn der_encoded_signature_is_refused() {
    let token = passed_token();
    let parts: Vec<&str> = token.split('.').collect();
    let sig = Signature::from_slice(&unb64(parts[2])).unwrap();
    let der = sig.to_der();
    let t = format!("{}.{}.{}", parts[0], parts[1], b64(der.as_bytes()));
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::SignatureLength { .. })
    ));
    let t = format!("{}.{}.{}", parts[0], parts[1], b64(&[0u8; 64]));
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::SignatureEncoding)
    ));
}

#[test]
fn high_s_signature_is_refused() {
    let token = passed_token();
    let parts: Vec<&str> = token.split('.').collect();
    let sig = Signature::from_slice(&unb64(parts[2])).unwrap();
    let (r, s) = sig.split_scalars();
    let high = Signature::from_scalars(r.to_bytes(), (-*s.as_ref()).to_bytes()).unwrap();
    // The malleated signature is mathematically valid ...
    let input = format!("{}.{}", parts[0], parts[1]);
    signer()
        .verifying_key()
        .verify(input.as_bytes(), &high)
        .unwrap();
    // ... and refused: one token per claims.
    let t = format!("{input}.{}", b64(&high.to_bytes()));
    assert!(matches!(
        verifier().verify(&t, now()),
        Err(TokenError::HighS)
    ));
}

#[test]
fn independent_verification_path_agrees() {
    let token = passed_token();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    // The key as published (SPKI DER), read by p256 itself.
    let vk = VerifyingKey::from_public_key_der(&signer().verifying_key_der()).unwrap();
    let sig_bytes = unb64(parts[2]);
    assert_eq!(sig_bytes.len(), 64, "raw r || s, not DER");
    let sig = Signature::from_slice(&sig_bytes).unwrap();
    vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
    // Also as ECDSA over an explicit SHA-256 prehash.
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let digest = Sha256::digest(format!("{}.{}", parts[0], parts[1]).as_bytes());
    vk.verify_prehash(&digest, &sig).unwrap();

    // Header and claims read as plain JSON, independent of the library's wire types.
    let header: Value = serde_json::from_slice(&unb64(parts[0])).unwrap();
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "JWT", "kid": signer().key_id()})
    );
    let claims: Value = serde_json::from_slice(&unb64(parts[1])).unwrap();
    assert_eq!(
        claims,
        json!({
            "eat_profile": EAR_PROFILE,
            "iat": IAT,
            "exp": EXP,
            "ear.verifier-id": {"developer": "hgs-attest", "build": concat!("hgs-attest ", env!("CARGO_PKG_VERSION"))},
            "submods": {"HOST01": {
                "ear.status": "affirming",
                "hgs.host": "HOST01",
                "hgs.ek-fingerprint": fingerprint(),
                "hgs.policy-version": "v2",
                "hgs.status": "Passed",
                "hgs.sub-statuses": [],
            }}
        })
    );
    eprintln!(
        "header: {header}\nclaims: {claims}\ntoken ({} bytes)",
        token.len()
    );
}

#[test]
fn key_id_is_the_rfc7638_thumbprint() {
    let s = signer();
    let jwk: Value = serde_json::from_str(&s.public_jwk()).unwrap();
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    assert_eq!(s.key_id(), b64(&Sha256::digest(canonical.as_bytes())));
    assert_eq!(jwk["kid"], s.key_id());
    assert_eq!(jwk["alg"], "ES256");
    assert_eq!(hgs_attest::key_id(s.verifying_key()), s.key_id());
    assert_ne!(s.key_id(), other_signer().key_id());
    assert!(!format!("{s:?}").contains("42"), "Debug hides the key");
}

#[test]
fn signer_constructors_agree() {
    let sk = trusted_key();
    let der = sk.to_pkcs8_der().unwrap();
    let pem = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
    let a = TokenSigner::from_pkcs8_der(der.as_bytes()).unwrap();
    let b = TokenSigner::from_pkcs8_pem(&pem).unwrap();
    let c = TokenSigner::new(sk);
    assert_eq!(a.key_id(), signer().key_id());
    assert_eq!(b.key_id(), signer().key_id());
    assert_eq!(c.key_id(), signer().key_id());
    assert_eq!(
        a.sign(&passed_claims()).unwrap(),
        signer().sign(&passed_claims()).unwrap()
    );
    assert!(matches!(
        TokenSigner::from_scalar_bytes(&[0; 32]),
        Err(TokenKeyError::Scalar)
    ));
    assert!(matches!(
        TokenSigner::from_scalar_bytes(&[0xff; 32]),
        Err(TokenKeyError::Scalar)
    ));
    assert!(matches!(
        TokenSigner::from_scalar_bytes(&[1; 31]),
        Err(TokenKeyError::Scalar)
    ));
    assert!(matches!(
        TokenSigner::from_pkcs8_der(b"not der"),
        Err(TokenKeyError::Pkcs8(_))
    ));
    let g = TokenSigner::generate(&mut rand_core::OsRng);
    let t = g.sign(&passed_claims()).unwrap();
    assert!(TokenVerifier::new()
        .with_key(*g.verifying_key())
        .verify(&t, now())
        .is_ok());
}

#[test]
fn verifier_keys_from_der_and_jwk_agree() {
    let s = signer();
    let token = passed_token();
    let from_der = TokenVerifier::new()
        .with_public_key_der(&s.verifying_key_der())
        .unwrap();
    let from_jwk = TokenVerifier::new()
        .with_public_jwk(&s.public_jwk())
        .unwrap();
    assert_eq!(
        from_der.verify(&token, now()).unwrap(),
        from_jwk.verify(&token, now()).unwrap()
    );
    // A JWK whose kid is not its thumbprint, or of another curve, is refused.
    let mut jwk: Value = serde_json::from_str(&s.public_jwk()).unwrap();
    jwk["kid"] = json!("someone-else");
    assert!(matches!(
        TokenVerifier::new().with_public_jwk(&jwk.to_string()),
        Err(TokenKeyError::Jwk(_))
    ));
    jwk["kid"] = json!(s.key_id());
    jwk["crv"] = json!("P-384");
    assert!(TokenVerifier::new()
        .with_public_jwk(&jwk.to_string())
        .is_err());
    assert!(matches!(
        TokenVerifier::new().with_public_key_der(b"junk"),
        Err(TokenKeyError::PublicKey(_))
    ));
}

/// A micro sanity check, not a benchmark: prints per-operation times, asserts nothing about them.
/// `cargo test --release -p hgs-attest --test token -- --nocapture sign_and_verify_timing`
#[test]
fn sign_and_verify_timing_printout() {
    let s = signer();
    let v = verifier();
    let claims = passed_claims();
    const N: u32 = 200;
    let start = std::time::Instant::now();
    let mut token = String::new();
    for _ in 0..N {
        token = s.sign(&claims).unwrap();
    }
    let sign = start.elapsed() / N;
    let start = std::time::Instant::now();
    for _ in 0..N {
        assert!(v.verify(&token, now()).is_ok());
    }
    let verify = start.elapsed() / N;
    let junk = "x".repeat(MAX_TOKEN_LEN);
    let start = std::time::Instant::now();
    for _ in 0..N {
        assert!(v.verify(&junk, now()).is_err());
    }
    let refuse = start.elapsed() / N;
    eprintln!("token sign {sign:?}, verify {verify:?}, refuse 8 KiB junk {refuse:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any single-byte change of a valid token is refused or (a no-op change) yields the same
    /// claims: never different authenticated claims.
    #[test]
    fn single_byte_change_never_yields_different_claims(pos in any::<prop::sample::Index>(), byte in 0u8..128) {
        let token = passed_token();
        let mut b = token.clone().into_bytes();
        let i = pos.index(b.len());
        b[i] = byte;
        let t = String::from_utf8(b).unwrap();
        match verifier().verify(&t, now()) {
            Ok(v) => {
                prop_assert_eq!(v.claims(), &passed_claims());
                prop_assert_eq!(t, token, "a different token string verified");
            }
            Err(TokenError::Expired { .. }) => prop_assert!(false, "cannot expire"),
            Err(_) => {}
        }
    }

    /// Arbitrary strings are refused without panicking.
    #[test]
    fn arbitrary_strings_are_refused(s in "[A-Za-z0-9_.=+/-]{0,300}") {
        prop_assert!(verifier().verify(&s, now()).is_err());
    }
}
