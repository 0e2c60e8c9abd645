//! Register a host, a TPM baseline and a CI policy in an `hgs_policy::PolicyStore`, then judge
//! two hosts' evidence against it: one booted healthy (Passed), one booted with the kernel
//! debugger on (refused, with the reason).
//!
//! The verifier side is the library API an embedder calls: `PolicyStore::add_host` /
//! `add_baseline` / `add_ci_policy`, `hgs_attest::new_challenge` (a credential to the registered
//! EK for the AK), `Attestor::evaluate`. The host side is real TPM evidence made in software:
//! hgs-tpm's software EK activates the credential and its software AK signs TPMS_ATTEST quotes
//! over the PCRs a Windows-like boot log (hgs-tcglog's encoder) replays to
//! (`hgs_testkit::host::SimulatedHost`). Run:
//! `cargo run -p hgs-examples --example register_and_judge`.

use std::error::Error;

use hgs_attest::policy::{BaselineProfile, TpmBaseline};
use hgs_attest::policy::{
    CiPolicyRegistration, EkCertificateCheck, PolicyStore, PolicyVersion, RegistrationOptions,
};
use hgs_attest::{new_challenge, Attestor, ChallengeRequest, Host, Verdict};
use hgs_testkit::host::{healthy, SimulatedHost};
use hgs_testkit::synthetic::WindowsBoot;

/// Seconds since the epoch the example runs at (time is a parameter of the library).
const NOW: u64 = 1_800_000_000;

fn main() -> Result<(), Box<dyn Error>> {
    // The reference host's log: the baseline and the CI policy are registered from it.
    let reference = SimulatedHost::new("reference", &healthy());

    let mut store = PolicyStore::default();
    store.add_baseline(TpmBaseline::from_reference_log(
        "class-a",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &reference.log,
        false,
    )?)?;
    store.add_ci_policy(CiPolicyRegistration::from_reference_log(
        "prod-ci",
        PolicyVersion::V1,
        &reference.log,
        None,
    )?)?;

    let healthy_host = SimulatedHost::new("host-01", &healthy());
    let debugged_host = SimulatedHost::new(
        "host-02",
        &WindowsBoot {
            kernel_debugging: true,
            ..healthy()
        },
    );
    for host in [&healthy_host, &debugged_host] {
        // v1 without an EK certificate: the software EK has none (`force`, like -Force).
        store.add_host(
            &host.name,
            host.ek.public(),
            None,
            EkCertificateCheck::Missing,
            RegistrationOptions {
                version: PolicyVersion::V1,
                force: true,
            },
        )?;
    }
    println!(
        "registered: {} hosts, {} baseline, {} CI policy",
        store.hosts.len(),
        store.baselines.len(),
        store.ci_policies.len()
    );

    let healthy_verdict = judge(&store, &healthy_host)?;
    println!("{}:\n{healthy_verdict}", healthy_host.name);
    let debugged_verdict = judge(&store, &debugged_host)?;
    println!("{}:\n{debugged_verdict}", debugged_host.name);

    if !healthy_verdict.passed() || debugged_verdict.passed() {
        return Err("expected host-01 to pass and host-02 (kernel debugger) to be refused".into());
    }
    Ok(())
}

/// One attestation round: challenge the host's AK, let it answer, judge the evidence.
fn judge(store: &PolicyStore, host: &SimulatedHost) -> Result<Verdict, Box<dyn Error>> {
    let registered: Vec<_> = store.hosts.values().cloned().collect();
    let baselines: Vec<_> = store.baselines.values().cloned().collect();
    let policies: Vec<_> = store.ci_policies.values().cloned().collect();
    let attestor = Attestor::new().with_settings(store.settings.clone());

    let entry = store
        .hosts
        .get(host.name.as_str())
        .ok_or("host is not registered")?;
    let request = ChallengeRequest::new(attestor.required_pcrs(&baselines), NOW);
    let (challenge, message) =
        new_challenge(entry, host.ak.public(), &request, &mut rand_core::OsRng)?;
    let evidence = host.answer(&message);
    Ok(attestor.evaluate(
        &Host {
            challenge: &challenge,
            evidence: &evidence,
            registered: &registered,
            now: NOW,
        },
        &baselines,
        &policies,
    ))
}
