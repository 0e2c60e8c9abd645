//! The release decision: every refusal reached with its evidence, the policy's JSON, and the
//! property "a release implies Passed, not expired, registered with the same EK, cnf present".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::*;
use hgs_attest::policy::{
    EkCertificateCheck, EkFingerprint, HgsPolicy, Name, PolicyVersion, SubStatus, TpmHost,
};
use hgs_attest::{
    AttestationStatus, BoundKey, TokenClaims, TokenSigner, TokenVerifier, VerifiedToken,
};
use hgs_kps::{decide_release, HostSelector, Refusal, Release, ReleasePolicy};
use proptest::prelude::*;

const IAT: u64 = 1_700_000_000;
const LIFETIME: u64 = 3600;
const NOW: u64 = IAT + 100;

fn ek(b: u8) -> EkFingerprint {
    EkFingerprint::from_bytes([b; 32])
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn host(n: &str, fp: EkFingerprint) -> TpmHost {
    TpmHost {
        name: name(n),
        policy_version: PolicyVersion::V2,
        ekpub: Vec::new(),
        ek_fingerprint: fp,
        ek_key_type: "RSA-2048".into(),
        ek_certificate: None,
        ek_certificate_check: EkCertificateCheck::Missing,
        forced: false,
    }
}

fn bound() -> BoundKey {
    p256_soft(0x66).bound_key().clone()
}

fn good_claims() -> TokenClaims {
    let mut c = TokenClaims::new(
        Some("HOST01".into()),
        ek(1),
        AttestationStatus::Passed,
        IAT,
        LIFETIME,
    )
    .with_bound_key(bound());
    c.policy_version = Some(PolicyVersion::V2);
    c.policies = [HgsPolicy::SecureBootEnabled, HgsPolicy::CiPolicy]
        .into_iter()
        .collect();
    c
}

fn signer() -> TokenSigner {
    TokenSigner::from_scalar_bytes(&[0x42; 32]).unwrap()
}

/// Signs and verifies (at `iat`, so any lifetime verifies): the only way to a VerifiedToken.
fn verified(c: &TokenClaims) -> VerifiedToken {
    let token = signer().sign(c).unwrap();
    TokenVerifier::new()
        .with_key(*signer().verifying_key())
        .verify(&token, c.issued_at)
        .unwrap()
}

fn decide(
    c: &TokenClaims,
    registered: Option<&TpmHost>,
    p: &ReleasePolicy,
) -> Result<Release, Refusal> {
    decide_release(&verified(c), NOW, registered, p, None)
}

fn all() -> ReleasePolicy {
    ReleasePolicy::all_guarded()
}

#[test]
fn a_good_token_releases_to_its_cnf_key() {
    let r = decide(&good_claims(), Some(&host("HOST01", ek(1))), &all()).unwrap();
    assert_eq!(
        r,
        Release {
            host: name("HOST01"),
            key: bound(),
            policy_version: PolicyVersion::V2,
            expires_at: IAT + LIFETIME,
        }
    );
    // Named, v2 minimum, requiring policies it satisfied: still released.
    let p = ReleasePolicy {
        hosts: HostSelector::Names([name("HOST01"), name("HOST02")].into_iter().collect()),
        min_policy_version: PolicyVersion::V2,
        required_sub_statuses: vec![HgsPolicy::CiPolicy, HgsPolicy::SecureBootEnabled],
    };
    assert!(decide(&good_claims(), Some(&host("HOST01", ek(1))), &p).is_ok());
    // At the cut-off itself: released.
    assert!(decide_release(
        &verified(&good_claims()),
        NOW,
        Some(&host("HOST01", ek(1))),
        &p,
        Some(IAT)
    )
    .is_ok());
}

#[test]
fn every_refusal_is_reached_with_its_evidence() {
    let reg = host("HOST01", ek(1));
    let t = verified(&good_claims());

    assert_eq!(
        decide_release(&t, IAT + LIFETIME, Some(&reg), &all(), None),
        Err(Refusal::Expired {
            exp: IAT + LIFETIME,
            now: IAT + LIFETIME
        })
    );

    let mut c = good_claims();
    c.status = AttestationStatus::InsecureHostConfiguration;
    c.ear_status = hgs_attest::EarStatus::Contraindicated;
    c.sub_statuses = vec![SubStatus::SecureBoot];
    assert_eq!(
        decide(&c, Some(&reg), &all()),
        Err(Refusal::NotPassed {
            status: AttestationStatus::InsecureHostConfiguration,
            ear_status: hgs_attest::EarStatus::Contraindicated,
            sub_statuses: vec![SubStatus::SecureBoot],
        })
    );

    assert_eq!(
        decide_release(&t, NOW, Some(&reg), &all(), Some(IAT + 1)),
        Err(Refusal::IssuedBeforeCutoff {
            issued_at: IAT,
            cutoff: IAT + 1
        })
    );

    let mut c = good_claims();
    c.host = None;
    assert_eq!(
        decide(&c, Some(&reg), &all()),
        Err(Refusal::NoHostName {
            ek_fingerprint: ek(1)
        })
    );

    assert_eq!(
        decide(&good_claims(), None, &all()),
        Err(Refusal::HostNotRegistered {
            host: "HOST01".into()
        })
    );

    assert_eq!(
        decide(&good_claims(), Some(&host("HOST02", ek(1))), &all()),
        Err(Refusal::RegistrationMismatch {
            host: "HOST01".into(),
            registered: name("HOST02")
        })
    );

    assert_eq!(
        decide(&good_claims(), Some(&host("HOST01", ek(2))), &all()),
        Err(Refusal::EkMismatch {
            host: name("HOST01"),
            attested: ek(1),
            registered: ek(2)
        })
    );

    let named = ReleasePolicy {
        hosts: HostSelector::Names([name("HOST02")].into_iter().collect()),
        ..all()
    };
    assert_eq!(
        decide(&good_claims(), Some(&reg), &named),
        Err(Refusal::HostNotSelected {
            host: name("HOST01")
        })
    );

    let v2 = ReleasePolicy {
        min_policy_version: PolicyVersion::V2,
        ..all()
    };
    let mut c = good_claims();
    c.policy_version = Some(PolicyVersion::V1);
    assert_eq!(
        decide(&c, Some(&reg), &v2),
        Err(Refusal::PolicyVersionTooLow {
            host: name("HOST01"),
            version: Some(PolicyVersion::V1),
            min: PolicyVersion::V2
        })
    );
    c.policy_version = None;
    assert_eq!(
        decide(&c, Some(&reg), &all()),
        Err(Refusal::PolicyVersionTooLow {
            host: name("HOST01"),
            version: None,
            min: PolicyVersion::V1
        })
    );

    let bitlocker = ReleasePolicy {
        required_sub_statuses: vec![HgsPolicy::CiPolicy, HgsPolicy::BitLockerEnabled],
        ..all()
    };
    assert_eq!(
        decide(&good_claims(), Some(&reg), &bitlocker),
        Err(Refusal::PolicyNotSatisfied {
            host: name("HOST01"),
            policy: HgsPolicy::BitLockerEnabled,
            sub_status: SubStatus::BitLocker
        })
    );

    let mut c = good_claims();
    c.cnf = None;
    assert_eq!(
        decide(&c, Some(&reg), &all()),
        Err(Refusal::NoBoundKey {
            host: name("HOST01")
        })
    );
}

#[test]
fn refusals_display_no_key_material() {
    let reg = host("HOST01", ek(1));
    let mut c = good_claims();
    c.cnf = None;
    let shown = decide(&c, Some(&reg), &all()).unwrap_err().to_string();
    let jwk = bound().to_jwk_json();
    assert!(!shown.contains(&jwk));
    for r in [
        decide(&good_claims(), Some(&host("HOST01", ek(2))), &all()).unwrap_err(),
        decide(&good_claims(), None, &all()).unwrap_err(),
    ] {
        let s = format!("{r} {r:?}");
        let x = match bound() {
            BoundKey::P256(k) => {
                use base64ct::{Base64UrlUnpadded, Encoding};
                Base64UrlUnpadded::encode_string(k.x())
            }
            BoundKey::Rsa(_) => unreachable!(),
        };
        assert!(!s.contains(&x), "{s}");
    }
}

#[test]
fn release_policy_json() {
    let p: ReleasePolicy = serde_json::from_str(
        r#"{"hosts":{"names":["HOST01"]},"min_policy_version":"v2",
            "required_sub_statuses":["Hgs_BitLockerEnabled"]}"#,
    )
    .unwrap();
    assert_eq!(
        p,
        ReleasePolicy {
            hosts: HostSelector::Names([name("HOST01")].into_iter().collect()),
            min_policy_version: PolicyVersion::V2,
            required_sub_statuses: vec![HgsPolicy::BitLockerEnabled],
        }
    );
    let back: ReleasePolicy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let p: ReleasePolicy =
        serde_json::from_str(r#"{"hosts":"all_guarded","min_policy_version":"v1"}"#).unwrap();
    assert_eq!(p, all());
    // A bad host name, an unknown member, an unknown policy: refused.
    for bad in [
        r#"{"hosts":{"names":["bad name"]},"min_policy_version":"v1"}"#,
        r#"{"hosts":"all_guarded","min_policy_version":"v1","extra":1}"#,
        r#"{"hosts":"all_guarded","min_policy_version":"v1","required_sub_statuses":["Hgs_Nope"]}"#,
        r#"{"hosts":"everyone","min_policy_version":"v1"}"#,
    ] {
        assert!(serde_json::from_str::<ReleasePolicy>(bad).is_err(), "{bad}");
    }
}

fn arb_status() -> impl Strategy<Value = AttestationStatus> {
    prop_oneof![
        Just(AttestationStatus::Passed),
        Just(AttestationStatus::InsecureHostConfiguration),
        Just(AttestationStatus::UnauthorizedHost),
        Just(AttestationStatus::TpmError),
    ]
}

fn arb_policies() -> impl Strategy<Value = BTreeSet<HgsPolicy>> {
    prop::collection::btree_set(prop::sample::select(HgsPolicy::ALL.to_vec()), 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_release_implies_passed_fresh_registered_same_ek_and_cnf(
        status in arb_status(),
        token_host in prop::option::of(prop::sample::select(vec!["HOST01", "HOST02"])),
        reg in prop::option::of((prop::sample::select(vec!["HOST01", "HOST02"]), 1u8..3)),
        token_ek in 1u8..3,
        version in prop::option::of(prop::sample::select(vec![PolicyVersion::V1, PolicyVersion::V2])),
        min in prop::sample::select(vec![PolicyVersion::V1, PolicyVersion::V2]),
        policies in arb_policies(),
        required in prop::collection::vec(prop::sample::select(HgsPolicy::ALL.to_vec()), 0..3),
        names in prop::option::of(prop::collection::btree_set(prop::sample::select(vec!["HOST01", "HOST02"]), 0..3)),
        with_cnf in any::<bool>(),
        lifetime in 1u64..400,
        elapsed in 0u64..500,
        cutoff in prop::option::of(IAT - 5..IAT + 5),
    ) {
        let mut c = TokenClaims::new(token_host.map(str::to_owned), ek(token_ek), status, IAT, lifetime);
        c.policy_version = version;
        c.policies = policies;
        if with_cnf {
            c = c.with_bound_key(bound());
        }
        let t = verified(&c);
        let registered = reg.map(|(n, e)| host(n, ek(e)));
        let policy = ReleasePolicy {
            hosts: match names {
                None => HostSelector::AllGuarded,
                Some(n) => HostSelector::Names(n.into_iter().map(name).collect()),
            },
            min_policy_version: min,
            required_sub_statuses: required.clone(),
        };
        let now = IAT + elapsed;
        if let Ok(r) = decide_release(&t, now, registered.as_ref(), &policy, cutoff) {
            let claims = t.claims();
            prop_assert_eq!(claims.status, AttestationStatus::Passed);
            prop_assert!(now < claims.expires_at);
            let reg = registered.as_ref().unwrap();
            prop_assert_eq!(reg.ek_fingerprint, claims.ek_fingerprint);
            prop_assert_eq!(Some(reg.name.as_str()), claims.host.as_deref());
            prop_assert_eq!(&r.host, &reg.name);
            prop_assert_eq!(Some(&r.key), claims.cnf.as_ref());
            prop_assert!(claims.policy_version.is_some_and(|v| v >= min));
            prop_assert!(required.iter().all(|p| claims.policies.contains(p)));
            prop_assert!(cutoff.is_none_or(|c| claims.issued_at >= c));
        }
    }
}
