//! Judge real Windows evidence the way an embedder would: the bundled GCE Shielded VM's AK, its
//! SHA-1 quote and its boot log go through `hgs_attest::Attestor::evaluate`, and the verdict is
//! printed with every check and its evidence.
//!
//! That quote was published without a verifier's nonce and over SHA-1, so the attestor is told
//! both explicitly (the default refuses them). No EK came with the evidence, so no host can be
//! registered for it: the verdict verifies the AK, the quote and the log, reads the boot claims,
//! and refuses the host as unregistered. Run: `cargo run -p hgs-examples --example verify_evidence`.

use std::error::Error;

use hgs_attest::policy::PolicyVersion;
use hgs_attest::policy::{BaselineProfile, TpmBaseline};
use hgs_attest::{
    Attest, Attested, Attestor, BankPolicy, Challenge, CheckId, CheckOutcome, Evidence,
    FreshnessPolicy, HashAlg, Host, PcrSet, Public, QuoteEvidence,
};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = hgs_examples::bundled_evidence_dir();
    let read = |f: &str| std::fs::read(dir.join(f));
    let (ak_public, attest, signature, log) = (
        read("ak_public.bin")?,
        read("quote_attest.bin")?,
        read("quote_sig.bin")?,
        read("event_log.bin")?,
    );

    // The challenge this quote would have answered: its PCRs, its bank, its AK, no nonce.
    let Attested::Quote { selection, .. } = Attest::parse(&attest)?.attested else {
        return Err("quote_attest.bin is not a quote".into());
    };
    let pcrs = selection
        .banks
        .first()
        .map(|b| b.pcrs())
        .unwrap_or_default();
    let challenge = Challenge {
        host: "gce-shielded-vm".into(),
        // No EK came with this evidence: the challenge matches no registered host.
        ek_fingerprint: None,
        ak_name: Public::parse(&ak_public)?.name()?,
        nonce: Vec::new(),
        pcrs: PcrSet::from_indices(&pcrs)?,
        banks: vec![HashAlg::Sha1],
        issued_at: 0,
    };
    let evidence = Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public,
        quotes: vec![QuoteEvidence {
            bank: Some(HashAlg::Sha1),
            pcrs: Vec::new(),
            attest,
            signature,
        }],
        pcr_values: Default::default(),
        event_log: log.clone(),
        bound_key: None,
    };

    // A baseline from this very log (validation skipped: this VM runs without VBS).
    let baseline = TpmBaseline::from_reference_log(
        "gce-n1",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &log,
        true,
    )?;

    let attestor = Attestor::new()
        .with_freshness(FreshnessPolicy::NotChecked)
        .with_bank_policy(BankPolicy::AllowSha1);
    let verdict = attestor.evaluate(
        &Host {
            challenge: &challenge,
            evidence: &evidence,
            registered: &[],
            now: 0,
        },
        &[baseline],
        &[],
    );
    println!("{verdict}");

    // What an embedder relies on: the quote verified, and the host was refused (unregistered).
    let quote_ok = verdict.checks.iter().any(|c| {
        c.name == CheckId::Quote(HashAlg::Sha1) && matches!(c.outcome, CheckOutcome::Passed { .. })
    });
    if !quote_ok || verdict.passed() {
        return Err("expected a verified quote and a refused (unregistered) host".into());
    }
    println!("quote verified; host refused: {:?}", verdict.status);
    Ok(())
}
