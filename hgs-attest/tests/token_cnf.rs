//! The token's `cnf` (RFC 7800): the host's TPM-bound key round trips for RSA-2048 and P-256,
//! an altered key breaks the signature, a malformed `cnf` refuses the whole token; and
//! `hgs.policies`, the policies a verdict satisfied.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use hgs_attest::policy::{HgsPolicy, PolicyState, RuleOutcome, RuleResult};
use hgs_attest::{
    AttestationStatus, BoundKey, Check, CheckId, CheckOutcome, EkFingerprint, TokenClaims,
    TokenError, TokenSigner, TokenVerifier, Verdict,
};
use hgs_keys::{JwkError, SoftP256Key, SoftRsaKey};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

const IAT: u64 = 1_700_000_000;
const NOW: u64 = IAT + 100;

/// Fixed RSA primes (the keys_jwe fuzz fixture's), so the test does not generate a key.
const P: &str = concat!(
    "ef7ccb6b584dcd9067aa9b46302ee775eb9de9223c1567385d5ea36e9e720736",
    "b3785490c13c59f5e2b56f4980f3c9f1f3db77ea0d7ac7b628ee4acdc375d1bd",
    "a3d4b25bc96e4324bd48d2dcbda66391f73f675917883b59454820306faa963f",
    "237ab71b08293dc0cdc87850bc1e4982a1ffc4e123782806c98608bce9bd40dd",
);
const Q: &str = concat!(
    "d4d7c355cb7be3d9e105bd55eb37ed19df6b5981109d00657128f73ad232b277",
    "80611e9dc0ae648e333eaeefdc174f9ab76c055a0f01f5e7917bc764a204f408",
    "c533723b75c98159bb7815371c982f0fd3479e74e16726b98c9912dd8349dee5",
    "065a78582c84f527f712a5867afa1dd9d3090821b001bfa8653c9f9784a9535f",
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rsa_key() -> BoundKey {
    SoftRsaKey::from_primes(&unhex(P), &unhex(Q))
        .unwrap()
        .bound_key()
        .clone()
}

fn p256_key(seed: u8) -> BoundKey {
    SoftP256Key::from_scalar_bytes(&[seed; 32])
        .unwrap()
        .bound_key()
        .clone()
}

fn signer() -> TokenSigner {
    TokenSigner::from_scalar_bytes(&[0x42; 32]).unwrap()
}

fn verifier() -> TokenVerifier {
    TokenVerifier::new().with_key(*signer().verifying_key())
}

fn claims() -> TokenClaims {
    TokenClaims::new(
        Some("HOST01".into()),
        EkFingerprint::from_bytes([0xab; 32]),
        AttestationStatus::Passed,
        IAT,
        3600,
    )
}

fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

fn payload(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(p).unwrap()).unwrap()
}

/// Re-signs `payload` with the trusted key (a validly signed token the signer would not make).
fn forge(payload: &Value) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": signer().key_id()});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
    let sig: Signature = key.sign(input.as_bytes());
    let sig = sig.normalize_s().unwrap_or(sig);
    format!("{input}.{}", b64(&sig.to_bytes()))
}

#[test]
fn cnf_round_trips_for_rsa_and_p256() {
    for key in [rsa_key(), p256_key(7)] {
        let c = claims().with_bound_key(key.clone());
        let token = signer().sign(&c).unwrap();
        let p = payload(&token);
        // RFC 7800 §3.2 shape, the canonical JWK.
        assert_eq!(
            p["cnf"],
            json!({"jwk": serde_json::from_str::<Value>(&key.to_jwk_json()).unwrap()})
        );
        let v = verifier().verify(&token, NOW).unwrap();
        assert_eq!(v.claims().cnf.as_ref(), Some(&key));
        assert_eq!(v.claims(), &c);
        assert!(v.is_affirming(NOW));
    }
}

#[test]
fn no_cnf_is_omitted_and_reads_back_as_none() {
    let token = signer().sign(&claims()).unwrap();
    assert!(payload(&token).get("cnf").is_none());
    let v = verifier().verify(&token, NOW).unwrap();
    assert_eq!(v.claims().cnf, None);
    // Still Passed and affirming: it is the key service that releases nothing on it.
    assert!(v.is_affirming(NOW));
}

#[test]
fn altered_cnf_breaks_the_signature() {
    let token = signer()
        .sign(&claims().with_bound_key(p256_key(7)))
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut p = payload(&token);
    p["cnf"]["jwk"] = serde_json::from_str(&p256_key(8).to_jwk_json()).unwrap();
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        b64(p.to_string().as_bytes()),
        parts[2]
    );
    assert!(matches!(
        verifier().verify(&swapped, NOW),
        Err(TokenError::BadSignature)
    ));
    // Removing cnf is an alteration too.
    p.as_object_mut().unwrap().remove("cnf");
    let stripped = format!(
        "{}.{}.{}",
        parts[0],
        b64(p.to_string().as_bytes()),
        parts[2]
    );
    assert!(matches!(
        verifier().verify(&stripped, NOW),
        Err(TokenError::BadSignature)
    ));
}

#[test]
fn malformed_cnf_refuses_the_token_even_when_validly_signed() {
    let good = payload(
        &signer()
            .sign(&claims().with_bound_key(p256_key(7)))
            .unwrap(),
    );
    let jwk = good["cnf"]["jwk"].clone();
    let x = jwk["x"].as_str().unwrap().to_owned();

    let shape = |cnf: Value| {
        let mut p = good.clone();
        p["cnf"] = cnf;
        verifier().verify(&forge(&p), NOW)
    };
    for cnf in [
        json!("a string"),
        json!(null),
        json!([jwk.clone()]),
        json!({}),
        json!({"jwk": jwk.clone(), "kid": "another key"}),
        json!({"jwe": "a.b.c.d.e"}),
    ] {
        assert!(
            matches!(shape(cnf.clone()), Err(TokenError::Confirmation { .. })),
            "{cnf}"
        );
    }
    // The key itself refused, with hgs_keys' reason as the source.
    let key_refused = |jwk: Value| shape(json!({ "jwk": jwk }));
    let mut private = jwk.clone();
    private["d"] = json!(b64(&[1; 32]));
    assert!(matches!(
        key_refused(private),
        Err(TokenError::ConfirmationKey(JwkError::PrivateMember {
            member: "d"
        }))
    ));
    let mut off_curve = jwk.clone();
    off_curve["y"] = json!(x);
    assert!(matches!(
        key_refused(off_curve),
        Err(TokenError::ConfirmationKey(JwkError::NotOnCurve))
    ));
    assert!(matches!(
        key_refused(json!({"kty": "oct", "k": "AAAA"})),
        Err(TokenError::ConfirmationKey(JwkError::PrivateMember {
            member: "k"
        }))
    ));
    assert!(matches!(
        key_refused(json!({"kty": "RSA", "n": b64(&[0xc5; 128]), "e": "AQAB"})),
        Err(TokenError::ConfirmationKey(JwkError::RsaModulusSize {
            bits: 1024
        }))
    ));
    let mut p384 = jwk.clone();
    p384["crv"] = json!("P-384");
    assert!(matches!(
        key_refused(p384),
        Err(TokenError::ConfirmationKey(JwkError::Curve { .. }))
    ));
}

#[test]
fn duplicate_jwk_member_inside_cnf_is_refused() {
    let token = signer()
        .sign(&claims().with_bound_key(p256_key(7)))
        .unwrap();
    let p = payload(&token);
    let jwk = p["cnf"]["jwk"].to_string();
    let x = p["cnf"]["jwk"]["x"].as_str().unwrap();
    let text = p.to_string();
    // A second "x" inside the JWK: a map would keep one silently; hgs_keys refuses it.
    let dup_member = text.replacen(
        &format!(r#""x":"{x}""#),
        &format!(r#""x":"{x}","x":"{x}""#),
        1,
    );
    assert_ne!(dup_member, text);
    let dup_jwk = text.replacen(&jwk, &format!("{jwk},\"jwk\":{jwk}"), 1);
    assert_ne!(dup_jwk, text);
    for bad in [dup_member, dup_jwk] {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": signer().key_id()});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(bad.as_bytes())
        );
        let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
        let sig: Signature = key.sign(input.as_bytes());
        let sig = sig.normalize_s().unwrap_or(sig);
        let t = format!("{input}.{}", b64(&sig.to_bytes()));
        let e = verifier().verify(&t, NOW).unwrap_err();
        assert!(
            matches!(
                e,
                TokenError::ConfirmationKey(JwkError::Json(_)) | TokenError::Confirmation { .. }
            ),
            "{e:?}"
        );
    }
}

fn verdict_with(checks: Vec<Check>, policies: Vec<RuleOutcome>) -> Verdict {
    Verdict {
        status: AttestationStatus::Passed,
        sub_statuses: vec![],
        policy_version: None,
        host: Some("HOST01".into()),
        baseline: None,
        ci_policy: None,
        audit_mode: false,
        freshness_checked: true,
        quoted_bank: None,
        quoted_pcrs: hgs_attest::PcrSet::EMPTY,
        failures: Vec::new(),
        checks,
        policies,
        resolution: None,
        bound_key: None,
        bound_key_source: None,
    }
}

fn rule(policy: HgsPolicy, result: RuleResult) -> RuleOutcome {
    RuleOutcome {
        policy,
        state: PolicyState::Enabled,
        result,
        evidence: vec![],
    }
}

#[test]
fn policies_claim_lists_what_the_verdict_satisfied() {
    let v = verdict_with(
        vec![
            Check {
                name: CheckId::Baseline,
                outcome: CheckOutcome::Passed { detail: "b".into() },
            },
            Check {
                name: CheckId::CiPolicy,
                outcome: CheckOutcome::Flagged {
                    detail: "audit".into(),
                },
            },
        ],
        vec![
            rule(HgsPolicy::SecureBootEnabled, RuleResult::Passed),
            rule(HgsPolicy::BitLockerEnabled, RuleResult::Disabled),
            rule(
                HgsPolicy::DumpEncryption,
                RuleResult::NotApplicable {
                    why: "dumps off".into(),
                },
            ),
            rule(
                HgsPolicy::FullBoot,
                RuleResult::NotAttested {
                    missing: hgs_attest::PcrSet::of(&[12]),
                },
            ),
        ],
    );
    let c = TokenClaims::from_verdict(&v, &EkFingerprint::from_bytes([1; 32]), IAT, 3600);
    let expected = [
        HgsPolicy::SecureBootEnabled,
        HgsPolicy::SecureBootSettings,
        HgsPolicy::CiPolicy,
        HgsPolicy::DumpEncryption,
    ];
    assert_eq!(c.policies, expected.into_iter().collect());
    let token = signer().sign(&c).unwrap();
    assert_eq!(
        payload(&token)["submods"]["HOST01"]["hgs.policies"],
        json!([
            "Hgs_SecureBootEnabled",
            "Hgs_SecureBootSettings",
            "Hgs_CiPolicy",
            "Hgs_DumpEncryption"
        ])
    );
    assert_eq!(verifier().verify(&token, NOW).unwrap().claims(), &c);
}

#[test]
fn policies_claim_absent_reads_empty_and_repeated_is_refused() {
    let token = signer().sign(&claims()).unwrap();
    let p = payload(&token);
    assert!(p["submods"]["HOST01"].get("hgs.policies").is_none());
    assert!(verifier()
        .verify(&token, NOW)
        .unwrap()
        .claims()
        .policies
        .is_empty());
    let mut p = p;
    p["submods"]["HOST01"]["hgs.policies"] = json!(["Hgs_FullBoot", "Hgs_FullBoot"]);
    assert!(matches!(
        verifier().verify(&forge(&p), NOW),
        Err(TokenError::InvalidClaim {
            name: "hgs.policies",
            ..
        })
    ));
    p["submods"]["HOST01"]["hgs.policies"] = json!(["Hgs_NoSuchPolicy"]);
    assert!(matches!(
        verifier().verify(&forge(&p), NOW),
        Err(TokenError::Json { .. })
    ));
}

#[test]
fn rsa_cnf_token_fits_the_budget_with_everything_else_at_its_largest() {
    let mut c = TokenClaims::new(
        Some("H".repeat(253)),
        EkFingerprint::from_bytes([0xab; 32]),
        AttestationStatus::InsecureHostConfiguration,
        IAT,
        3600,
    )
    .with_bound_key(rsa_key())
    .with_nonce("n".repeat(88));
    c.policies = HgsPolicy::ALL.into_iter().collect();
    c.sub_statuses = HgsPolicy::ALL.iter().map(|p| p.sub_status()).collect();
    let token = signer().sign(&c).unwrap();
    assert!(token.len() < 3 * 1024, "{}", token.len());
    assert_eq!(verifier().verify(&token, NOW).unwrap().claims(), &c);
}
