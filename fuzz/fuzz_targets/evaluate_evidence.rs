//! `evaluate` on arbitrary evidence: it must return a verdict (never panic, hang or allocate
//! without bound) whatever the AK, quote, signature and log bytes are.
//!
//! Mode byte 0: the input is the event log, with the real Windows Shielded VM AK and quote (so the
//! fuzzer explores replay, digest checks, baselines, CI policies and every Hgs_* rule).
//! Mode byte 1: the real AK, quote and log, with a bound key whose TPMT_PUBLIC, certify
//! TPMS_ATTEST and signature are the input (three u16 length prefixes): the certification check
//! of stage 2.
//! Otherwise: the input is split into AK public area, TPMS_ATTEST, TPMT_SIGNATURE and log by
//! three u16 length prefixes.
#![no_main]

use hgs_attest::policy::BaselineProfile;
use hgs_attest::policy::{PolicyVersion, TpmBaseline};
use hgs_attest::{Attestor, BankPolicy, Challenge, Evidence, FreshnessPolicy, Host, QuoteEvidence};
use hgs_tpm::{HashAlg, Public};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const AK: &[u8] = include_bytes!("../../examples/data/ga_windows_gcp_shielded_vm/ak_public.bin");
const ATTEST: &[u8] = include_bytes!("../../examples/data/ga_windows_gcp_shielded_vm/quote_attest.bin");
const SIG: &[u8] = include_bytes!("../../examples/data/ga_windows_gcp_shielded_vm/quote_sig.bin");
const LOG: &[u8] = include_bytes!("../../examples/data/ga_windows_gcp_shielded_vm/event_log.bin");

fn take<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    if data.len() < 2 {
        return &[];
    }
    let n = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
    let (head, rest) = data[2..].split_at(n);
    *data = rest;
    head
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, mut rest)) = input.split_first() else {
        return;
    };
    let mut bound_key = None;
    let (ak, attest, sig, log) = if mode == 0 {
        (AK, ATTEST, SIG, rest)
    } else if mode == 1 {
        let public = take(&mut rest).to_vec();
        let attest = take(&mut rest).to_vec();
        let signature = rest.to_vec();
        bound_key = Some(hgs_attest::BoundKeyEvidence { public, attest, signature });
        (AK, ATTEST, SIG, LOG)
    } else {
        let ak = take(&mut rest);
        let attest = take(&mut rest);
        let sig = take(&mut rest);
        (ak, attest, sig, rest)
    };
    let challenge = Challenge {
        host: "fuzz".into(),
        ek_fingerprint: None,
        ak_name: Public::parse(AK).and_then(|p| p.name()).unwrap_or_default(),
        nonce: Vec::new(),
        pcrs: (0..24).collect(),
        banks: vec![HashAlg::Sha1],
        issued_at: 0,
    };
    let evidence = Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public: ak.to_vec(),
        quotes: vec![QuoteEvidence { bank: Some(hgs_tpm::HashAlg::Sha1), pcrs: Vec::new(), attest: attest.to_vec(), signature: sig.to_vec() }],
        pcr_values: Default::default(),
        event_log: log.to_vec(),
        bound_key,
    };
    static BASELINES: OnceLock<Vec<TpmBaseline>> = OnceLock::new();
    let baselines = BASELINES.get_or_init(|| {
        TpmBaseline::from_reference_log("ref", PolicyVersion::V1, BaselineProfile::Strict, LOG, true)
            .into_iter()
            .collect()
    });
    // The bundled quote has no verifier nonce and is SHA-1: judge it explicitly so, so that the
    // fuzzer reaches binding, claims, baselines and rules; and once with the defaults.
    let host = Host { challenge: &challenge, evidence: &evidence, registered: &[], now: 0 };
    let lenient = Attestor::new()
        .with_verifier(hgs_tpm::RingVerifier)
        .with_freshness(FreshnessPolicy::NotChecked)
        .with_bank_policy(BankPolicy::AllowSha1);
    let v = lenient.evaluate(&host, baselines, &[]);
    assert!(!v.passed());
    let _ = v.to_string();
    let v = Attestor::new().with_verifier(hgs_tpm::RingVerifier).evaluate(&host, baselines, &[]);
    // No host is registered: nothing may pass.
    assert!(!v.passed());
    let _ = v.to_string();
});
