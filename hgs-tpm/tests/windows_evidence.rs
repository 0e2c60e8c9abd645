//! The real Windows evidence (GCE Shielded VM, via go-attestation's testdata, Apache-2.0; bundled in
//! `tests/data/windows_gcp_shielded_vm/`, see its README): the AK parses, the quote verifies
//! over the exact attest bytes, and the quoted PCR digest is SHA-1 over the 24 PCR values read with it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hgs_tpm::{
    alg::{TPM_ALG_RSA, TPM_ALG_RSASSA, TPM_ALG_SHA1, TPM_ALG_SHA256},
    Attest, Attested, Error, HashAlg, Public, PublicKey, RustCryptoVerifier, Signature,
    SignatureVerifier, TPM_ST_ATTEST_QUOTE,
};

fn data(file: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/windows_gcp_shielded_vm")
        .join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn pcrs() -> Vec<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(&data("pcrs.json")).unwrap();
    (0..24)
        .map(|i| {
            let h = v["banks"]["sha1"][i.to_string()].as_str().unwrap();
            (0..h.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&h[j..j + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn windows_ak_is_a_bare_tpmt_public_restricted_rsa_signing_key() {
    let bytes = data("ak_public.bin");
    let ak = Public::parse(&bytes).unwrap();
    assert!(
        !ak.had_size_prefix,
        "Windows exports the AK without the TPM2B size"
    );
    assert_eq!(ak.object_type, TPM_ALG_RSA);
    assert_eq!(ak.name_alg, TPM_ALG_SHA256);
    assert!(ak.attributes.restricted() && ak.attributes.sign() && ak.attributes.fixed_tpm());
    assert!(!ak.attributes.decrypt());
    match ak.key().unwrap() {
        PublicKey::Rsa { modulus, exponent } => {
            assert_eq!(modulus.len(), 256);
            assert_eq!(exponent, 65537);
        }
        other => panic!("expected RSA, got {other:?}"),
    }
    assert_eq!(ak.encode_tpmt(), bytes, "re-encoding is byte-exact");
    let name = ak.name().unwrap();
    assert_eq!(&name[..2], &[0x00, 0x0b]);
    assert_eq!(name.len(), 34);
}

#[test]
fn windows_quote_verifies_and_its_pcr_digest_is_sha1_of_the_24_pcrs() {
    let (ak, attest, sig) = (
        data("ak_public.bin"),
        data("quote_attest.bin"),
        data("quote_sig.bin"),
    );
    let ak = Public::parse(&ak).unwrap();
    let quote = Attest::parse(&attest).unwrap();
    let signature = Signature::parse(&sig).unwrap();
    assert_eq!(signature.scheme(), TPM_ALG_RSASSA);
    assert_eq!(signature.hash_alg(), TPM_ALG_SHA1);
    assert_eq!(quote.tag, TPM_ST_ATTEST_QUOTE);
    assert!(
        quote.extra_data.is_empty(),
        "the source quote has an empty nonce"
    );
    // The qualified signer is the AK's qualified name: nameAlg SHA-256.
    assert_eq!(&quote.qualified_signer[..2], &[0x00, 0x0b]);
    RustCryptoVerifier
        .verify(&ak.key().unwrap(), quote.bytes, &signature)
        .unwrap();

    let Attested::Quote {
        selection,
        pcr_digest,
    } = &quote.attested
    else {
        panic!("not a quote")
    };
    assert_eq!(selection.banks.len(), 1);
    assert_eq!(selection.banks[0].hash, TPM_ALG_SHA1);
    assert_eq!(selection.banks[0].pcrs(), (0..24).collect::<Vec<u32>>());
    let values = pcrs();
    let parts: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
    assert_eq!(HashAlg::Sha1.hash_parts(&parts), pcr_digest.to_vec());
    assert_eq!(quote.encode(), attest, "re-encoding is byte-exact");
    assert_eq!(signature.encode(), sig);
}

#[test]
fn any_flipped_byte_in_the_quoted_bytes_breaks_the_signature() {
    let (ak, attest, sig) = (
        data("ak_public.bin"),
        data("quote_attest.bin"),
        data("quote_sig.bin"),
    );
    let key = Public::parse(&ak).unwrap().key().unwrap();
    let signature = Signature::parse(&sig).unwrap();
    for i in 0..attest.len() {
        let mut t = attest.clone();
        t[i] ^= 0x01;
        assert_eq!(
            RustCryptoVerifier.verify(&key, &t, &signature),
            Err(Error::BadSignature),
            "byte {i}"
        );
    }
}

#[test]
fn a_flipped_signature_byte_is_rejected() {
    let (ak, attest, mut sig) = (
        data("ak_public.bin"),
        data("quote_attest.bin"),
        data("quote_sig.bin"),
    );
    let key = Public::parse(&ak).unwrap().key().unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 0x80;
    let signature = Signature::parse(&sig).unwrap();
    assert_eq!(
        RustCryptoVerifier.verify(&key, &attest, &signature),
        Err(Error::BadSignature)
    );
}

#[test]
fn truncated_structures_are_typed_errors_with_offsets() {
    let attest = data("quote_attest.bin");
    for cut in 0..attest.len() {
        match Attest::parse(&attest[..cut]) {
            Err(Error::Truncated { .. })
            | Err(Error::TooLarge { .. })
            | Err(Error::TrailingBytes { .. }) => {}
            Err(Error::BadMagic { .. }) if cut < 4 => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    let ak = data("ak_public.bin");
    for cut in 0..ak.len() {
        assert!(Public::parse(&ak[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn creation_attestation_parses_and_names_the_ak() {
    let ak_bytes = data("ak_public.bin");
    let ak = Public::parse(&ak_bytes).unwrap();
    let att_bytes = data("ak_create_attestation.bin");
    let att = Attest::parse(&att_bytes).unwrap();
    let Attested::Creation { object_name, .. } = att.attested else {
        panic!("not a creation attestation")
    };
    assert_eq!(object_name, ak.name().unwrap().as_slice());
    let sig_bytes = data("ak_create_signature.bin");
    let sig = Signature::parse(&sig_bytes).unwrap();
    RustCryptoVerifier
        .verify(&ak.key().unwrap(), att.bytes, &sig)
        .unwrap();
}

/// The ring backend agrees with the pure-Rust one on the real quote and on every flipped
/// signature byte.
#[cfg(feature = "ring")]
#[test]
fn ring_backend_agrees_with_rustcrypto_on_the_windows_quote() {
    use hgs_tpm::{RingVerifier, RustCryptoVerifier, SignatureVerifier};
    let dir = format!(
        "{}/tests/data/windows_gcp_shielded_vm",
        env!("CARGO_MANIFEST_DIR")
    );
    let ak = std::fs::read(format!("{dir}/ak_public.bin")).unwrap();
    let attest = std::fs::read(format!("{dir}/quote_attest.bin")).unwrap();
    let sig = std::fs::read(format!("{dir}/quote_sig.bin")).unwrap();
    let key = hgs_tpm::Public::parse(&ak).unwrap().key().unwrap();
    let msg = hgs_tpm::Attest::parse(&attest).unwrap().bytes;
    let s = hgs_tpm::Signature::parse(&sig).unwrap();
    RingVerifier.verify(&key, msg, &s).unwrap();
    RustCryptoVerifier.verify(&key, msg, &s).unwrap();
    for i in 6..sig.len() {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        let s = hgs_tpm::Signature::parse(&bad).unwrap();
        assert!(RingVerifier.verify(&key, msg, &s).is_err(), "byte {i}");
        assert!(
            RustCryptoVerifier.verify(&key, msg, &s).is_err(),
            "byte {i}"
        );
    }
    let mut other = msg.to_vec();
    other[10] ^= 1;
    let s = hgs_tpm::Signature::parse(&sig).unwrap();
    assert!(RingVerifier.verify(&key, &other, &s).is_err());
}
