//! The verifier verbs over the file store: `hgs challenge` makes a challenge for a registered
//! host and its AK, `hgs attest` judges the host's answer (exit 0 only when Passed). The service
//! (`hgs serve`) does the same over HTTPS for its hosts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use hgs_attest::{
    new_challenge, Attestor, BankPolicy, Challenge, ChallengeMessage, ChallengeRequest, Evidence,
    PcrSet,
};
use hgs_cli::store::verbs::StoreArg;
use hgs_policy::PolicyStore;
use hgs_tpm::HashAlg;

use crate::util::{hex, read_file};

/// `hgs challenge` arguments.
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// Registered host name.
    #[arg(long)]
    pub host: String,
    /// The host's AK public area (`hgs agent ak --out`).
    #[arg(long)]
    pub ak: PathBuf,
    /// Where to write the challenge for the host.
    #[arg(long)]
    pub out: PathBuf,
    /// PCRs to quote (default 0-7,11-14).
    #[arg(long, value_delimiter = ',')]
    pub pcrs: Vec<u32>,
    /// Banks to quote (default sha256).
    #[arg(long, value_delimiter = ',', default_value = "sha256")]
    pub banks: Vec<String>,
    /// Allow the SHA-1 bank (for SHA-1-only TPMs; refused by default).
    #[arg(long)]
    pub allow_sha1: bool,
    /// Store.
    #[command(flatten)]
    pub store: StoreArg,
}

/// `hgs attest` arguments.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The host's evidence (`hgs agent attest --out`).
    #[arg(long)]
    pub evidence: PathBuf,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
    /// Trust SHA-1 quotes when the log declares no stronger bank (SHA-1-only TPMs).
    #[arg(long)]
    pub allow_sha1: bool,
    /// Store.
    #[command(flatten)]
    pub store: StoreArg,
}

fn bank_policy(allow_sha1: bool) -> BankPolicy {
    if allow_sha1 {
        BankPolicy::AllowSha1
    } else {
        BankPolicy::Sha256OrStronger
    }
}

/// Now, in UNIX seconds (the verifier's clock, passed to the library).
pub fn now_unix() -> anyhow::Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs())
}

/// Runs `hgs challenge`.
pub fn run_challenge(args: ChallengeArgs) -> anyhow::Result<ExitCode> {
    let ak = read_file(&args.ak)?;
    let banks = args
        .banks
        .iter()
        .map(|b| {
            [
                HashAlg::Sha1,
                HashAlg::Sha256,
                HashAlg::Sha384,
                HashAlg::Sha512,
            ]
            .into_iter()
            .find(|h| h.name() == b.as_str())
            .with_context(|| format!("unknown bank {b:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bank_policy = bank_policy(args.allow_sha1);
    let mut id = [0u8; 16];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut id)?;
    let id = hex(&id);
    let msg: ChallengeMessage = args.store.open()?.update(|data| -> anyhow::Result<_> {
        let ps = &data.registrations;
        let host = ps
            .hosts
            .get(args.host.as_str())
            .with_context(|| format!("no host named {} is registered", args.host))?;
        let baselines: Vec<_> = ps.baselines.values().cloned().collect();
        let required = Attestor::new()
            .with_settings(ps.settings.clone())
            .required_pcrs(&baselines);
        let pcrs = if args.pcrs.is_empty() {
            hgs_attest::DEFAULT_PCRS.union(required)
        } else {
            PcrSet::from_indices(&args.pcrs)?
        };
        let request = ChallengeRequest {
            pcrs,
            banks: &banks,
            required_pcrs: required,
            bank_policy,
            issued_at: now_unix()?,
            ecdh: hgs_attest::EcdhBackend::default(),
        };
        let (challenge, mut msg) = new_challenge(host, &ak, &request, &mut rand_core::OsRng)
            .with_context(|| format!("{}", args.ak.display()))?;
        data.challenges.insert(id.clone(), challenge);
        msg.id = Some(id.clone());
        Ok(msg)
    })?;
    let json = serde_json::to_vec_pretty(&msg)?;
    std::fs::write(&args.out, json)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "challenge {id} for {} written to {} (PCRs {}, banks {:?})",
        args.host,
        args.out.display(),
        msg.pcrs,
        args.banks
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `hgs attest`: exit 0 only when Passed, 1 otherwise.
pub fn run_attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let bytes = read_file(&args.evidence)?;
    let evidence =
        Evidence::from_json(&bytes).with_context(|| format!("{}", args.evidence.display()))?;
    let id = evidence.challenge_id.clone().with_context(|| {
        format!(
            "{}: no challenge_id: answer a challenge from `hgs challenge`",
            args.evidence.display()
        )
    })?;
    // The challenge is consumed whatever the verdict: a quote can be judged once.
    let (challenge, ps) =
        args.store
            .open()?
            .update(|data| -> anyhow::Result<(Challenge, PolicyStore)> {
                let c = data
                    .challenges
                    .remove(&id)
                    .with_context(|| format!("challenge {id} is unknown or was already used"))?;
                Ok((c, data.registrations.clone()))
            })?;
    let hosts: Vec<_> = ps.hosts.values().cloned().collect();
    let baselines: Vec<_> = ps.baselines.values().cloned().collect();
    let policies: Vec<_> = ps.ci_policies.values().cloned().collect();
    let verdict = Attestor::new()
        .with_settings(ps.settings.clone())
        .with_bank_policy(bank_policy(args.allow_sha1))
        .evaluate(
            &hgs_attest::Host {
                challenge: &challenge,
                evidence: &evidence,
                registered: &hosts,
                now: now_unix()?,
            },
            &baselines,
            &policies,
        );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        print!("{verdict}");
    }
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
