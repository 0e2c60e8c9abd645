//! TPM2_Certify verification on certifications made by the software AK: good RSA-2048 and P-256
//! decryption keys pass; every reason to refuse one is its own `CertifyError`; and no single-byte
//! change of the attestation, signature or certified public area yields a key the AK did not certify.
#![cfg(feature = "soft")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_tpm::alg::{
    TPM_ALG_ECDSA, TPM_ALG_KEYEDHASH, TPM_ALG_OAEP, TPM_ALG_RSASSA, TPM_ALG_SHA1, TPM_ALG_SHA256,
    TPM_ALG_SHA384,
};
use hgs_tpm::{
    decrypt_key_public, verify_certify, Attest, Attested, CertifiedKey, CertifyError, CertifyPart,
    CertifyRequirements, ClockInfo, DefaultVerifier, EccCurve, Freshness, ObjectAttributes,
    Parameters, Public, PublicKey, RustCryptoVerifier, Scheme, SoftAk, Unique,
    BOUND_KEY_ATTRIBUTES, TPM_ST_ATTEST_CERTIFY,
};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use proptest::prelude::*;

const NONCE: &[u8] = b"certify-challenge-nonce-32-bytes";

fn ak() -> SoftAk {
    SoftAk::from_seed(&[0x11; 32]).unwrap()
}

/// A real RSA-2048 modulus: the Windows AK bundled in tests/data.
fn rsa_key() -> PublicKey {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/windows_gcp_shielded_vm/ak_public.bin");
    Public::parse(&std::fs::read(p).unwrap())
        .unwrap()
        .key()
        .unwrap()
}

fn p256_key(seed: u8) -> PublicKey {
    let secret = p256::SecretKey::from_slice(&[seed; 32]).unwrap();
    let point = secret.public_key().to_encoded_point(false);
    PublicKey::Ecc {
        curve: EccCurve::NistP256,
        x: point.x().unwrap().to_vec(),
        y: point.y().unwrap().to_vec(),
    }
}

fn rsa_public() -> Vec<u8> {
    decrypt_key_public(&rsa_key(), BOUND_KEY_ATTRIBUTES)
}

fn p256_public() -> Vec<u8> {
    decrypt_key_public(&p256_key(3), BOUND_KEY_ATTRIBUTES)
}

fn verify(
    ak_public: &[u8],
    attest: &[u8],
    sig: &[u8],
    public: &[u8],
) -> Result<CertifiedKey, CertifyError> {
    verify_certify(
        ak_public,
        attest,
        sig,
        public,
        &CertifyRequirements {
            freshness: Freshness::Nonce(NONCE),
        },
        &DefaultVerifier,
    )
}

/// The AK certifies `public` with the challenge nonce, and the verifier checks it.
fn certify_and_verify(public: &[u8]) -> Result<CertifiedKey, CertifyError> {
    let ak = ak();
    let (attest, sig) = ak.certify(NONCE, public).unwrap();
    verify(ak.public(), &attest, &sig, public)
}

/// `public` (a TPMT_PUBLIC) with `edit` applied to its parsed form.
fn edited(public: &[u8], edit: impl FnOnce(&mut Public<'_>)) -> Vec<u8> {
    let mut p = Public::parse(public).unwrap();
    edit(&mut p);
    p.encode_tpmt()
}

fn with_attributes(public: &[u8], set: u32, clear: u32) -> Vec<u8> {
    edited(public, |p| {
        p.attributes = ObjectAttributes((p.attributes.0 | set) & !clear)
    })
}

fn with_scheme(public: &[u8], new: Scheme) -> Vec<u8> {
    edited(public, |p| match &mut p.parameters {
        Parameters::Rsa { scheme, .. } | Parameters::Ecc { scheme, .. } => *scheme = new,
        _ => unreachable!(),
    })
}

#[test]
fn a_good_rsa_2048_certification_passes_and_exposes_the_key() {
    let public = rsa_public();
    let key = certify_and_verify(&public).unwrap();
    assert_eq!(key.public_area(), &public[..]);
    assert_eq!(key.name(), Public::parse(&public).unwrap().name().unwrap());
    assert_eq!(&key.name()[..2], &TPM_ALG_SHA256.to_be_bytes());
    assert_eq!(key.key(), &rsa_key());
    assert!(matches!(
        key.key(),
        PublicKey::Rsa {
            exponent: 65537,
            ..
        }
    ));
    assert_eq!(key.attributes(), BOUND_KEY_ATTRIBUTES);
    assert!(key.clock_info().safe);
    assert!(key.nonce_checked());
    assert_eq!(key.qualified_name().len(), 34);
}

#[test]
fn a_good_p256_certification_passes_and_exposes_the_point() {
    let public = p256_public();
    let key = certify_and_verify(&public).unwrap();
    assert_eq!(key.public_area(), &public[..]);
    assert_eq!(key.key(), &p256_key(3));
    assert_eq!(key.key().describe(), "ECC-P256");
}

#[test]
fn a_tpm2b_public_area_and_a_tpm2b_attestation_are_accepted_and_the_area_is_kept_bare() {
    let public = p256_public();
    let ak = ak();
    let (attest, sig) = ak.certify(NONCE, &public).unwrap();
    let mut sized_public = u16::try_from(public.len()).unwrap().to_be_bytes().to_vec();
    sized_public.extend_from_slice(&public);
    let mut sized_attest = u16::try_from(attest.len()).unwrap().to_be_bytes().to_vec();
    sized_attest.extend_from_slice(&attest);
    let key = verify(ak.public(), &sized_attest, &sig, &sized_public).unwrap();
    assert_eq!(key.public_area(), &public[..]);
}

#[test]
fn schemes_null_are_accepted_for_both_key_types() {
    let null = Scheme {
        scheme: hgs_tpm::alg::TPM_ALG_NULL,
        hash: hgs_tpm::alg::TPM_ALG_NULL,
        extra: 0,
    };
    certify_and_verify(&with_scheme(&rsa_public(), null)).unwrap();
    certify_and_verify(&with_scheme(&p256_public(), null)).unwrap();
    // ECDH with a stronger hash, too.
    let ecdh384 = Scheme {
        scheme: hgs_tpm::alg::TPM_ALG_ECDH,
        hash: TPM_ALG_SHA384,
        extra: 0,
    };
    certify_and_verify(&with_scheme(&p256_public(), ecdh384)).unwrap();
}

#[test]
fn without_freshness_a_certification_passes_but_says_so() {
    let public = p256_public();
    let ak = ak();
    let (attest, sig) = ak.certify(b"some other time", &public).unwrap();
    let key = verify_certify(
        ak.public(),
        &attest,
        &sig,
        &public,
        &CertifyRequirements {
            freshness: Freshness::NotChecked,
        },
        &RustCryptoVerifier,
    )
    .unwrap();
    assert!(!key.nonce_checked());
}

#[test]
fn another_nonce_is_refused_with_both_nonces() {
    let public = p256_public();
    let ak = ak();
    let (attest, sig) = ak.certify(b"yesterday's nonce", &public).unwrap();
    assert_eq!(
        verify(ak.public(), &attest, &sig, &public).unwrap_err(),
        CertifyError::NonceMismatch {
            expected: NONCE.to_vec(),
            actual: b"yesterday's nonce".to_vec(),
        }
    );
}

#[test]
fn an_attestation_without_tpm_generated_value_is_refused_with_the_magic_found() {
    let public = p256_public();
    let ak = ak();
    let (mut attest, sig) = ak.certify(NONCE, &public).unwrap();
    attest[3] = 0x00;
    assert_eq!(
        verify(ak.public(), &attest, &sig, &public).unwrap_err(),
        CertifyError::NotTpmGenerated { found: 0xff54_4300 }
    );
    // Inside a TPM2B_ATTEST as well.
    let mut sized = u16::try_from(attest.len()).unwrap().to_be_bytes().to_vec();
    sized.extend_from_slice(&attest);
    assert_eq!(
        verify(ak.public(), &sized, &sig, &public).unwrap_err(),
        CertifyError::NotTpmGenerated { found: 0xff54_4300 }
    );
}

#[test]
fn a_quote_is_not_a_certification() {
    let ak = ak();
    let (attest, sig) = ak
        .quote(
            NONCE,
            &[(hgs_tpm::HashAlg::Sha256, hgs_tpm::PcrSet::EMPTY)],
            |_, _| Some([0u8; 32]),
        )
        .unwrap();
    assert_eq!(
        verify(ak.public(), &attest, &sig, &p256_public()).unwrap_err(),
        CertifyError::NotACertification { tag: 0x8018 }
    );
}

#[test]
fn a_key_that_can_leave_the_tpm_is_refused() {
    for clear in [ObjectAttributes::FIXED_TPM, ObjectAttributes::FIXED_PARENT] {
        let public = with_attributes(&rsa_public(), 0, clear);
        let attributes = Public::parse(&public).unwrap().attributes;
        assert_eq!(
            certify_and_verify(&public).unwrap_err(),
            CertifyError::Duplicable { attributes }
        );
    }
}

#[test]
fn an_imported_key_is_refused() {
    let public = with_attributes(&p256_public(), 0, ObjectAttributes::SENSITIVE_DATA_ORIGIN);
    let attributes = Public::parse(&public).unwrap().attributes;
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::Imported { attributes }
    );
}

#[test]
fn a_key_that_can_sign_or_is_restricted_or_cannot_decrypt_is_refused() {
    let public = with_attributes(&rsa_public(), ObjectAttributes::SIGN_ENCRYPT, 0);
    let attributes = Public::parse(&public).unwrap().attributes;
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::CanSign { attributes }
    );
    let public = with_attributes(&p256_public(), ObjectAttributes::RESTRICTED, 0);
    let attributes = Public::parse(&public).unwrap().attributes;
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::Restricted { attributes }
    );
    let public = with_attributes(&p256_public(), 0, ObjectAttributes::DECRYPT);
    let attributes = Public::parse(&public).unwrap().attributes;
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::NotDecrypt { attributes }
    );
}

#[test]
fn a_sha1_name_is_refused() {
    let public = edited(&p256_public(), |p| p.name_alg = TPM_ALG_SHA1);
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::WeakNameAlg {
            name_alg: TPM_ALG_SHA1
        }
    );
}

#[test]
fn a_keyed_hash_object_is_refused_by_type() {
    let public = Public {
        bytes: &[],
        had_size_prefix: false,
        object_type: TPM_ALG_KEYEDHASH,
        name_alg: TPM_ALG_SHA256,
        attributes: BOUND_KEY_ATTRIBUTES,
        auth_policy: &[],
        parameters: Parameters::KeyedHash {
            scheme: Scheme {
                scheme: hgs_tpm::alg::TPM_ALG_NULL,
                hash: hgs_tpm::alg::TPM_ALG_NULL,
                extra: 0,
            },
        },
        unique: Unique::Digest(&[0xaa; 32]),
    }
    .encode_tpmt();
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::UnsupportedKeyType {
            object_type: TPM_ALG_KEYEDHASH
        }
    );
}

#[test]
fn rsa_keys_of_another_size_or_exponent_are_refused() {
    let mut big = vec![0xc3u8; 384];
    big[383] |= 1;
    let public = decrypt_key_public(
        &PublicKey::Rsa {
            modulus: big,
            exponent: 65537,
        },
        BOUND_KEY_ATTRIBUTES,
    );
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::RsaKeySize {
            key_bits: 3072,
            modulus_bits: 3072
        }
    );
    // 2048 declared, but a modulus with its top bit clear is a 2047-bit key.
    let public = edited(&rsa_public(), |p| {
        p.unique = Unique::Rsa(&[0x7f; 256]);
    });
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::RsaKeySize {
            key_bits: 2048,
            modulus_bits: 2047
        }
    );
    let public = edited(&rsa_public(), |p| {
        if let Parameters::Rsa { exponent, .. } = &mut p.parameters {
            *exponent = 3;
        }
    });
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::RsaExponent { exponent: 3 }
    );
}

#[test]
fn ecc_keys_on_another_curve_or_off_the_curve_are_refused() {
    let secret = p384::SecretKey::from_slice(&[5; 48]).unwrap();
    let point = secret.public_key().to_encoded_point(false);
    let public = decrypt_key_public(
        &PublicKey::Ecc {
            curve: EccCurve::NistP384,
            x: point.x().unwrap().to_vec(),
            y: point.y().unwrap().to_vec(),
        },
        BOUND_KEY_ATTRIBUTES,
    );
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::UnsupportedCurve {
            curve: EccCurve::NistP384
        }
    );
    let public = decrypt_key_public(
        &PublicKey::Ecc {
            curve: EccCurve::NistP256,
            x: vec![1; 32],
            y: vec![1; 32],
        },
        BOUND_KEY_ATTRIBUTES,
    );
    assert_eq!(
        certify_and_verify(&public).unwrap_err(),
        CertifyError::InvalidPoint
    );
}

#[test]
fn signing_schemes_and_oaep_with_sha1_are_refused() {
    for (public, found) in [
        (
            rsa_public(),
            Scheme {
                scheme: TPM_ALG_RSASSA,
                hash: TPM_ALG_SHA256,
                extra: 0,
            },
        ),
        (
            rsa_public(),
            Scheme {
                scheme: TPM_ALG_OAEP,
                hash: TPM_ALG_SHA1,
                extra: 0,
            },
        ),
        (
            p256_public(),
            Scheme {
                scheme: TPM_ALG_ECDSA,
                hash: TPM_ALG_SHA256,
                extra: 0,
            },
        ),
    ] {
        let err = certify_and_verify(&with_scheme(&public, found)).unwrap_err();
        assert!(
            matches!(&err, CertifyError::KeyScheme { found: f, .. } if *f == found),
            "{err:?}"
        );
    }
}

#[test]
fn a_certification_of_another_key_is_refused_with_both_names() {
    let ak = ak();
    let certified = p256_public();
    let presented = decrypt_key_public(&p256_key(4), BOUND_KEY_ATTRIBUTES);
    let (attest, sig) = ak.certify(NONCE, &certified).unwrap();
    assert_eq!(
        verify(ak.public(), &attest, &sig, &presented).unwrap_err(),
        CertifyError::NameMismatch {
            attested: Public::parse(&certified).unwrap().name().unwrap(),
            computed: Public::parse(&presented).unwrap().name().unwrap(),
        }
    );
}

#[test]
fn a_certification_signed_by_another_ak_is_refused() {
    let public = rsa_public();
    let other = SoftAk::from_seed(&[0x22; 32]).unwrap();
    let (attest, sig) = other.certify(NONCE, &public).unwrap();
    let err = verify(ak().public(), &attest, &sig, &public).unwrap_err();
    assert!(
        matches!(
            err,
            CertifyError::BadSignature {
                error: hgs_tpm::Error::BadSignature
            }
        ),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn an_ak_that_is_not_restricted_proves_nothing() {
    let ak = ak();
    let public = p256_public();
    let (attest, sig) = ak.certify(NONCE, &public).unwrap();
    let unrestricted = edited(ak.public(), |p| {
        p.attributes = ObjectAttributes(p.attributes.0 & !ObjectAttributes::RESTRICTED)
    });
    assert_eq!(
        verify(&unrestricted, &attest, &sig, &public).unwrap_err(),
        CertifyError::UnsuitableAk {
            missing: vec!["restricted".into()]
        }
    );
}

#[test]
fn a_signed_attestation_of_another_type_tag_is_refused_even_with_a_certify_body() {
    // A creation attestation whose two TPM2Bs would read as name and qualifiedName.
    let ak = ak();
    let public = p256_public();
    let name = Public::parse(&public).unwrap().name().unwrap();
    let attest = Attest {
        bytes: &[],
        tag: hgs_tpm::TPM_ST_ATTEST_CREATION,
        qualified_signer: &[],
        extra_data: NONCE,
        clock_info: ClockInfo {
            clock: 1,
            reset_count: 0,
            restart_count: 0,
            safe: true,
        },
        firmware_version: 0,
        attested: Attested::Creation {
            object_name: &name,
            creation_hash: &[0; 32],
        },
    }
    .encode();
    let sig = ak.sign_attestation(&attest).unwrap();
    assert_eq!(
        verify(ak.public(), &attest, &sig, &public).unwrap_err(),
        CertifyError::NotACertification { tag: 0x801a }
    );
}

#[test]
fn malformed_parts_say_which_and_round_trip_through_json() {
    let ak = ak();
    let public = p256_public();
    let (attest, sig) = ak.certify(NONCE, &public).unwrap();
    /// (AK public, attestation, signature, certified public, the part refused).
    type Case<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8], CertifyPart);
    let cases: [Case<'_>; 4] = [
        (
            ak.public(),
            &attest[..attest.len() - 1],
            &sig,
            &public,
            CertifyPart::Attestation,
        ),
        (
            ak.public(),
            &attest,
            &sig[..3],
            &public,
            CertifyPart::Signature,
        ),
        (
            ak.public(),
            &attest,
            &sig,
            &public[1..],
            CertifyPart::CertifiedPublic,
        ),
        (
            &ak.public()[..10],
            &attest,
            &sig,
            &public,
            CertifyPart::AkPublic,
        ),
    ];
    for (ak_public, attest, sig, public, expected) in cases {
        let err = verify(ak_public, attest, sig, public).unwrap_err();
        let CertifyError::Malformed { part, .. } = &err else {
            panic!("{expected:?}: {err:?}");
        };
        assert_eq!(*part, expected);
        assert!(std::error::Error::source(&err).is_some());
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(serde_json::from_str::<CertifyError>(&json).unwrap(), err);
    }
    let err = CertifyError::NameMismatch {
        attested: vec![0x00, 0x0b, 0xab],
        computed: vec![0x00, 0x0b, 0xcd],
    };
    let json = serde_json::to_string(&err).unwrap();
    assert_eq!(
        json,
        r#"{"NameMismatch":{"attested":"000bab","computed":"000bcd"}}"#
    );
    assert_eq!(serde_json::from_str::<CertifyError>(&json).unwrap(), err);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The certify info encodes and parses back to itself.
    #[test]
    fn certify_info_round_trips(
        name in proptest::collection::vec(any::<u8>(), 0..=66),
        qualified in proptest::collection::vec(any::<u8>(), 0..=66),
        extra in proptest::collection::vec(any::<u8>(), 0..=64),
        clock in any::<u64>(),
        firmware in any::<u64>(),
    ) {
        let attest = Attest {
            bytes: &[],
            tag: TPM_ST_ATTEST_CERTIFY,
            qualified_signer: &[0x00, 0x0b],
            extra_data: &extra,
            clock_info: ClockInfo { clock, reset_count: 7, restart_count: 9, safe: false },
            firmware_version: firmware,
            attested: Attested::Certify { name: &name, qualified_name: &qualified },
        };
        let bytes = attest.encode();
        let parsed = Attest::parse(&bytes).unwrap();
        prop_assert_eq!(parsed.bytes, &bytes[..]);
        prop_assert_eq!(Attest { bytes: &[], ..parsed }, attest);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes in every input are refused with a typed error, never a panic.
    #[test]
    fn arbitrary_inputs_are_refused(
        ak_public in proptest::collection::vec(any::<u8>(), 0..200),
        attest in proptest::collection::vec(any::<u8>(), 0..200),
        sig in proptest::collection::vec(any::<u8>(), 0..100),
        public in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        prop_assert!(verify(&ak_public, &attest, &sig, &public).is_err());
        // With the real AK and public area, arbitrary attestation and signature bytes.
        prop_assert!(verify(ak().public(), &attest, &sig, &p256_public()).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Security invariant: Ok implies the certified key's Name was signed by the AK. No single
    /// changed byte of the attestation, the signature or the certified public area yields a key
    /// other than the certified one (in fact none yields Ok at all but for an unchanged key).
    #[test]
    fn one_changed_byte_never_yields_another_key(
        rsa in any::<bool>(),
        part in 0usize..3,
        at in any::<usize>(),
        xor in 1u8..=255,
    ) {
        let public = if rsa { rsa_public() } else { p256_public() };
        let ak = ak();
        let (mut attest, mut sig) = ak.certify(NONCE, &public).unwrap();
        let good_name = Public::parse(&public).unwrap().name().unwrap();
        let mut presented = public.clone();
        let target = match part {
            0 => &mut attest,
            1 => &mut sig,
            _ => &mut presented,
        };
        let i = at % target.len();
        target[i] ^= xor;
        if let Ok(key) = verify(ak.public(), &attest, &sig, &presented) {
            prop_assert_eq!(key.name(), &good_name[..]);
            prop_assert_eq!(key.public_area(), &public[..]);
        }
        prop_assert!(verify(ak.public(), &attest, &sig, &presented).is_err());
    }
}
