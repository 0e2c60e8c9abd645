//! Our pure-Rust TPM2_MakeCredential (hgs_attest::credential) against a real (software) TPM:
//! the TPM's TPM2_ActivateCredential must recover the secret, for an RSA and an ECC EK, and must
//! refuse a credential made for another AK name.
#![cfg(feature = "tpm")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_agent::tpm::ak::{create_ak, with_loaded_ak};
use hgs_agent::tpm::credential::activate;
use hgs_agent::tpm::ek::{ek_public, EkProfile};
use hgs_agent::tpm::Tpm;
use hgs_attest::{check_ak_attributes, make_credential};
use hgs_testkit::swtpm::Swtpm;

fn swtpm_available() -> bool {
    hgs_testkit::swtpm_available()
}

fn round_trip(profile: EkProfile) {
    if !swtpm_available() {
        return;
    }
    let sw = Swtpm::start().unwrap();
    let mut tpm = Tpm::open(&sw.tcti()).unwrap();
    let ek = ek_public(&mut tpm, profile).unwrap();
    let ak = create_ak(&mut tpm, profile).unwrap();
    let ak_public = ak.public_bytes().unwrap();
    check_ak_attributes(&ak_public).unwrap();
    let ak_name = hgs_tpm::Public::parse(&ak_public).unwrap().name().unwrap();

    let secret = b"hgs-attest credential round trip";
    let mut rng = rand_core::OsRng;
    let cred = make_credential(&ek, &ak_name, secret, &mut rng).unwrap();
    let recovered = with_loaded_ak(&mut tpm, &ak, |tpm, ek, ak| {
        activate(tpm, ek, ak, &cred.credential_blob, &cred.encrypted_secret)
    })
    .unwrap();
    assert_eq!(recovered, secret);

    // A credential bound to another name must not activate with this AK.
    let mut other_name = ak_name.clone();
    *other_name.last_mut().unwrap() ^= 1;
    let cred = make_credential(&ek, &other_name, secret, &mut rng).unwrap();
    let err = with_loaded_ak(&mut tpm, &ak, |tpm, ek, ak| {
        activate(tpm, ek, ak, &cred.credential_blob, &cred.encrypted_secret)
    });
    assert!(err.is_err(), "activation with the wrong AK name must fail");
}

#[test]
fn rust_make_credential_activates_on_swtpm_with_rsa_ek() {
    round_trip(EkProfile::RsaL1);
}

#[test]
fn rust_make_credential_activates_on_swtpm_with_ecc_p256_ek() {
    round_trip(EkProfile::EccP256L2);
}
