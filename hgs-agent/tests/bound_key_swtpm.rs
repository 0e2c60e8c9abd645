//! A bound decryption key on a real (software) TPM: created under the EK, certified by the AK
//! with TPM2_Certify, the certification verifies with `hgs_tpm::verify_certify`; a secret
//! encrypted in software (RSA-OAEP/SHA-256) to the certified key decrypts in the TPM, and the
//! TPM's ECDH Z equals software ECDH with the certified point.
#![cfg(feature = "tpm")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_agent::tpm::ak::{create_ak, AkState};
use hgs_agent::tpm::bound_key::{
    certify_bound_key, create_bound_key, ecdh_zgen, rsa_decrypt, BoundKeyKind,
};
use hgs_agent::tpm::ek::EkProfile;
use hgs_agent::tpm::Tpm;
use hgs_testkit::swtpm::Swtpm;
use hgs_tpm::{
    verify_certify, CertifiedKey, CertifyError, CertifyRequirements, DefaultVerifier, EccCurve,
    Freshness, PublicKey, BOUND_KEY_ATTRIBUTES,
};

const NONCE: &[u8] = b"bound-key-challenge-nonce-32byte";

fn verify(
    ak: &AkState,
    public: &[u8],
    attest: &[u8],
    signature: &[u8],
    nonce: &[u8],
) -> Result<CertifiedKey, CertifyError> {
    verify_certify(
        &ak.public_bytes().unwrap(),
        attest,
        signature,
        public,
        &CertifyRequirements {
            freshness: Freshness::Nonce(nonce),
        },
        &DefaultVerifier,
    )
}

#[test]
fn an_rsa_bound_key_certified_by_the_rsa_ak_verifies_and_decrypts_an_oaep_secret() {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    let sw = Swtpm::start().unwrap();
    let mut tpm = Tpm::open(&sw.tcti()).unwrap();
    let ak = create_ak(&mut tpm, EkProfile::RsaL1).unwrap();
    let key = create_bound_key(&mut tpm, EkProfile::RsaL1, BoundKeyKind::Rsa2048).unwrap();
    let cert = certify_bound_key(&mut tpm, &ak, &key, NONCE).unwrap();
    assert_eq!(cert.public, key.public);

    let certified = verify(&ak, &cert.public, &cert.attest, &cert.signature, NONCE).unwrap();
    assert_eq!(certified.public_area(), &key.public[..]);
    assert_eq!(certified.attributes(), BOUND_KEY_ATTRIBUTES);
    let PublicKey::Rsa { modulus, exponent } = certified.key() else {
        panic!("not RSA: {:?}", certified.key());
    };
    assert_eq!(modulus.len(), 256);

    // Another nonce is refused: the certification is fresh for this challenge only.
    assert!(matches!(
        verify(
            &ak,
            &cert.public,
            &cert.attest,
            &cert.signature,
            b"another nonce"
        ),
        Err(CertifyError::NonceMismatch { .. })
    ));

    let public = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(modulus),
        rsa::BigUint::from(*exponent),
    )
    .unwrap();
    let secret = b"a secret only this TPM can read";
    let ciphertext = public
        .encrypt(
            &mut rand_core::OsRng,
            rsa::Oaep::new::<sha2::Sha256>(),
            secret,
        )
        .unwrap();
    assert_eq!(rsa_decrypt(&mut tpm, &key, &ciphertext).unwrap(), secret);

    // A ciphertext altered in transit does not decrypt.
    let mut altered = ciphertext.clone();
    altered[100] ^= 1;
    assert!(rsa_decrypt(&mut tpm, &key, &altered).is_err());
}

#[test]
fn a_p256_bound_key_certified_by_the_ecc_ak_verifies_and_its_zgen_equals_software_ecdh() {
    if !hgs_testkit::swtpm_available() {
        return;
    }
    let sw = Swtpm::start().unwrap();
    let mut tpm = Tpm::open(&sw.tcti()).unwrap();
    let ak = create_ak(&mut tpm, EkProfile::EccP256L2).unwrap();
    let key = create_bound_key(&mut tpm, EkProfile::EccP256L2, BoundKeyKind::EccP256).unwrap();
    let cert = certify_bound_key(&mut tpm, &ak, &key, NONCE).unwrap();

    let certified = verify(&ak, &cert.public, &cert.attest, &cert.signature, NONCE).unwrap();
    assert_eq!(certified.attributes(), BOUND_KEY_ATTRIBUTES);
    let PublicKey::Ecc {
        curve: EccCurve::NistP256,
        x,
        y,
    } = certified.key()
    else {
        panic!("not P-256: {:?}", certified.key());
    };
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    let bound = p256::PublicKey::from_sec1_bytes(&sec1).unwrap();

    // The verifier's ephemeral key, and the shared secret it computes.
    let ephemeral = p256::SecretKey::random(&mut rand_core::OsRng);
    let expected = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), bound.as_affine());
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let point = ephemeral.public_key().to_encoded_point(false);
    let z = ecdh_zgen(
        &mut tpm,
        &key,
        point.x().unwrap().as_slice(),
        point.y().unwrap().as_slice(),
    )
    .unwrap();
    assert_eq!(z, expected.raw_secret_bytes().as_slice());

    // A second key's public area does not pass for the certified one.
    let other = create_bound_key(&mut tpm, EkProfile::EccP256L2, BoundKeyKind::EccP256).unwrap();
    assert!(matches!(
        verify(&ak, &other.public, &cert.attest, &cert.signature, NONCE),
        Err(CertifyError::NameMismatch { .. })
    ));
    // The RSA operation is refused on an ECC key before the TPM is asked.
    assert!(rsa_decrypt(&mut tpm, &key, &[0u8; 256]).is_err());
}
