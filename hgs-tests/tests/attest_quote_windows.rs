//! `hgs_tpm::verify_quote` and `hgs_tcglog::QuotedLog::bind` on the real Windows Shielded VM quote
//! (bundled in examples/data, Apache-2.0 from go-attestation): the quote verifies, its digest is
//! that of the PCR values read with it, the real log binds to it, and each requirement it does not
//! meet is refused with its own reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_tcglog::{BankPolicy, BindError, EventLog, QuotedLog};
use hgs_tpm::alg::TPM_ALG_SHA1;
use hgs_tpm::{
    verify_quote, Freshness, HashAlg, PcrSet, QuoteError, QuoteRequirements, RustCryptoVerifier,
    VerifiedQuote,
};

fn data(f: &str) -> Vec<u8> {
    std::fs::read(hgs_testkit::windows_evidence_dir().join(f)).unwrap()
}

fn pcrs() -> Vec<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(&data("pcrs.json")).unwrap();
    (0..24)
        .map(|i| hgs_tpm::hex::decode(v["banks"]["sha1"][i.to_string()].as_str().unwrap()).unwrap())
        .collect()
}

fn all() -> PcrSet {
    PcrSet::from_indices(&(0..24).collect::<Vec<_>>()).unwrap()
}

fn run(
    freshness: Freshness<'_>,
    bank: HashAlg,
    attest: &[u8],
) -> Result<VerifiedQuote, QuoteError> {
    let req = QuoteRequirements {
        freshness,
        bank,
        required_pcrs: all(),
    };
    verify_quote(
        &data("ak_public.bin"),
        attest,
        &data("quote_sig.bin"),
        &req,
        &RustCryptoVerifier,
    )
}

#[test]
fn the_windows_quote_verifies_and_its_digest_is_that_of_its_pcr_values() {
    let q = run(
        Freshness::NotChecked,
        HashAlg::Sha1,
        &data("quote_attest.bin"),
    )
    .unwrap();
    assert_eq!(q.pcrs(TPM_ALG_SHA1), all());
    assert!(!q.nonce_checked());
    let values = pcrs();
    let parts: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    assert_eq!(q.digest_alg().hash_parts(&parts), q.pcr_digest());
    // The quote had an empty nonce: an empty expected nonce passes, as freshness "checked".
    assert!(run(
        Freshness::Nonce(&[]),
        HashAlg::Sha1,
        &data("quote_attest.bin")
    )
    .unwrap()
    .nonce_checked());
}

#[test]
fn the_real_log_binds_to_the_real_quote_only_when_sha1_is_allowed() {
    let q = run(
        Freshness::NotChecked,
        HashAlg::Sha1,
        &data("quote_attest.bin"),
    )
    .unwrap();
    let bytes = data("event_log.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let bound = QuotedLog::bind(log, std::slice::from_ref(&q), BankPolicy::AllowSha1).unwrap();
    assert_eq!(bound.bank(), hgs_tcglog::HashAlg::Sha1);
    assert_eq!(bound.pcrs(), all());
    assert!(bound.digest_mismatches().is_empty());
    assert!(matches!(
        QuotedLog::bind(log, &[q], BankPolicy::Sha256OrStronger),
        Err(BindError::WeakBank { .. })
    ));
}

#[test]
fn an_edited_log_does_not_bind() {
    let q = run(
        Freshness::NotChecked,
        HashAlg::Sha1,
        &data("quote_attest.bin"),
    )
    .unwrap();
    let mut bytes = data("event_log.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let at = log
        .events()
        .map(Result::unwrap)
        .find(|e| e.pcr == 12)
        .unwrap()
        .offset
        + 8;
    bytes[at] ^= 1;
    let log = EventLog::parse(&bytes).unwrap();
    assert!(matches!(
        QuotedLog::bind(log, &[q], BankPolicy::AllowSha1),
        Err(BindError::DigestMismatch { quote: 0, .. })
    ));
}

#[test]
fn a_quote_with_another_nonce_or_of_another_bank_is_refused() {
    assert!(matches!(
        run(
            Freshness::Nonce(&[1; 16]),
            HashAlg::Sha1,
            &data("quote_attest.bin")
        ),
        Err(QuoteError::NonceMismatch { .. })
    ));
    assert_eq!(
        run(
            Freshness::NotChecked,
            HashAlg::Sha256,
            &data("quote_attest.bin")
        ),
        Err(QuoteError::WrongBank {
            required: 0x000b,
            quoted: vec![TPM_ALG_SHA1]
        })
    );
}

#[test]
fn a_tampered_attestation_fails_the_signature() {
    let mut attest = data("quote_attest.bin");
    let n = attest.len();
    attest[n - 1] ^= 1;
    assert!(matches!(
        run(Freshness::NotChecked, HashAlg::Sha1, &attest),
        Err(QuoteError::BadSignature { .. })
    ));
}
