//! The key releases are encrypted to, through `evaluate`: a decryption key the AK certified for
//! this challenge, or the one VSM identity key of the quoted log — and every way an attacker
//! would present another key (from a second TPM, duplicable, signing, imported, for another
//! nonce, or one of several IDKs) binds nothing or fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_attest::policy::BaselineProfile;
use hgs_attest::policy::{
    CiPolicyRegistration, EkCertificateCheck, PolicyVersion, TpmBaseline, TpmHost,
};
use hgs_attest::{
    AttestationStatus, BoundKey, BoundKeyEvidence, BoundKeySource, Challenge, CheckId,
    CheckOutcome, Evidence, Failure, Host, PcrSet, QuoteEvidence, TokenClaims, Verdict,
    DEFAULT_PCRS,
};
use hgs_keys::{SoftP256Key, SoftRsaKey};
use hgs_tcglog::EventLog;
use hgs_testkit::synthetic::WindowsBoot;
use hgs_tpm::{
    decrypt_key_public, CertifyError, EccCurve, HashAlg, ObjectAttributes, Public, PublicKey,
    SoftAk, BOUND_KEY_ATTRIBUTES,
};
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;
const NONCE: [u8; 32] = [0x42; 32];
const CI_DIGEST: [u8; 32] = [0x5a; 32];
const FP: hgs_attest::EkFingerprint = hgs_attest::EkFingerprint::from_bytes([0x5a; 32]);

fn ak() -> SoftAk {
    SoftAk::from_seed(&[3; 32]).unwrap()
}

fn host() -> TpmHost {
    TpmHost {
        name: hgs_attest::policy::Name::new("h1").unwrap(),
        policy_version: PolicyVersion::V1,
        ekpub: Vec::new(),
        ek_fingerprint: FP,
        ek_key_type: "RSA-2048".into(),
        ek_certificate: None,
        ek_certificate_check: EkCertificateCheck::Missing,
        forced: true,
    }
}

fn challenge(pcrs: PcrSet) -> Challenge {
    Challenge {
        host: "h1".into(),
        ek_fingerprint: Some(FP),
        ak_name: Public::parse(ak().public()).unwrap().name().unwrap(),
        nonce: NONCE.to_vec(),
        pcrs,
        banks: vec![HashAlg::Sha256],
        issued_at: NOW - 10,
    }
}

fn healthy() -> WindowsBoot {
    WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, CI_DIGEST.to_vec())),
        ..WindowsBoot::default()
    }
}

/// Evidence of `boot` quoted by the AK over `pcrs` (SHA-256), with no bound key.
fn evidence(boot: &WindowsBoot, pcrs: PcrSet) -> Evidence {
    let log = boot.build();
    let replayed = hgs_tcglog::replay(&EventLog::parse(&log).unwrap()).unwrap();
    let (attest, signature) = ak()
        .quote(&NONCE, &[(HashAlg::Sha256, pcrs)], |_, p| {
            Some(
                replayed
                    .get(HashAlg::Sha256, p)
                    .map_or_else(|| vec![0; 32], <[u8]>::to_vec),
            )
        })
        .unwrap();
    Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public: ak().public().to_vec(),
        quotes: vec![QuoteEvidence {
            bank: Some(HashAlg::Sha256),
            pcrs: pcrs.to_vec(),
            attest,
            signature,
        }],
        pcr_values: Default::default(),
        event_log: log,
        bound_key: None,
    }
}

/// `e` with `public` certified by `by` for `nonce`.
fn certified(mut e: Evidence, public: &[u8], by: &SoftAk, nonce: &[u8]) -> Evidence {
    let (attest, signature) = by.certify(nonce, public).unwrap();
    e.bound_key = Some(BoundKeyEvidence {
        public: public.to_vec(),
        attest,
        signature,
    });
    e
}

fn judge(c: &Challenge, e: &Evidence) -> Verdict {
    let reference = healthy().build();
    let baselines = [TpmBaseline::from_reference_log(
        "class",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &reference,
        false,
    )
    .unwrap()];
    let ci = [
        CiPolicyRegistration::from_reference_log("ci", PolicyVersion::V1, &reference, None)
            .unwrap(),
    ];
    let hosts = [host()];
    hgs_attest::evaluate(
        &Host {
            challenge: c,
            evidence: e,
            registered: &hosts,
            now: NOW,
        },
        &baselines,
        &ci,
    )
}

fn rsa_key() -> SoftRsaKey {
    // Fixed primes would do as well; a generated key keeps the test honest about any key.
    SoftRsaKey::generate(&mut rand_core::OsRng).unwrap()
}

fn tpm_public(key: &BoundKey, attributes: ObjectAttributes) -> Vec<u8> {
    let public = match key {
        BoundKey::Rsa(k) => PublicKey::Rsa {
            modulus: k.n().to_vec(),
            exponent: 65537,
        },
        BoundKey::P256(k) => PublicKey::Ecc {
            curve: EccCurve::NistP256,
            x: k.x().to_vec(),
            y: k.y().to_vec(),
        },
    };
    decrypt_key_public(&public, attributes)
}

fn refusal(v: &Verdict) -> &CertifyError {
    v.failures
        .iter()
        .find_map(|f| match f {
            Failure::BoundKeyRefused { error } => Some(error),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no bound-key refusal: {v}"))
}

fn outcome(v: &Verdict) -> &CheckOutcome {
    &v.checks
        .iter()
        .find(|c| c.name == CheckId::BoundKey)
        .unwrap_or_else(|| panic!("no bound_key check: {v}"))
        .outcome
}

#[test]
fn a_certified_rsa_key_is_the_verdicts_bound_key_and_the_tokens_cnf() {
    let key = rsa_key();
    let public = tpm_public(key.bound_key(), BOUND_KEY_ATTRIBUTES);
    let e = certified(evidence(&healthy(), DEFAULT_PCRS), &public, &ak(), &NONCE);
    let v = judge(&challenge(DEFAULT_PCRS), &e);
    assert!(v.passed(), "{v}");
    assert_eq!(v.bound_key.as_ref(), Some(key.bound_key()));
    assert_eq!(v.bound_key_source, Some(BoundKeySource::Certified));
    assert!(matches!(outcome(&v), CheckOutcome::Passed { .. }));
    let claims = TokenClaims::from_verdict(&v, &FP, NOW, 3600);
    assert_eq!(claims.cnf.as_ref(), Some(key.bound_key()));

    // What a key service encrypts to the verdict's key, the certified key's holder opens.
    let jwe = hgs_keys::encrypt(
        v.bound_key.as_ref().unwrap(),
        b"vm key",
        &mut rand_core::OsRng,
    )
    .unwrap();
    let mut holder = key;
    let bound = holder.bound_key().clone();
    assert_eq!(
        hgs_keys::decrypt(&jwe, &bound, &mut holder)
            .unwrap()
            .as_slice(),
        b"vm key"
    );
}

#[test]
fn a_certified_p256_key_is_the_verdicts_bound_key() {
    let key = SoftP256Key::generate(&mut rand_core::OsRng).unwrap();
    let public = tpm_public(key.bound_key(), BOUND_KEY_ATTRIBUTES);
    let e = certified(evidence(&healthy(), DEFAULT_PCRS), &public, &ak(), &NONCE);
    let v = judge(&challenge(DEFAULT_PCRS), &e);
    assert!(v.passed(), "{v}");
    assert_eq!(v.bound_key.as_ref(), Some(key.bound_key()));
}

#[test]
fn a_key_certified_by_another_tpms_ak_is_a_relay_and_fails_the_attestation() {
    let key = rsa_key();
    let public = tpm_public(key.bound_key(), BOUND_KEY_ATTRIBUTES);
    let other_tpm = SoftAk::from_seed(&[9; 32]).unwrap();
    let e = certified(
        evidence(&healthy(), DEFAULT_PCRS),
        &public,
        &other_tpm,
        &NONCE,
    );
    let v = judge(&challenge(DEFAULT_PCRS), &e);
    assert_eq!(v.status, AttestationStatus::TpmError, "{v}");
    assert!(
        matches!(refusal(&v), CertifyError::BadSignature { .. }),
        "{v}"
    );
    assert_eq!(v.bound_key, None);
    assert_eq!(TokenClaims::from_verdict(&v, &FP, NOW, 3600).cnf, None);
}

#[test]
fn a_certification_for_another_nonce_is_refused() {
    let key = rsa_key();
    let public = tpm_public(key.bound_key(), BOUND_KEY_ATTRIBUTES);
    let e = certified(
        evidence(&healthy(), DEFAULT_PCRS),
        &public,
        &ak(),
        &[0x43; 32],
    );
    let v = judge(&challenge(DEFAULT_PCRS), &e);
    assert!(!v.passed());
    assert!(
        matches!(refusal(&v), CertifyError::NonceMismatch { .. }),
        "{v}"
    );
    assert_eq!(v.bound_key, None);
}

#[test]
fn a_duplicable_signing_or_imported_key_is_refused_each_with_its_reason() {
    let key = rsa_key();
    let base = BOUND_KEY_ATTRIBUTES.0;
    type Want = fn(&CertifyError) -> bool;
    let cases: [(u32, Want); 4] = [
        (base & !ObjectAttributes::FIXED_TPM, |e| {
            matches!(e, CertifyError::Duplicable { .. })
        }),
        (base & !ObjectAttributes::FIXED_PARENT, |e| {
            matches!(e, CertifyError::Duplicable { .. })
        }),
        (base | ObjectAttributes::SIGN_ENCRYPT, |e| {
            matches!(e, CertifyError::CanSign { .. })
        }),
        (base & !ObjectAttributes::SENSITIVE_DATA_ORIGIN, |e| {
            matches!(e, CertifyError::Imported { .. })
        }),
    ];
    for (attributes, want) in cases {
        let public = tpm_public(key.bound_key(), ObjectAttributes(attributes));
        let e = certified(evidence(&healthy(), DEFAULT_PCRS), &public, &ak(), &NONCE);
        let v = judge(&challenge(DEFAULT_PCRS), &e);
        assert_eq!(
            v.status,
            AttestationStatus::TpmError,
            "{attributes:#x}: {v}"
        );
        assert!(want(refusal(&v)), "{attributes:#x}: {v}");
        assert_eq!(v.bound_key, None);
    }
}

#[test]
fn without_a_certified_key_the_quoted_vsm_idk_is_the_bound_key() {
    let v = judge(
        &challenge(DEFAULT_PCRS),
        &evidence(&healthy(), DEFAULT_PCRS),
    );
    assert!(v.passed(), "{v}");
    let Some(BoundKey::Rsa(k)) = &v.bound_key else {
        panic!("no RSA bound key: {v}");
    };
    assert_eq!(k.n(), &[0xc5; 256][..]);
    assert!(
        matches!(
            v.bound_key_source,
            Some(BoundKeySource::VsmIdk { pcr: 12, .. })
        ),
        "{v}"
    );
}

#[test]
fn a_log_with_two_vsm_idks_binds_nothing() {
    let boot = WindowsBoot {
        extra_vsm_idks: 1,
        ..healthy()
    };
    let v = judge(&challenge(DEFAULT_PCRS), &evidence(&boot, DEFAULT_PCRS));
    assert_eq!(v.bound_key, None, "{v}");
    assert!(
        matches!(outcome(&v), CheckOutcome::Skipped { detail } if detail.contains("2 VSM identity key records")),
        "{v}"
    );
}

#[test]
fn an_idk_on_a_pcr_the_quote_does_not_cover_binds_nothing() {
    let narrow = PcrSet::of(&[0, 1, 2, 3, 4, 5, 6, 7, 11, 13, 14]);
    let v = judge(&challenge(narrow), &evidence(&healthy(), narrow));
    assert!(!v.passed(), "PCR 12 is required: {v}");
    assert_eq!(v.bound_key, None, "{v}");
    assert_eq!(v.bound_key_source, None);
}

#[test]
fn a_log_without_an_idk_and_no_certified_key_binds_nothing() {
    let boot = WindowsBoot {
        vsm_idk: false,
        ..healthy()
    };
    let v = judge(&challenge(DEFAULT_PCRS), &evidence(&boot, DEFAULT_PCRS));
    assert_eq!(v.bound_key, None, "{v}");
    assert!(matches!(outcome(&v), CheckOutcome::Skipped { .. }), "{v}");
    assert_eq!(TokenClaims::from_verdict(&v, &FP, NOW, 3600).cnf, None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Flipping any bit of the certification or of the public area presented never yields a
    /// bound key other than the one the AK certified: either the same key, or none (refused).
    #[test]
    fn a_tampered_certification_binds_the_certified_key_or_nothing(
        part in 0usize..3,
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key = SoftP256Key::from_scalar_bytes(&[7; 32]).unwrap();
        let public = tpm_public(key.bound_key(), BOUND_KEY_ATTRIBUTES);
        let mut e = certified(evidence(&healthy(), DEFAULT_PCRS), &public, &ak(), &NONCE);
        let b = e.bound_key.as_mut().unwrap();
        let bytes = match part {
            0 => &mut b.public,
            1 => &mut b.attest,
            _ => &mut b.signature,
        };
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let v = judge(&challenge(DEFAULT_PCRS), &e);
        match &v.bound_key {
            None => prop_assert!(!v.passed()),
            Some(k) => prop_assert_eq!(k, key.bound_key()),
        }
    }
}
