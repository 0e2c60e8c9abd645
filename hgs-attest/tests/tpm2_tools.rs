//! `Evidence::from_tpm2_tools` on bytes tpm2-tools 5.4 wrote against swtpm (vendored in
//! `tests/data/tpm2_tools/`, see its README): the evidence a Linux host would send evaluates
//! Passed against a host registered from its `ek.pub`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hgs_attest::policy::{
    BaselineProfile, CiPolicyRegistration, EkCertificateCheck, PolicyStore, PolicyVersion,
    RegistrationOptions, TpmBaseline,
};
use hgs_attest::{
    Attest, Attestor, Challenge, Evidence, HashAlg, Host, Public, Tpm2ToolsError, DEFAULT_PCRS,
};

const NOW: u64 = 1_800_000_000;
/// The `tpm2_quote -q` of the fixture.
const NONCE: [u8; 16] = [0x4e; 16];

fn read(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/tpm2_tools")
            .join(name),
    )
    .unwrap()
}

fn evidence() -> Evidence {
    let mut pcrs = read("quote.pcrs");
    pcrs.extend(read("sha1.pcrs"));
    Evidence::from_tpm2_tools(
        &read("ak.pub"),
        &[(&read("quote.msg"), &read("quote.sig"))],
        Some(&pcrs),
        &read("event_log.bin"),
    )
    .unwrap()
}

#[test]
fn tpm2_tools_files_make_evidence_with_their_quote_and_pcr_values() {
    let e = evidence();
    assert_eq!(
        Public::parse(&e.ak_public).unwrap().name().unwrap(),
        read("ak.name")
    );
    assert_eq!(e.quotes.len(), 1);
    assert_eq!(e.quotes[0].bank, Some(HashAlg::Sha256));
    assert_eq!(e.quotes[0].pcrs, DEFAULT_PCRS.to_vec());
    assert_eq!(
        Attest::parse(&e.quotes[0].attest).unwrap().extra_data,
        NONCE
    );
    assert_eq!(
        e.pcr_values[&HashAlg::Sha256]
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        DEFAULT_PCRS.to_vec()
    );
    assert_eq!(
        e.pcr_values[&HashAlg::Sha1]
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        vec![0, 7, 12]
    );
    // PCR 11 is never extended by the log: its value is the reset value.
    assert_eq!(e.pcr_values[&HashAlg::Sha256][&11], vec![0; 32]);
}

#[test]
fn tpm2_tools_evidence_evaluates_passed_for_the_host_registered_from_ek_pub() {
    let log = read("event_log.bin");
    let mut store = PolicyStore::default();
    store
        .add_baseline(
            TpmBaseline::from_reference_log(
                "class",
                PolicyVersion::V1,
                BaselineProfile::default(),
                &log,
                false,
            )
            .unwrap(),
        )
        .unwrap();
    store
        .add_ci_policy(
            CiPolicyRegistration::from_reference_log("ci", PolicyVersion::V1, &log, None).unwrap(),
        )
        .unwrap();
    let host = store
        .add_host(
            "linux-1",
            &read("ek.pub"),
            None,
            EkCertificateCheck::Missing,
            RegistrationOptions {
                version: PolicyVersion::V1,
                force: true,
            },
        )
        .unwrap()
        .clone();
    let e = evidence();
    let challenge = Challenge {
        host: host.name.to_string(),
        ek_fingerprint: Some(host.ek_fingerprint),
        ak_name: read("ak.name"),
        nonce: NONCE.to_vec(),
        pcrs: DEFAULT_PCRS,
        banks: vec![HashAlg::Sha256],
        issued_at: NOW - 10,
    };
    let judge = |e: &Evidence| {
        Attestor::new().evaluate(
            &Host {
                challenge: &challenge,
                evidence: e,
                registered: std::slice::from_ref(&host),
                now: NOW,
            },
            &store.baselines.values().cloned().collect::<Vec<_>>(),
            &store.ci_policies.values().cloned().collect::<Vec<_>>(),
        )
    };
    let v = judge(&e);
    assert!(v.passed(), "{v}");
    // The signature is the TPM's: one flipped bit and the quote is refused.
    let mut forged = e.clone();
    let last = forged.quotes[0].signature.len() - 1;
    forged.quotes[0].signature[last] ^= 1;
    assert!(!judge(&forged).passed());
}

#[test]
fn the_quote_message_and_signature_swapped_are_refused_by_part() {
    let r = Evidence::from_tpm2_tools(
        &read("ak.pub"),
        &[(&read("quote.sig"), &read("quote.msg"))],
        None,
        &[],
    );
    assert!(
        matches!(r, Err(Tpm2ToolsError::Message { quote: 0, .. })),
        "{r:?}"
    );
}
