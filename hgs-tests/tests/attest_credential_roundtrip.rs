//! make_credential against an independent activation written here from the private keys:
//! RSA-OAEP decryption of the seed, or ECDH with the EK's private scalar, then the same KDFs, the
//! integrity HMAC check and AES-CFB decryption, as TPM2_ActivateCredential does.
//! (The same blobs are activated by a real software TPM in `hgs-agent/tests/credential_swtpm.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use hgs_attest::{check_ak_attributes, kdfa, kdfe, make_credential, CredentialError};
use hgs_tpm::HashAlg;
use proptest::prelude::*;

/// TPMT_PUBLIC of an EK-like restricted decryption key: RSA 2048, AES-128-CFB, nameAlg SHA-256.
fn ek_public_rsa(n: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 0x01, 0x00, 0x0b];
    v.extend_from_slice(&0x0003_00b2u32.to_be_bytes()); // fixedTPM|fixedParent|sdo|adminWithPolicy|restricted|decrypt
    v.extend_from_slice(&[0, 0]); // empty authPolicy
    v.extend_from_slice(&[0x00, 0x06, 0x00, 0x80, 0x00, 0x43]); // AES-128-CFB
    v.extend_from_slice(&[0x00, 0x10]); // scheme NULL
    v.extend_from_slice(&[0x08, 0x00]); // 2048 bits
    v.extend_from_slice(&[0, 0, 0, 0]); // exponent default
    v.extend_from_slice(&(n.len() as u16).to_be_bytes());
    v.extend_from_slice(n);
    v
}

/// TPMT_PUBLIC of an ECC P-256 EK-like key.
fn ek_public_ecc(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 0x23, 0x00, 0x0b];
    v.extend_from_slice(&0x0003_00b2u32.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&[0x00, 0x06, 0x00, 0x80, 0x00, 0x43]);
    v.extend_from_slice(&[0x00, 0x10]); // scheme NULL
    v.extend_from_slice(&[0x00, 0x03]); // P-256
    v.extend_from_slice(&[0x00, 0x10]); // kdf NULL
    v.extend_from_slice(&(x.len() as u16).to_be_bytes());
    v.extend_from_slice(x);
    v.extend_from_slice(&(y.len() as u16).to_be_bytes());
    v.extend_from_slice(y);
    v
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// The TPM's side, from the seed on: integrity check, then decryption of encIdentity.
fn activate_with_seed(seed: &[u8], ak_name: &[u8], blob: &[u8]) -> Result<Vec<u8>, &'static str> {
    let hmac_len = u16::from_be_bytes([blob[0], blob[1]]) as usize;
    let (integrity, enc_identity) = blob[2..].split_at(hmac_len);
    let hmac_key = kdfa(HashAlg::Sha256, seed, "INTEGRITY", &[], &[], 256);
    if hmac_sha256(&hmac_key, &[enc_identity, ak_name]) != integrity {
        return Err("integrity");
    }
    let sym = kdfa(HashAlg::Sha256, seed, "STORAGE", ak_name, &[], 128);
    let mut plain = enc_identity.to_vec();
    cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(&sym, &[0u8; 16])
        .unwrap()
        .decrypt(&mut plain);
    let len = u16::from_be_bytes([plain[0], plain[1]]) as usize;
    Ok(plain[2..2 + len].to_vec())
}

/// Splits a TPMS_ECC_POINT (TPM2B x, TPM2B y).
fn point(s: &[u8]) -> (&[u8], &[u8]) {
    let xl = u16::from_be_bytes([s[0], s[1]]) as usize;
    let x = &s[2..2 + xl];
    let yl = u16::from_be_bytes([s[2 + xl], s[3 + xl]]) as usize;
    (x, &s[4 + xl..4 + xl + yl])
}

fn ecc_seed(sk: &p256::SecretKey, ek_x: &[u8], encrypted_secret: &[u8]) -> Vec<u8> {
    let (ex, ey) = point(encrypted_secret);
    let eph = p256::PublicKey::from_sec1_bytes(&[&[4u8][..], ex, ey].concat()).unwrap();
    let z = p256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), eph.as_affine());
    kdfe(
        HashAlg::Sha256,
        z.raw_secret_bytes(),
        "IDENTITY",
        ex,
        ek_x,
        256,
    )
}

#[test]
fn rsa_credential_is_recovered_by_oaep_identity_decryption() {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let n = rsa::traits::PublicKeyParts::n(&key).to_bytes_be();
    let ek = ek_public_rsa(&n);
    let ak_name = [&[0x00u8, 0x0b][..], &[0x42; 32]].concat();
    let cred = make_credential(&ek, &ak_name, b"secret nonce", &mut rand_core::OsRng).unwrap();
    let seed = key
        .decrypt(
            rsa::Oaep::new_with_label::<sha2::Sha256, _>("IDENTITY\0"),
            &cred.encrypted_secret,
        )
        .unwrap();
    assert_eq!(seed.len(), 32);
    assert_eq!(
        activate_with_seed(&seed, &ak_name, &cred.credential_blob).unwrap(),
        b"secret nonce"
    );
    // Another AK name fails the integrity check, as the TPM's would.
    let other = [&[0x00u8, 0x0b][..], &[0x43; 32]].concat();
    assert_eq!(
        activate_with_seed(&seed, &other, &cred.credential_blob),
        Err("integrity")
    );
}

#[test]
fn ecc_credential_is_recovered_by_ecdh_with_the_ek_scalar() {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let sk = p256::SecretKey::random(&mut rand_core::OsRng);
    let pt = sk.public_key().to_encoded_point(false);
    let ek = ek_public_ecc(pt.x().unwrap(), pt.y().unwrap());
    let ak_name = [&[0x00u8, 0x0b][..], &[7; 32]].concat();
    let cred = make_credential(&ek, &ak_name, b"ecc secret", &mut rand_core::OsRng).unwrap();
    let seed = ecc_seed(&sk, pt.x().unwrap(), &cred.encrypted_secret);
    assert_eq!(
        activate_with_seed(&seed, &ak_name, &cred.credential_blob).unwrap(),
        b"ecc secret"
    );
}

#[test]
fn secrets_longer_than_the_name_digest_are_refused() {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let ek = ek_public_rsa(&rsa::traits::PublicKeyParts::n(&key).to_bytes_be());
    let err = make_credential(&ek, &[0, 0x0b], &[0u8; 33], &mut rand_core::OsRng).unwrap_err();
    assert_eq!(err, CredentialError::SecretTooLong { len: 33, max: 32 });
}

#[test]
fn the_windows_ak_is_a_quoting_key_but_not_an_ek() {
    let ak = std::fs::read(hgs_testkit::windows_evidence_dir().join("ak_public.bin")).unwrap();
    assert!(matches!(
        make_credential(&ak, &[0, 0x0b], b"x", &mut rand_core::OsRng),
        Err(CredentialError::UnsuitableEk(_))
    ));
    check_ak_attributes(&ak).unwrap();
}

#[test]
fn an_unrestricted_key_is_refused_as_ak_naming_the_missing_attribute() {
    let mut ak = std::fs::read(hgs_testkit::windows_evidence_dir().join("ak_public.bin")).unwrap();
    // objectAttributes are bytes 4..8 of the bare TPMT_PUBLIC; clear `restricted` (bit 16).
    ak[5] &= !0x01;
    match check_ak_attributes(&ak) {
        Err(CredentialError::UnsuitableAk { missing }) => assert_eq!(missing, vec!["restricted"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn kdfa_honours_length_and_label() {
    let a = kdfa(HashAlg::Sha256, b"k", "STORAGE", b"u", b"", 128);
    assert_eq!(a.len(), 16);
    assert_eq!(a, kdfa(HashAlg::Sha256, b"k", "STORAGE", b"u", b"", 128));
    assert_ne!(a, kdfa(HashAlg::Sha256, b"k", "INTEGRITY", b"u", b"", 128));
    assert_eq!(kdfa(HashAlg::Sha256, b"k", "X", b"", b"", 520).len(), 65);
}

/// A deterministic CSPRNG for proptest cases: SHA-256 in counter mode over the seed (tests only).
struct HashRng {
    seed: [u8; 32],
    counter: u64,
    buf: Vec<u8>,
}

impl rand_core::RngCore for HashRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use sha2::Digest;
        for d in dest {
            if self.buf.is_empty() {
                self.counter += 1;
                self.buf = sha2::Sha256::new()
                    .chain_update(self.seed)
                    .chain_update(self.counter.to_le_bytes())
                    .finalize()
                    .to_vec();
            }
            *d = self.buf.pop().unwrap();
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for HashRng {}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn ecc_make_then_activate_round_trips(
        secret in proptest::collection::vec(any::<u8>(), 0..=32),
        name_tail in any::<[u8; 32]>(),
        seed in any::<[u8; 32]>(),
    ) {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let mut rng = HashRng { seed, counter: 0, buf: Vec::new() };
        let sk = p256::SecretKey::random(&mut rng);
        let pt = sk.public_key().to_encoded_point(false);
        let ek = ek_public_ecc(pt.x().unwrap(), pt.y().unwrap());
        let ak_name = [&[0x00u8, 0x0b][..], &name_tail].concat();
        let cred = make_credential(&ek, &ak_name, &secret, &mut rng).unwrap();
        let seed = ecc_seed(&sk, pt.x().unwrap(), &cred.encrypted_secret);
        prop_assert_eq!(activate_with_seed(&seed, &ak_name, &cred.credential_blob).unwrap(), secret);
    }
}

/// `hgs_tpm::SoftEk` (the simulated hosts' EK) against `make_credential`, and against the
/// independent activation above from the same private scalar.
mod soft_ek {
    use super::*;
    use hgs_tpm::{SoftEk, SoftEkError};

    const SEED: [u8; 32] = [9; 32];

    fn ak_name(tail: u8) -> Vec<u8> {
        [&[0x00u8, 0x0b][..], &[tail; 32]].concat()
    }

    #[test]
    fn make_credential_then_soft_activation_round_trips() {
        let ek = SoftEk::from_seed(&SEED).unwrap();
        let name = ak_name(1);
        for secret in [&b""[..], b"x", &[0xa5; 32]] {
            let cred = make_credential(ek.public(), &name, secret, &mut rand_core::OsRng).unwrap();
            assert_eq!(
                ek.activate_credential(&name, &cred.credential_blob, &cred.encrypted_secret)
                    .unwrap(),
                secret
            );
        }
    }

    #[test]
    fn soft_activation_agrees_with_the_independent_one() {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let ek = SoftEk::from_seed(&SEED).unwrap();
        let sk = p256::SecretKey::from_slice(&SEED).unwrap();
        let pt = sk.public_key().to_encoded_point(false);
        let name = ak_name(2);
        let cred =
            make_credential(ek.public(), &name, b"cross-check", &mut rand_core::OsRng).unwrap();
        let seed = ecc_seed(&sk, pt.x().unwrap(), &cred.encrypted_secret);
        let independent = activate_with_seed(&seed, &name, &cred.credential_blob).unwrap();
        let soft = ek
            .activate_credential(&name, &cred.credential_blob, &cred.encrypted_secret)
            .unwrap();
        assert_eq!(independent, soft);
        assert_eq!(soft, b"cross-check");
    }

    #[test]
    fn a_wrong_ak_name_or_another_ek_fails_the_integrity_check() {
        let ek = SoftEk::from_seed(&SEED).unwrap();
        let cred =
            make_credential(ek.public(), &ak_name(3), b"nonce", &mut rand_core::OsRng).unwrap();
        assert_eq!(
            ek.activate_credential(&ak_name(4), &cred.credential_blob, &cred.encrypted_secret),
            Err(SoftEkError::Integrity)
        );
        let other = SoftEk::from_seed(&[10; 32]).unwrap();
        assert_eq!(
            other.activate_credential(&ak_name(3), &cred.credential_blob, &cred.encrypted_secret),
            Err(SoftEkError::Integrity)
        );
    }

    #[test]
    fn malformed_inputs_are_typed_errors_not_panics() {
        let ek = SoftEk::from_seed(&SEED).unwrap();
        let name = ak_name(5);
        let cred = make_credential(ek.public(), &name, b"nonce", &mut rand_core::OsRng).unwrap();
        assert_eq!(
            ek.activate_credential(&name, &cred.credential_blob, &[0, 1]),
            Err(SoftEkError::MalformedSecret)
        );
        let mut off_curve = cred.encrypted_secret.clone();
        let last = off_curve.len() - 1;
        off_curve[last] ^= 1;
        assert_eq!(
            ek.activate_credential(&name, &cred.credential_blob, &off_curve),
            Err(SoftEkError::PointNotOnCurve)
        );
        assert_eq!(
            ek.activate_credential(&name, &cred.credential_blob[..10], &cred.encrypted_secret),
            Err(SoftEkError::MalformedBlob)
        );
        let mut flipped = cred.credential_blob.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            ek.activate_credential(&name, &flipped, &cred.encrypted_secret),
            Err(SoftEkError::Integrity)
        );
        for cut in 0..cred.credential_blob.len() {
            assert!(ek
                .activate_credential(&name, &cred.credential_blob[..cut], &cred.encrypted_secret)
                .is_err());
        }
    }

    #[test]
    fn the_soft_ek_is_a_registrable_restricted_decryption_key() {
        let ek = SoftEk::from_seed(&SEED).unwrap();
        let public = hgs_tpm::Public::parse(ek.public()).unwrap();
        assert!(public.attributes.restricted() && public.attributes.decrypt());
        assert!(!public.attributes.sign());
        assert!(hgs_attest::policy::ek_fingerprint(ek.public()).is_ok());
        // Not a quoting key.
        assert!(check_ak_attributes(ek.public()).is_err());
    }
}
