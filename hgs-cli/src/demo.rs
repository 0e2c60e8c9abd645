//! `hgs demo`: the main job in one command.
//!
//! 1. Read-only, no TPM needed: the bundled real Windows evidence (GCE Shielded VM, from
//!    go-attestation's testdata, see `examples/data/ga_windows_gcp_shielded_vm/README.md`) goes
//!    through `hgs_attest::evaluate`: the AK, the quote and the log verify, the claims are read,
//!    and the verdict explains why this host would not be guarded (it is not registered — no EK
//!    came with the evidence — and it runs without VBS, HVCI, an IOMMU requirement or a CI
//!    policy). Then the same evidence with one log byte changed, refused with its reason.
//! 2. With a software TPM (feature `tpm`, `swtpm` installed; skipped with `--offline`): the whole
//!    HGS flow — a host boots a Windows-like log into a real TPM, its platform identifier is read,
//!    the reference baseline is captured and validated, the admin installs the TPM's CA, registers
//!    the host (v2: EK certificate trusted), the baseline and the CI policy, challenges the host
//!    (credential to the EK, nonce = secret), the TPM answers, and the verdict is printed; then a
//!    tampered run fails with its reason.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use hgs_attest::policy::PolicyVersion;
use hgs_attest::policy::{BaselineProfile, TpmBaseline};
use hgs_attest::{Challenge, Evidence, Failure, Host, QuoteEvidence, Verdict};
use hgs_tpm::{Attest, Attested, HashAlg, Public};

use crate::util::read_file;

/// `hgs demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Only the read-only demo on bundled evidence (no software TPM).
    #[arg(long)]
    offline: bool,
    /// Directory of the bundled evidence (default: examples/data/ga_windows_gcp_shielded_vm).
    #[arg(long)]
    data: Option<PathBuf>,
}

fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        let here = PathBuf::from("examples/data/ga_windows_gcp_shielded_vm");
        if here.is_dir() {
            here
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/data/ga_windows_gcp_shielded_vm")
        }
    })
}

fn step(n: &str, text: &str) {
    println!("\n[{n}] {text}");
}

fn indent(v: &Verdict) {
    for line in v.to_string().lines() {
        println!("      {line}");
    }
}

/// Runs `hgs demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = data_dir(args.data);
    offline_demo(&dir)?;
    if args.offline {
        return Ok(ExitCode::SUCCESS);
    }
    tpm_demo()
}

fn offline_demo(dir: &std::path::Path) -> anyhow::Result<()> {
    println!("== Part 1: real Windows evidence (GCE Shielded VM, bundled), no TPM needed ==");
    let read = |f: &str| read_file(&dir.join(f));
    let (log, ak, attest, sig) = (
        read("event_log.bin")?,
        read("ak_public.bin")?,
        read("quote_attest.bin")?,
        read("quote_sig.bin")?,
    );
    step(
        "1",
        "the evidence: AK (bare TPMT_PUBLIC, as Windows exports it), SHA-1 quote, TCG log",
    );
    let parsed = Attest::parse(&attest).context("quote_attest.bin")?;
    let Attested::Quote { selection, .. } = &parsed.attested else {
        bail!("quote_attest.bin is not a quote");
    };
    let pcrs = selection
        .banks
        .first()
        .map(|b| b.pcrs())
        .ok_or_else(|| anyhow!("empty selection"))?;
    println!(
        "      quote over SHA-1 PCRs {pcrs:?}, nonce empty (the source quote was not challenged)"
    );
    let challenge = Challenge {
        host: "gce-shielded-vm".into(),
        ek_fingerprint: None,
        ak_name: Public::parse(&ak)?.name()?,
        nonce: Vec::new(),
        pcrs: hgs_attest::PcrSet::from_indices(&pcrs)?,
        banks: vec![HashAlg::Sha1],
        issued_at: 0,
    };
    let evidence = Evidence {
        format: hgs_attest::EVIDENCE_FORMAT.into(),
        challenge_id: None,
        ak_public: ak,
        quotes: vec![QuoteEvidence {
            bank: Some(hgs_tpm::HashAlg::Sha1),
            pcrs: Vec::new(),
            attest,
            signature: sig,
        }],
        pcr_values: Default::default(),
        event_log: log.clone(),
        bound_key: None,
    };

    step(
        "2",
        "register a baseline from this very log (validation skipped: this VM has no VBS)",
    );
    let baseline = TpmBaseline::from_reference_log(
        "gce-n1",
        PolicyVersion::V1,
        BaselineProfile::default(),
        &log,
        true,
    )?;
    for w in &baseline.capture_warnings {
        println!("      capture warning: {w}");
    }
    println!("      {} PCR 7 events recorded", baseline.events.len());

    step(
        "3",
        "evaluate with freshness explicitly NOT checked (no verifier nonce) and SHA-1 allowed",
    );
    let host = Host {
        challenge: &challenge,
        evidence: &evidence,
        registered: &[],
        now: 0,
    };
    // This published quote was made without any verifier's nonce and over SHA-1: the default
    // attestor refuses both. Saying so is the honest way to judge it at all.
    let attestor = hgs_attest::Attestor::new()
        .with_freshness(hgs_attest::FreshnessPolicy::NotChecked)
        .with_bank_policy(hgs_attest::BankPolicy::AllowSha1);
    let evaluate = |h: &Host<'_>, b: &[TpmBaseline]| attestor.evaluate(h, b, &[]);
    let v = evaluate(&host, std::slice::from_ref(&baseline));
    indent(&v);
    if v.checks.iter().any(|c| {
        c.name == hgs_attest::CheckId::Quote(HashAlg::Sha1)
            && !matches!(c.outcome, hgs_attest::CheckOutcome::Passed { .. })
    }) {
        bail!("the bundled quote must verify");
    }

    step("4", "tampered: one byte of one PCR 12 event digest changed");
    let parsed_log = hgs_tcglog::EventLog::parse(&log)?;
    let victim = parsed_log
        .events()
        .filter_map(Result::ok)
        .find(|e| e.pcr == 12)
        .ok_or_else(|| anyhow!("no PCR 12 event"))?;
    let mut bad = evidence.clone();
    bad.event_log[victim.offset + 8] ^= 0x01;
    let v = evaluate(
        &Host {
            evidence: &bad,
            ..host
        },
        std::slice::from_ref(&baseline),
    );
    let replay = v
        .failures
        .iter()
        .find(|f| matches!(f, Failure::ReplayMismatch { .. }))
        .ok_or_else(|| anyhow!("tampered evidence was not refused by the replay check"))?;
    println!("      REFUSED ({:?}): {replay}", v.status);
    println!(
        "      nothing the edited log says is evaluated: {} policies checked",
        v.policies.len()
    );
    Ok(())
}

#[cfg(not(feature = "demo"))]
fn tpm_demo() -> anyhow::Result<ExitCode> {
    println!(
        "\n== Parts 2 to 4 (software TPM) skipped: this hgs was built without the `demo` feature."
    );
    println!(
        "   Run bash scripts/demo (installs libtss2-dev swtpm swtpm-tools), or: cargo run --release --features demo --bin hgs -- demo"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "demo")]
fn tpm_demo() -> anyhow::Result<ExitCode> {
    use hgs_agent::tpm::agent::{answer_challenge, banks_of, to_evidence, ChallengeInput};
    use hgs_agent::tpm::ak::create_ak;
    use hgs_agent::tpm::ek::{platform_eks, EkProfile};
    use hgs_agent::tpm::{pcr, Tpm};
    use hgs_attest::policy::{CiPolicyRegistration, PolicyStore, RegistrationOptions};
    use hgs_testkit::synthetic::WindowsBoot;

    println!("\n== Part 2: the whole HGS flow on a real (software) TPM ==");
    if !(hgs_testkit::swtpm::on_path("swtpm") && hgs_testkit::swtpm::on_path("swtpm_setup")) {
        println!(
            "   skipped: swtpm is not installed (Debian/Ubuntu: apt-get install swtpm swtpm-tools)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    step(
        "5",
        "manufacture a TPM with EK certificates (swtpm_setup + swtpm-localca) and start it",
    );
    let sw = hgs_testkit::swtpm::Swtpm::start()?;
    let mut tpm = Tpm::open(&sw.tcti())?;
    println!("      swtpm pid {} on {}", sw.pid(), sw.tcti());

    step("6", "host boots: a Windows-like log (Secure Boot, VBS, HVCI, IOMMU, a CI policy) is extended into the PCRs");
    let boot = WindowsBoot::default();
    let log = boot.build();
    let n = pcr::replay_log(&mut tpm, &log)?;
    println!("      {n} TPM2_PCR_Extend calls");

    step(
        "7",
        "host: platform identifier (EKpub + EK certificate from NV)",
    );
    let eks = platform_eks(&mut tpm)?;
    let rsa = eks
        .iter()
        .find(|e| e.profile == EkProfile::RsaL1)
        .ok_or_else(|| anyhow!("no RSA EK"))?;
    let ekpub = rsa
        .public
        .clone()
        .ok_or_else(|| anyhow!("RSA EK public missing"))?;
    println!(
        "      RSA-2048 EK, certificate: {}",
        rsa.certificate
            .as_ref()
            .map_or("none".to_string(), |c| format!("{} bytes DER", c.len()))
    );

    step(
        "8",
        "admin: install the TPM's CA (swtpm-localca), register the host under v2",
    );
    let mut store = PolicyStore::default();
    let localca = std::path::Path::new("/var/lib/swtpm-localca");
    let (roots, _) = hgs_cli::ekcheck::installable(localca).unwrap_or_default();
    println!(
        "      {} certificates installed from {}",
        roots.len(),
        localca.display()
    );
    store.trusted_certificates = roots;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let check = hgs_cli::ekcheck::check_ek_certificate(
        rsa.certificate.as_deref(),
        &ekpub,
        &store.trusted_certificates,
        hgs_ekcert::UnixTime(now),
    );
    let options = match &check {
        hgs_attest::policy::EkCertificateCheck::Trusted(id) => {
            println!(
                "      EK certificate trusted: chain {}",
                id.chain.join(" <- ")
            );
            RegistrationOptions::default()
        }
        other => {
            println!(
                "      EK certificate not trusted ({other:?}): registering under v1 with force"
            );
            RegistrationOptions {
                version: PolicyVersion::V1,
                force: true,
            }
        }
    };
    let version = options.version;
    let host = store
        .add_host(
            "demo-host",
            &ekpub,
            rsa.certificate.as_deref(),
            check,
            options,
        )?
        .clone();
    println!(
        "      host demo-host registered ({version}, EK {})",
        &host.ek_fingerprint.to_string()[..16]
    );

    step("9", "admin: TPM baseline (validated: Secure Boot, IOMMU, VBS, CI policy) and CI policy from the reference log");
    store.add_baseline(TpmBaseline::from_reference_log(
        "demo-class",
        version,
        BaselineProfile::default(),
        &log,
        false,
    )?)?;
    store.add_ci_policy(CiPolicyRegistration::from_reference_log(
        "demo-ci", version, &log, None,
    )?)?;
    println!("      baseline demo-class and CI policy demo-ci registered");

    step(
        "10",
        "host: AK; verifier: challenge = MakeCredential(EK, AK name, fresh secret)",
    );
    let ak = create_ak(&mut tpm, EkProfile::RsaL1)?;
    let ak_public = ak
        .public_bytes()
        .ok_or_else(|| anyhow!("AK state without public"))?;
    let baselines: Vec<_> = store.baselines.values().cloned().collect();
    let required = hgs_attest::Attestor::new()
        .with_settings(store.settings.clone())
        .required_pcrs(&baselines);
    let now = crate::admin::now_unix()?;
    let request = hgs_attest::ChallengeRequest::new(required, now);
    let (challenge, msg) =
        hgs_attest::new_challenge(&host, &ak_public, &request, &mut rand_core::OsRng)?;
    println!(
        "      PCRs {} (the checks in force read {required}), bank sha256",
        msg.pcrs
    );

    step(
        "11",
        "host: activate the credential, quote with the secret as nonce, attach the log",
    );
    let pcrs: Vec<u8> = msg
        .pcrs
        .iter()
        .filter_map(|p| u8::try_from(p).ok())
        .collect();
    let banks = banks_of(&msg.banks);
    let answer = answer_challenge(
        &mut tpm,
        &ak,
        &ChallengeInput {
            credential_blob: &msg.credential_blob,
            encrypted_secret: &msg.encrypted_secret,
            pcrs: &pcrs,
            banks: &banks,
        },
    )?;
    let evidence = to_evidence(&ak_public, &answer, &log);

    step("12", "verifier: the verdict");
    let hosts = vec![host];
    let policies: Vec<_> = store.ci_policies.values().cloned().collect();
    let judge = |e: &Evidence, c: &Challenge| {
        hgs_attest::Attestor::new()
            .with_settings(store.settings.clone())
            .evaluate(
                &Host {
                    challenge: c,
                    evidence: e,
                    registered: &hosts,
                    now,
                },
                &baselines,
                &policies,
            )
    };
    let v = judge(&evidence, &challenge);
    indent(&v);
    if !v.passed() {
        bail!("the healthy software-TPM host must pass");
    }

    step(
        "13",
        "tampered: the same evidence against a new challenge (a replayed quote)",
    );
    let (fresh, _) =
        hgs_attest::new_challenge(&hosts[0], &ak_public, &request, &mut rand_core::OsRng)?;
    let v = judge(&evidence, &fresh);
    match v.failures.first() {
        Some(f @ Failure::Quote { .. }) => println!("      REFUSED ({:?}): {f}", v.status),
        other => bail!("replayed quote not refused: {other:?}"),
    }
    drop(tpm);
    let mut sw = sw;
    service_demo(&mut sw, &ekpub, &log, &ak)?;
    drop(sw);
    println!("\nDemo complete.");
    Ok(ExitCode::SUCCESS)
}

/// `hgs serve` killed when the demo ends, however it ends.
#[cfg(feature = "demo")]
struct Served(std::process::Child);

#[cfg(feature = "demo")]
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Part 3: the same host attests to the service over HTTPS.
#[cfg(feature = "demo")]
fn service_demo(
    sw: &mut hgs_testkit::swtpm::Swtpm,
    ekpub: &[u8],
    log: &[u8],
    ak: &hgs_agent::tpm::ak::AkState,
) -> anyhow::Result<()> {
    use hgs_agent::tpm::agent::{answer_challenge, banks_of, to_evidence, ChallengeInput};
    use std::process::Command;

    let tcti = &sw.tcti();
    println!("\n== Part 3: the attestation service (hgs serve on SQLite) and its agent ==");
    let dir = std::env::temp_dir().join(format!("hgs-demo-service-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("agent"))?;
    std::fs::write(dir.join("boot.log"), log)?;
    std::fs::write(dir.join("agent/ak.json"), serde_json::to_vec(ak)?)?;
    let admin_token = hgs_cli::hex::hex(&{
        let mut t = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut t);
        t
    });
    std::fs::write(dir.join("admin-token"), &admin_token)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("https://{listen}");
    let hgs = std::env::current_exe()?;

    step(
        "14",
        "hgs serve: HTTPS on a loopback port, SQLite, self-signed certificate",
    );
    let _served = Served(
        Command::new(&hgs)
            .current_dir(&dir)
            .args(["serve", "--listen", &listen, "--db", "sqlite:server.db"])
            .args([
                "--admin-token-file",
                "admin-token",
                "--cert-out",
                "server.pem",
            ])
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() || !dir.join("server.pem").exists() {
        if std::time::Instant::now() > deadline {
            bail!("hgs serve did not start on {listen}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!("      listening on {url}");
    let cert = reqwest::Certificate::from_pem(&std::fs::read(dir.join("server.pem"))?)?;
    let http = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert)
        .build()?;
    let hex = hgs_cli::hex::hex;
    let admin = |path: &str, body: serde_json::Value| -> anyhow::Result<()> {
        let r = http
            .put(format!("{url}{path}"))
            .bearer_auth(&admin_token)
            .json(&body)
            .send()?;
        if !r.status().is_success() {
            bail!("{path}: {} {}", r.status(), r.text()?);
        }
        Ok(())
    };

    step(
        "15",
        "admin over the API: the host (v1), its baseline and CI policy",
    );
    admin(
        "/v1/hosts/demo-host",
        serde_json::json!({ "ekpub": hex(ekpub), "policy_version": "v1", "force": true }),
    )?;
    for path in ["/v1/baselines/demo-class", "/v1/ci-policies/demo-ci"] {
        admin(
            path,
            serde_json::json!({ "reference_log": hex(log), "policy_version": "v1" }),
        )?;
    }
    println!("      registered");

    step(
        "16",
        "host: hgs agent run --once (challenge, TPM answer, verdict, token)",
    );
    let out = Command::new(&hgs)
        .current_dir(&dir)
        .args([
            "agent",
            "run",
            "--once",
            "--server",
            &url,
            "--server-cert",
            "server.pem",
        ])
        .args([
            "--host",
            "demo-host",
            "--log",
            "boot.log",
            "--state",
            "agent",
            "--tcti",
            tcti,
        ])
        .output()?;
    for line in String::from_utf8_lossy(&out.stdout).lines().take(4) {
        println!("      {line}");
    }
    if !out.status.success() {
        bail!(
            "the agent's round failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    step(
        "17",
        "relying party: verify the token offline with the service's published key",
    );
    let token = std::fs::read_to_string(dir.join("agent/token.jwt"))?;
    let jwk = http.get(format!("{url}/v1/token-key")).send()?.text()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let verified = hgs_attest::TokenVerifier::new()
        .with_public_jwk(&jwk)?
        .verify(&token, now)?;
    let c = verified.claims();
    println!(
        "      host {}, status {:?}, policy {}, EK {}..., valid until {} ({}s), affirming: {}",
        c.host.as_deref().unwrap_or("-"),
        c.status,
        c.policy_version
            .map_or_else(|| "-".to_string(), |v| v.to_string()),
        &c.ek_fingerprint.to_string()[..16],
        c.expires_at,
        c.expires_at.saturating_sub(now),
        verified.is_affirming(now)
    );

    step(
        "18",
        "tampered: the same answer submitted twice (a replayed challenge)",
    );
    let ak_public = ak
        .public_bytes()
        .ok_or_else(|| anyhow!("AK state without public"))?;
    let msg: hgs_attest::ChallengeMessage = http
        .post(format!("{url}/v1/challenges"))
        .json(&serde_json::json!({ "host": "demo-host", "ak_public": hex(&ak_public) }))
        .send()?
        .json()?;
    let mut tpm = hgs_agent::tpm::Tpm::open(tcti)?;
    let pcrs: Vec<u8> = msg
        .pcrs
        .iter()
        .filter_map(|p| u8::try_from(p).ok())
        .collect();
    let answer = answer_challenge(
        &mut tpm,
        ak,
        &ChallengeInput {
            credential_blob: &msg.credential_blob,
            encrypted_secret: &msg.encrypted_secret,
            pcrs: &pcrs,
            banks: &banks_of(&msg.banks),
        },
    )?;
    drop(tpm);
    let mut evidence = to_evidence(&ak_public, &answer, log);
    evidence.challenge_id = msg.id.clone();
    let submit = || -> anyhow::Result<(u16, serde_json::Value)> {
        let r = http
            .post(format!("{url}/v1/attestations"))
            .json(&evidence)
            .send()?;
        Ok((r.status().as_u16(), r.json()?))
    };
    let (first, body) = submit()?;
    println!(
        "      first submission: {first}, {}",
        body["verdict"]["status"].as_str().unwrap_or("-")
    );
    let (second, body) = submit()?;
    if second < 400 {
        bail!("a replayed challenge was accepted");
    }
    println!(
        "      REFUSED ({second}): {}: {}",
        body["error"].as_str().unwrap_or("-"),
        body["message"].as_str().unwrap_or("-")
    );
    key_protection_demo(
        sw,
        &dir,
        &Service {
            url: &url,
            http: &http,
            admin_token: &admin_token,
        },
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The running service, for part 4.
#[cfg(feature = "demo")]
struct Service<'a> {
    url: &'a str,
    http: &'a reqwest::blocking::Client,
    admin_token: &'a str,
}

/// Part 4: the key protection service. The owner makes a key protector offline for the
/// service's guardian; the administrator stores a secret with a release policy; the guarded host
/// gets both, encrypted to the decryption key in its TPM, and decrypts them there; after a
/// tampered boot of the same TPM it is refused.
#[cfg(feature = "demo")]
fn key_protection_demo(
    sw: &mut hgs_testkit::swtpm::Swtpm,
    dir: &std::path::Path,
    service: &Service<'_>,
) -> anyhow::Result<()> {
    use hgs_testkit::synthetic::WindowsBoot;
    use std::process::{Command, Output};

    println!("\n== Part 4: key protection (guardians, key protectors, secrets) ==");
    let hgs = std::env::current_exe()?;
    let run = |args: &[&str]| -> anyhow::Result<Output> {
        Ok(Command::new(&hgs).current_dir(dir).args(args).output()?)
    };
    let ok = |args: &[&str]| -> anyhow::Result<Output> {
        let out = run(args)?;
        if !out.status.success() {
            bail!(
                "hgs {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out)
    };
    let url = service.url;

    step(
        "19",
        "owner: hgs guardian new (New-HgsGuardian); the fabric's guardian: hgs guardian export (Export-HgsGuardian)",
    );
    ok(&[
        "guardian",
        "new",
        "--name",
        "Demo Owner",
        "--cert-out",
        "owner.pem",
        "--key-out",
        "owner.key",
    ])?;
    ok(&[
        "guardian",
        "export",
        "--server",
        url,
        "--server-cert",
        "server.pem",
        "--name",
        "default",
        "--out",
        "fabric.pem",
    ])?;
    println!("      owner.pem (key in owner.key, 0600), fabric.pem (the service holds its key)");

    step(
        "20",
        "owner, offline: hgs key-protector new --owner owner.pem --guardian fabric.pem (New-HgsKeyProtector)",
    );
    ok(&[
        "key-protector",
        "new",
        "--owner",
        "owner.pem",
        "--guardian",
        "fabric.pem",
        "--out",
        "vm.kp",
        "--transport-key-out",
        "vm.transport-key",
    ])?;
    let shown = ok(&["key-protector", "show", "vm.kp"])?;
    for line in String::from_utf8_lossy(&shown.stdout).lines().take(4) {
        println!("      {line}");
    }

    step(
        "21",
        "admin: a secret released to every guarded host under policy v1 or later (PUT /v1/secrets/vm-disk-key)",
    );
    let secret = b"demo disk-encryption key: 0123456789abcdef";
    let r = service
        .http
        .put(format!("{url}/v1/secrets/vm-disk-key"))
        .bearer_auth(service.admin_token)
        .json(&serde_json::json!({
            "value": base64url(secret),
            "policy": {"hosts": "all_guarded", "min_policy_version": "v1"},
        }))
        .send()?;
    if !r.status().is_success() {
        bail!("storing the secret: {} {}", r.status(), r.text()?);
    }
    println!("      stored, encrypted at rest under the service's master key");

    let agent = |verb: &[&str], state: &str, tcti: &str| -> anyhow::Result<Output> {
        let mut args = verb.to_vec();
        args.extend([
            "--server",
            url,
            "--server-cert",
            "server.pem",
            "--host",
            "demo-host",
            "--log",
            "boot.log",
            "--state",
            state,
            "--tcti",
            tcti,
        ]);
        run(&args)
    };
    let tcti = sw.tcti();

    step(
        "22",
        "host: hgs agent secret get vm-disk-key --out disk.key (JWE to its TPM-bound key, TPM2_RSA_Decrypt)",
    );
    let out = agent(
        &["agent", "secret", "get", "vm-disk-key", "--out", "disk.key"],
        "agent",
        &tcti,
    )?;
    if !out.status.success() {
        bail!(
            "the secret was not released: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if std::fs::read(dir.join("disk.key"))? != secret {
        bail!("the released secret differs from the one stored");
    }
    println!(
        "      disk.key ({} bytes, 0600) = the stored secret",
        secret.len()
    );

    step(
        "23",
        "host: hgs agent key-protector unwrap vm.kp (the service re-encrypts the transport key to the TPM)",
    );
    let out = agent(
        &[
            "agent",
            "key-protector",
            "unwrap",
            "vm.kp",
            "--out",
            "vm.key",
        ],
        "agent",
        &tcti,
    )?;
    if !out.status.success() {
        bail!(
            "the key protector was not unwrapped: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if std::fs::read(dir.join("vm.key"))? != std::fs::read(dir.join("vm.transport-key"))? {
        bail!("the unwrapped transport key differs from the owner's");
    }
    println!("      vm.key = the transport key the owner made");

    step(
        "24",
        "tampered: the same TPM reboots with Secure Boot off; its agent attests and asks again",
    );
    sw.reboot()?;
    let tcti = sw.tcti();
    let bad = WindowsBoot {
        secure_boot: false,
        ..WindowsBoot::default()
    }
    .build();
    {
        let mut tpm = hgs_agent::tpm::Tpm::open(&tcti)?;
        hgs_agent::tpm::pcr::replay_log(&mut tpm, &bad)?;
    }
    std::fs::write(dir.join("boot.log"), &bad)?;
    // After a reboot the agent holds no token for this boot: a fresh state directory (a new AK
    // and bound key in the same TPM) attests first.
    ok(&[
        "agent",
        "ak",
        "--out",
        "ak-after-reboot.pub",
        "--state",
        "agent-rebooted",
        "--tcti",
        &tcti,
    ])?;
    let out = agent(
        &[
            "agent",
            "secret",
            "get",
            "vm-disk-key",
            "--out",
            "disk2.key",
        ],
        "agent-rebooted",
        &tcti,
    )?;
    if out.status.success() || dir.join("disk2.key").exists() {
        bail!("a host with a tampered boot was released the secret");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let shown = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("created the bound key"));
    for (i, line) in shown.take(3).enumerate() {
        println!(
            "      {}{line}",
            if i == 0 { "REFUSED: " } else { "         " }
        );
    }
    Ok(())
}

/// Base64url without padding (the secret's wire form).
#[cfg(feature = "demo")]
fn base64url(bytes: &[u8]) -> String {
    use base64ct::Encoding as _;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}
