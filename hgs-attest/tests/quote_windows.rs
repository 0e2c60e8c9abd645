//! verify_quote on the real Windows Shielded VM quote (bundled in examples/data, Apache-2.0 from
//! go-attestation): it passes with the PCR values read with it, and each requirement it does not
//! meet is refused with its own reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_attest::quote::{verify_quote, QuoteError, QuoteRequirements};
use hgs_tpm::alg::{TPM_ALG_SHA1, TPM_ALG_SHA256};
use hgs_tpm::RustCryptoVerifier;

fn data(f: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../examples/data/ga_windows_gcp_shielded_vm/{f}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
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

const ALL: [u32; 24] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];

fn run(nonce: &[u8], bank: u16, required: &[u32], values: &[Vec<u8>]) -> Result<(), QuoteError> {
    let req = QuoteRequirements {
        nonce,
        bank,
        required_pcrs: required,
    };
    verify_quote(
        &data("ak_public.bin"),
        &data("quote_attest.bin"),
        &data("quote_sig.bin"),
        &req,
        |b, p| {
            (b == TPM_ALG_SHA1)
                .then(|| values.get(p as usize).map(|v| v.as_slice()))
                .flatten()
        },
        &RustCryptoVerifier,
    )
    .map(|_| ())
}

#[test]
fn the_windows_quote_verifies_against_its_pcr_values() {
    run(&[], TPM_ALG_SHA1, &ALL, &pcrs()).unwrap();
}

#[test]
fn another_nonce_is_refused() {
    assert!(matches!(
        run(b"fresh", TPM_ALG_SHA1, &ALL, &pcrs()),
        Err(QuoteError::NonceMismatch { .. })
    ));
}

#[test]
fn a_quote_in_another_bank_is_refused() {
    assert_eq!(
        run(&[], TPM_ALG_SHA256, &[7], &pcrs()),
        Err(QuoteError::WrongBank {
            required: TPM_ALG_SHA256,
            quoted: vec![TPM_ALG_SHA1]
        })
    );
}

#[test]
fn a_changed_pcr_value_breaks_the_digest() {
    let mut values = pcrs();
    values[7][0] ^= 1;
    assert!(matches!(
        run(&[], TPM_ALG_SHA1, &ALL, &values),
        Err(QuoteError::DigestMismatch { .. })
    ));
}

#[test]
fn a_missing_expected_value_is_named() {
    let values = pcrs()[..23].to_vec();
    assert_eq!(
        run(&[], TPM_ALG_SHA1, &ALL, &values),
        Err(QuoteError::NoExpectedValue {
            bank: TPM_ALG_SHA1,
            pcr: 23
        })
    );
}

#[test]
fn a_quote_over_fewer_pcrs_than_required_is_refused() {
    // Make the verifier require PCR 24, which a 24-PCR quote cannot cover.
    assert_eq!(
        run(&[], TPM_ALG_SHA1, &[0, 7, 24], &pcrs()),
        Err(QuoteError::MissingPcrs {
            bank: TPM_ALG_SHA1,
            missing: vec![24]
        })
    );
}

#[test]
fn a_tampered_attestation_fails_the_signature_before_anything_else() {
    let mut attest = data("quote_attest.bin");
    let n = attest.len();
    attest[n - 1] ^= 1;
    let req = QuoteRequirements {
        nonce: &[],
        bank: TPM_ALG_SHA1,
        required_pcrs: &ALL,
    };
    let values = pcrs();
    let r = verify_quote(
        &data("ak_public.bin"),
        &attest,
        &data("quote_sig.bin"),
        &req,
        |_, p| values.get(p as usize).map(|v| v.as_slice()),
        &RustCryptoVerifier,
    );
    assert!(matches!(r, Err(QuoteError::BadSignature { .. })));
}
