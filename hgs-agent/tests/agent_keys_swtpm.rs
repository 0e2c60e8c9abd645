//! The agent's bound key on a real (software) TPM, through the agent's own code paths: the
//! state directory keeps it (0600), every challenge answer certifies it by the AK with the nonce
//! the credential carried, the evidence's certification verifies with `hgs_tpm::verify_certify`
//! and passes `Attestor::evaluate` with the key in the verdict; a JWE made with
//! `hgs_keys::encrypt` to it decrypts through the TPM (`TpmUnwrap`), RSA and P-256; and a key
//! certified by another TPM's AK (a relay) does not verify as this host's.
#![cfg(feature = "tpm")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_agent::tpm::ak::{create_ak, AkState};
use hgs_agent::tpm::answer::answer;
use hgs_agent::tpm::bound_key::{certify_bound_key, create_bound_key, BoundKeyKind};
use hgs_agent::tpm::ek::{platform_eks, EkProfile};
use hgs_agent::tpm::key_state::{bound_key_path, ensure_bound_key, load_bound_key, KeyOrigin};
use hgs_agent::tpm::pcr::replay_log;
use hgs_agent::tpm::unwrap::{TpmUnwrap, UnwrapError};
use hgs_agent::tpm::Tpm;
use hgs_attest::policy::{
    register_host, BaselineProfile, CiPolicyRegistration, EkCertificateCheck, PolicyVersion,
    RegistrationOptions, TpmBaseline, TpmHost,
};
use hgs_attest::{new_challenge, Challenge, ChallengeMessage, Evidence};
use hgs_keys::JweError;
use hgs_testkit::swtpm::Swtpm;
use hgs_testkit::synthetic::WindowsBoot;
use hgs_tpm::{
    verify_certify, CertifiedKey, CertifyError, CertifyRequirements, DefaultVerifier, Freshness,
    HashAlg,
};

const ENFORCED: &str = "aaronlocker__SiPolicy-Block__2579f3f8.p7b";

fn corpus(sub: &str) -> PathBuf {
    hgs_testkit::corpus(sub)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hgs-agent-keys-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ci_policy() -> CiPolicyRegistration {
    CiPolicyRegistration::from_policy_file(
        "enforced",
        PolicyVersion::V1,
        &std::fs::read(corpus("cipolicy").join(ENFORCED)).unwrap(),
    )
    .unwrap()
}

/// A healthy boot running the enforced corpus policy (SI_POLICY carries its SHA-256 digest).
fn healthy_boot() -> WindowsBoot {
    let digest = hgs_tpm::hex::decode(&ci_policy().digests[&HashAlg::Sha256]).unwrap();
    WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, digest)),
        ..WindowsBoot::default()
    }
}

/// A software TPM that booted a healthy log, its EK registered (v1), an AK under `ek`.
struct Host {
    _sw: Swtpm,
    tpm: Tpm,
    ak: AkState,
    registered: TpmHost,
    log: Vec<u8>,
}

impl Host {
    fn boot(ek: EkProfile) -> Host {
        let sw = Swtpm::start().unwrap();
        let mut tpm = Tpm::open(&sw.tcti()).unwrap();
        let log = healthy_boot().build();
        replay_log(&mut tpm, &log).unwrap();
        let eks = platform_eks(&mut tpm).unwrap();
        let e = eks.iter().find(|e| e.profile == ek).unwrap();
        let ak = create_ak(&mut tpm, ek).unwrap();
        let registered = register_host(
            "host1",
            e.public.as_deref().unwrap(),
            e.certificate.as_deref(),
            EkCertificateCheck::Missing,
            RegistrationOptions {
                version: PolicyVersion::V1,
                force: true,
            },
            &[],
        )
        .unwrap();
        Host {
            _sw: sw,
            tpm,
            ak,
            registered,
            log,
        }
    }

    fn challenge(&self) -> (Challenge, ChallengeMessage) {
        let mut request = hgs_attest::ChallengeRequest::new(
            hgs_attest::Attestor::new().required_pcrs(&[]),
            now(),
        );
        request.banks = &[HashAlg::Sha256];
        new_challenge(
            &self.registered,
            &self.ak.public_bytes().unwrap(),
            &request,
            &mut rand_core::OsRng,
        )
        .unwrap()
    }
}

fn verify(ak: &AkState, e: &Evidence, nonce: &[u8]) -> Result<CertifiedKey, CertifyError> {
    let b = e
        .bound_key
        .as_ref()
        .expect("the evidence carries a bound key");
    verify_certify(
        &ak.public_bytes().unwrap(),
        &b.attest,
        &b.signature,
        &b.public,
        &CertifyRequirements {
            freshness: Freshness::Nonce(nonce),
        },
        &DefaultVerifier,
    )
}

fn evidence_certifies_the_saved_key_with_the_challenge_nonce(ek: EkProfile, kind: BoundKeyKind) {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    let mut host = Host::boot(ek);
    let state = tempdir(&format!("evidence-{}", kind.name()));

    // First use: no key yet, one is created and saved owner-only.
    let (key, origin) = ensure_bound_key(&mut host.tpm, &state, &host.ak, Some(kind)).unwrap();
    assert_eq!(origin, KeyOrigin::Created);
    assert_eq!(key.kind, kind);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(bound_key_path(&state))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the bound key's state file is owner-only"
        );
    }
    // Next use: the same key, from the file.
    let (again, origin) = ensure_bound_key(&mut host.tpm, &state, &host.ak, None).unwrap();
    assert_eq!(origin, KeyOrigin::Saved);
    assert_eq!(again, key);
    assert_eq!(load_bound_key(&state).unwrap(), Some(key.clone()));

    let (challenge, msg) = host.challenge();
    let e = answer(&mut host.tpm, &msg, &host.log, &host.ak, Some(&key)).unwrap();
    let certified = verify(&host.ak, &e, &challenge.nonce).unwrap();
    assert_eq!(certified.public_area(), &key.public[..]);

    // Fresh for this challenge only.
    let (other_challenge, _) = host.challenge();
    assert!(matches!(
        verify(&host.ak, &e, &other_challenge.nonce),
        Err(CertifyError::NonceMismatch { .. })
    ));

    // The evaluator takes the key from the evidence and names it in the verdict: the key the
    // service's token will carry as `cnf`.
    let baselines = vec![TpmBaseline::from_reference_log(
        "class",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &host.log,
        false,
    )
    .unwrap()];
    let verdict = hgs_attest::Attestor::new().evaluate(
        &hgs_attest::Host {
            challenge: &challenge,
            evidence: &e,
            registered: std::slice::from_ref(&host.registered),
            now: now(),
        },
        &baselines,
        &[ci_policy()],
    );
    assert!(verdict.passed(), "{verdict}");
    assert_eq!(verdict.bound_key.as_ref(), Some(&key.jwk().unwrap()));
    assert_eq!(
        verdict.bound_key_source,
        Some(hgs_attest::BoundKeySource::Certified)
    );
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn an_rsa_bound_key_is_saved_once_and_certified_in_each_answer_with_its_nonce() {
    evidence_certifies_the_saved_key_with_the_challenge_nonce(
        EkProfile::RsaL1,
        BoundKeyKind::Rsa2048,
    );
}

#[test]
fn a_p256_bound_key_under_the_ecc_ak_is_certified_in_each_answer_with_its_nonce() {
    evidence_certifies_the_saved_key_with_the_challenge_nonce(
        EkProfile::EccP256L2,
        BoundKeyKind::EccP256,
    );
}

#[test]
fn a_state_dir_without_a_bound_key_gets_one_and_a_key_under_an_old_ek_is_replaced() {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    let mut host = Host::boot(EkProfile::RsaL1);
    let state = tempdir("replace");
    assert_eq!(load_bound_key(&state).unwrap(), None);
    // Default: RSA-2048.
    let (rsa, origin) = ensure_bound_key(&mut host.tpm, &state, &host.ak, None).unwrap();
    assert_eq!(
        (origin, rsa.kind),
        (KeyOrigin::Created, BoundKeyKind::Rsa2048)
    );
    // Another kind asked for: replaced.
    let (ecc, origin) =
        ensure_bound_key(&mut host.tpm, &state, &host.ak, Some(BoundKeyKind::EccP256)).unwrap();
    assert_eq!(
        (origin, ecc.kind),
        (KeyOrigin::Replaced, BoundKeyKind::EccP256)
    );
    // The AK moved to the ECC EK: the key follows it (same kind).
    let ecc_ak = create_ak(&mut host.tpm, EkProfile::EccP256L2).unwrap();
    let (moved, origin) = ensure_bound_key(&mut host.tpm, &state, &ecc_ak, None).unwrap();
    assert_eq!(origin, KeyOrigin::Replaced);
    assert_eq!(
        (moved.ek, moved.kind),
        (EkProfile::EccP256L2, BoundKeyKind::EccP256)
    );
    assert_ne!(moved.public, ecc.public);
    std::fs::remove_dir_all(&state).unwrap();
}

fn a_jwe_to_the_bound_key_decrypts_in_the_tpm(kind: BoundKeyKind) {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    let sw = Swtpm::start().unwrap();
    let mut tpm = Tpm::open(&sw.tcti()).unwrap();
    let key = create_bound_key(&mut tpm, EkProfile::RsaL1, kind).unwrap();
    let jwk = key.jwk().unwrap();
    let secret = b"the VM's disk key, for this host only";
    let jwe = hgs_keys::encrypt(&jwk, secret, &mut rand_core::OsRng).unwrap();
    let plain = hgs_keys::decrypt(&jwe, &jwk, &mut TpmUnwrap::new(&mut tpm, &key)).unwrap();
    assert_eq!(plain, secret);

    // A JWE to another key of this TPM is refused by its kid before the TPM is asked.
    let other = create_bound_key(&mut tpm, EkProfile::RsaL1, kind).unwrap();
    let to_other = hgs_keys::encrypt(&other.jwk().unwrap(), secret, &mut rand_core::OsRng).unwrap();
    assert!(matches!(
        hgs_keys::decrypt(&to_other, &jwk, &mut TpmUnwrap::new(&mut tpm, &key)),
        Err(JweError::WrongRecipient { .. })
    ));
    // ... and if presented as the other key's (the kid then matches), the TPM's private
    // operation yields nothing that authenticates: no plaintext.
    let e = hgs_keys::decrypt(
        &to_other,
        &other.jwk().unwrap(),
        &mut TpmUnwrap::new(&mut tpm, &key),
    )
    .unwrap_err();
    match e {
        JweError::Unwrap(source) => {
            // RSA: OAEP decoding fails in the TPM, a typed TPM error.
            let e = source.downcast_ref::<UnwrapError>().unwrap();
            assert!(matches!(e, UnwrapError::Tpm(_)), "{e:?}");
        }
        // P-256: the TPM computes another Z; the key unwrap's integrity check fails.
        JweError::KeyUnwrapIntegrity | JweError::Authentication => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_jwe_to_the_rsa_bound_key_decrypts_through_tpm2_rsa_decrypt() {
    a_jwe_to_the_bound_key_decrypts_in_the_tpm(BoundKeyKind::Rsa2048);
}

#[test]
fn a_jwe_to_the_p256_bound_key_decrypts_through_tpm2_ecdh_zgen() {
    a_jwe_to_the_bound_key_decrypts_in_the_tpm(BoundKeyKind::EccP256);
}

#[test]
fn a_jwe_for_the_other_key_type_is_refused_without_asking_the_tpm() {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    let sw = Swtpm::start().unwrap();
    let mut tpm = Tpm::open(&sw.tcti()).unwrap();
    let key = create_bound_key(&mut tpm, EkProfile::RsaL1, BoundKeyKind::EccP256).unwrap();
    use hgs_keys::KeyUnwrap as _;
    let e = TpmUnwrap::new(&mut tpm, &key)
        .rsa_oaep_decrypt(&[0u8; 256])
        .unwrap_err();
    assert!(matches!(
        e,
        UnwrapError::WrongKeyType {
            key: BoundKeyKind::EccP256,
            ..
        }
    ));
}

#[test]
fn a_bound_key_certified_by_another_tpms_ak_does_not_verify_as_this_hosts() {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    // The host under attestation, and a relay: a second machine whose TPM certifies its own key
    // with the same nonce, hoping the verifier encrypts to a key the attacker's TPM holds.
    let mut host = Host::boot(EkProfile::RsaL1);
    let relay_sw = Swtpm::start().unwrap();
    let mut relay = Tpm::open(&relay_sw.tcti()).unwrap();
    let relay_ak = create_ak(&mut relay, EkProfile::RsaL1).unwrap();
    let relay_key = create_bound_key(&mut relay, EkProfile::RsaL1, BoundKeyKind::Rsa2048).unwrap();

    let (challenge, msg) = host.challenge();
    let mut e = answer(&mut host.tpm, &msg, &host.log, &host.ak, None).unwrap();
    assert!(e.bound_key.is_none());
    let relayed = certify_bound_key(&mut relay, &relay_ak, &relay_key, &challenge.nonce).unwrap();
    e.bound_key = Some(hgs_attest::BoundKeyEvidence {
        public: relayed.public.clone(),
        attest: relayed.attest.clone(),
        signature: relayed.signature.clone(),
    });
    // Against the AK that signed the host's quotes, the relay's certification fails...
    let refused = verify(&host.ak, &e, &challenge.nonce);
    assert!(
        matches!(refused, Err(CertifyError::BadSignature { .. })),
        "{refused:?}"
    );
    // ... though it is a good certification by the relay's own AK.
    let relay_e = Evidence {
        ak_public: relay_ak.public_bytes().unwrap(),
        ..e.clone()
    };
    verify(&relay_ak, &relay_e, &challenge.nonce).unwrap();

    // The evaluator refuses the host's evidence carrying it: no key reaches the verdict.
    let baselines = vec![TpmBaseline::from_reference_log(
        "class",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &host.log,
        false,
    )
    .unwrap()];
    let verdict = hgs_attest::Attestor::new().evaluate(
        &hgs_attest::Host {
            challenge: &challenge,
            evidence: &e,
            registered: std::slice::from_ref(&host.registered),
            now: now(),
        },
        &baselines,
        &[ci_policy()],
    );
    assert!(verdict.bound_key.is_none(), "{verdict}");
    assert_eq!(
        verdict.status,
        hgs_attest::AttestationStatus::TpmError,
        "{verdict}"
    );
    assert!(
        verdict.failures.iter().any(|f| matches!(
            f,
            hgs_attest::Failure::BoundKeyRefused {
                error: CertifyError::BadSignature { .. }
            }
        )),
        "{verdict}"
    );
}
