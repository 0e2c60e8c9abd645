//! `hgs demo`: the main job in one command.
//!
//! 1. Read-only, no TPM needed: the bundled real Windows evidence (GCE Shielded VM, from
//!    go-attestation's testdata, see `examples/data/ga_windows_gcp_shielded_vm/README.md`) — parse
//!    the log, replay it, verify the AK's quote over the replayed PCRs, derive the boot claims —
//!    then the same evidence tampered, failing with its reason.
//! 2. With a software TPM (feature `tpm`, `swtpm` installed; skipped with `--offline`): the whole
//!    TPM round trip on a real TPM — EK and EK certificate from NV, the Windows log replayed into
//!    the TPM's PCRs, an AK created, the credential made in Rust and activated by the TPM, a quote
//!    whose nonce is the activated secret, verified against the log — then a stale nonce and an
//!    edited log, each refused with its reason.
//!
//! The HGS policy layer (registered hosts, baselines, CI policies, `Hgs_*` rules and a Verdict) is
//! not part of this build yet: the demo stops at verified, TPM-bound evidence and its claims.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use hgs_attest::quote::{verify_quote, QuoteError, QuoteRequirements};
use hgs_tcglog::{replay, BootClaims, EventLog, HashAlg};
use hgs_tpm::RustCryptoVerifier;

use crate::util::{hex, read_file};

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
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/ga_windows_gcp_shielded_vm")
        }
    })
}

fn step(n: &str, text: &str) {
    println!("\n[{n}] {text}");
}

/// Runs `hgs demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = data_dir(args.data);
    offline_demo(&dir)?;
    if args.offline {
        return Ok(ExitCode::SUCCESS);
    }
    tpm_demo(&dir)
}

fn pcr_map(log_bytes: &[u8], bank: HashAlg) -> anyhow::Result<hgs_tcglog::PcrBanks> {
    let log = EventLog::parse(log_bytes)?;
    Ok(replay::replay_banks(&log, &[bank])?)
}

fn print_claims(c: &BootClaims) {
    let b = |o: &Option<hgs_tcglog::Claim<bool>>| {
        o.as_ref().map_or("not in log".to_string(), |c| {
            format!("{} (event {}, PCR {})", c.value, c.event_index, c.pcr)
        })
    };
    println!("      Secure Boot           {}", b(&c.secure_boot));
    println!("      full boot (no resume) {}", b(&c.full_boot));
    println!("      kernel debugging      {}", b(&c.kernel_debugging));
    println!("      boot debugging        {}", b(&c.boot_debugging));
    println!("      test signing          {}", b(&c.test_signing));
    println!("      code integrity        {}", b(&c.code_integrity));
    println!("      VBS running           {}", b(&c.vbs_running));
    println!("      hibernation disabled  {}", b(&c.hibernation_disabled));
    println!("      dumps disabled        {}", b(&c.dumps_disabled));
    if let Some(n) = &c.boot_counter {
        println!(
            "      boot counter          {} (event {})",
            n.value, n.event_index
        );
    }
    for p in &c.si_policies {
        println!(
            "      CI policy             {} sha256:{} (event {})",
            p.name,
            hex(&p.digest),
            p.event_index
        );
    }
    println!("      loaded boot modules   {}", c.loaded_modules.len());
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

    step("1", "parse the TCG log and replay it");
    let parsed = EventLog::parse(&log).context("event_log.bin")?;
    let events = parsed.read_all()?;
    let pcrs = replay::replay(&parsed)?;
    println!(
        "      {} events, format {:?}, banks {:?}",
        events.len(),
        parsed.format(),
        parsed.banks()
    );
    println!(
        "      replayed SHA-1 PCR 7  = {}",
        hex(pcrs.get(HashAlg::Sha1, 7).unwrap_or_default())
    );
    println!(
        "      replayed SHA-1 PCR 12 = {}",
        hex(pcrs.get(HashAlg::Sha1, 12).unwrap_or_default())
    );
    let mismatches = hgs_tcglog::digest_check::verify_digests(&parsed)?;
    println!(
        "      events whose digest does not cover their data: {}",
        mismatches.len()
    );

    step(
        "2",
        "verify the AK's quote: signature over the exact bytes, PCR digest = replayed log",
    );
    let all: Vec<u32> = (0..24).collect();
    let req = QuoteRequirements {
        nonce: &[],
        bank: HashAlg::Sha1.tpm_alg_id(),
        required_pcrs: &all,
    };
    let q = verify_quote(
        &ak,
        &attest,
        &sig,
        &req,
        |b, p| (b == 4).then(|| pcrs.get(HashAlg::Sha1, p)).flatten(),
        &RustCryptoVerifier,
    )
    .map_err(|e| anyhow!("the bundled quote must verify: {e}"))?;
    println!(
        "      quote OK: 24 SHA-1 PCRs, digest {}, TPM clock {} ms",
        hex(&q.pcr_digest),
        q.clock
    );
    println!("      (this source quote carries an empty nonce, so it proves authenticity, not freshness)");

    step("3", "boot claims, each from the event that decided it");
    print_claims(&BootClaims::from_log(&parsed)?);
    println!("      no EK certificate in this evidence: HGS policy v2 would refuse to register the host;");
    println!("      v1 accepts it only with -Force.");

    step("4", "tampered: one byte of one PCR 12 event digest changed");
    let victim = events
        .iter()
        .find(|e| e.pcr == 12)
        .ok_or_else(|| anyhow!("no PCR 12 event"))?;
    let mut bad = log.clone();
    // Legacy record: pcr(4) type(4) SHA-1 digest(20) ...
    bad[victim.offset + 8] ^= 0x01;
    let bad_pcrs = pcr_map(&bad, HashAlg::Sha1)?;
    match verify_quote(
        &ak,
        &attest,
        &sig,
        &req,
        |b, p| (b == 4).then(|| bad_pcrs.get(HashAlg::Sha1, p)).flatten(),
        &RustCryptoVerifier,
    ) {
        Err(QuoteError::DigestMismatch { quoted, computed }) => {
            println!("      REFUSED (as it must be): the log no longer replays to the quoted PCRs");
            println!("      quoted digest {quoted}\n      log gives     {computed}");
        }
        other => bail!("tampered evidence was not refused by the PCR digest check: {other:?}"),
    }
    step(
        "5",
        "tampered: the data of a SIPA event changed (digest left alone)",
    );
    let tag = events
        .iter()
        .find(|e| {
            e.pcr == 12 && e.event_type == hgs_tcglog::EventType::EventTag && e.data.len() > 16
        })
        .ok_or_else(|| anyhow!("no PCR 12 SIPA event"))?;
    let mut bad = log.clone();
    bad[tag.offset + 32 + tag.data.len() - 1] ^= 0x01;
    let bad_log = EventLog::parse(&bad)?;
    let claims = BootClaims::from_log(&bad_log)?;
    println!(
        "      event {} is now untrusted (its digest does not cover its data) and its claims are ignored: untrusted events {:?}",
        tag.index, claims.untrusted_events
    );
    if !claims.untrusted_events.contains(&tag.index) {
        bail!("edited event data was trusted");
    }
    Ok(())
}

#[cfg(not(feature = "tpm"))]
fn tpm_demo(_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    println!("\n== Part 2 (software TPM) skipped: this hgs was built without the `tpm` feature.");
    println!("   Install libtss2-dev swtpm swtpm-tools, then: cargo run --release --features tpm --bin hgs -- demo");
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "tpm")]
fn tpm_demo(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    use hgs_attest::credential::{check_ak_attributes, make_credential};
    use hgs_cli::tpm::agent::{answer_challenge, ChallengeInput};
    use hgs_cli::tpm::ak::create_ak;
    use hgs_cli::tpm::ek::{platform_eks, EkProfile};
    use hgs_cli::tpm::quote::Bank;
    use hgs_cli::tpm::{pcr, Tpm};

    println!("\n== Part 2: the same host state on a real (software) TPM ==");
    if !(hgs_cli::swtpm::on_path("swtpm") && hgs_cli::swtpm::on_path("swtpm_setup")) {
        println!(
            "   skipped: swtpm is not installed (Debian/Ubuntu: apt-get install swtpm swtpm-tools)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    step(
        "6",
        "manufacture a TPM with EK certificates (swtpm_setup + swtpm-localca) and start it",
    );
    let sw = hgs_cli::swtpm::Swtpm::start()?;
    let mut tpm = Tpm::open(&sw.tcti())?;
    println!("      swtpm pid {} on {}", sw.pid(), sw.tcti());

    step(
        "7",
        "host: platform identifier (EKpub + EK certificate from NV)",
    );
    let eks = platform_eks(&mut tpm)?;
    let rsa = eks
        .iter()
        .find(|e| e.profile == EkProfile::RsaL1)
        .ok_or_else(|| anyhow!("no RSA EK"))?;
    let ek_public = rsa
        .public
        .clone()
        .ok_or_else(|| anyhow!("RSA EK public missing"))?;
    println!(
        "      RSA-2048 EK, certificate at NV 0x{:08x}: {}",
        rsa.cert_nv_index,
        rsa.certificate
            .as_ref()
            .map_or("none".to_string(), |c| format!("{} bytes DER", c.len()))
    );

    step(
        "8",
        "host: boot — extend the Windows log's measurements into the TPM's PCRs",
    );
    let log = read_file(&dir.join("event_log.bin"))?;
    let n = pcr::replay_log(&mut tpm, &log)?;
    println!("      {n} TPM2_PCR_Extend calls");

    step(
        "9",
        "host: create an AK (restricted signing key under the EK)",
    );
    let ak = create_ak(&mut tpm, EkProfile::RsaL1)?;
    let ak_public = ak
        .public_bytes()
        .ok_or_else(|| anyhow!("AK state without public"))?;
    check_ak_attributes(&ak_public)?;
    let ak_name = hgs_tpm::Public::parse(&ak_public)?.name()?;
    println!("      AK name {}", hex(&ak_name));

    step(
        "10",
        "verifier: challenge = MakeCredential(EK, AK name, fresh secret), in pure Rust",
    );
    let mut secret = [0u8; 32];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut secret)?;
    let cred = make_credential(&ek_public, &ak_name, &secret, &mut rand_core::OsRng)?;
    println!(
        "      secret {} ({} byte credential blob)",
        hex(&secret),
        cred.credential_blob.len()
    );

    step(
        "11",
        "host: activate the credential and quote PCRs 0-23 (SHA-1) with the secret as nonce",
    );
    let pcrs: Vec<u8> = (0..24).collect();
    let banks = [Bank::from_name("sha1").ok_or_else(|| anyhow!("sha1 bank"))?];
    let answer = answer_challenge(
        &mut tpm,
        &ak,
        &ChallengeInput {
            credential_blob: &cred.credential_blob,
            encrypted_secret: &cred.encrypted_secret,
            pcrs: &pcrs,
            banks: &banks,
        },
    )?;
    let quote = answer.quotes.first().ok_or_else(|| anyhow!("no quote"))?;

    step(
        "12",
        "verifier: the quote is signed by that AK, carries the secret, and matches the log",
    );
    let replayed = pcr_map(&log, HashAlg::Sha1)?;
    let all: Vec<u32> = (0..24).collect();
    let req = QuoteRequirements {
        nonce: &secret,
        bank: HashAlg::Sha1.tpm_alg_id(),
        required_pcrs: &all,
    };
    let lookup = |b: u16, p: u32| (b == 4).then(|| replayed.get(HashAlg::Sha1, p)).flatten();
    verify_quote(
        &ak_public,
        &quote.attest,
        &quote.signature,
        &req,
        lookup,
        &RustCryptoVerifier,
    )
    .map_err(|e| anyhow!("fresh quote refused: {e}"))?;
    println!(
        "      PASSED: the AK is in the TPM holding the EK (it recovered the secret), the quote is"
    );
    println!("      fresh (nonce = secret), and the Windows log replays to the quoted PCRs.");

    step("13", "tampered runs, each refused with its reason");
    let stale = QuoteRequirements {
        nonce: &[0u8; 32],
        ..req
    };
    match verify_quote(
        &ak_public,
        &quote.attest,
        &quote.signature,
        &stale,
        lookup,
        &RustCryptoVerifier,
    ) {
        Err(e @ QuoteError::NonceMismatch { .. }) => {
            println!("      replayed old quote: REFUSED — {e}")
        }
        other => bail!("stale nonce not refused: {other:?}"),
    }
    let parsed = EventLog::parse(&log)?;
    let victim = parsed
        .read_all()?
        .into_iter()
        .find(|e| e.pcr == 13)
        .ok_or_else(|| anyhow!("no PCR 13 event"))?;
    let mut edited = log.clone();
    edited[victim.offset + 8] ^= 0x01;
    let edited_pcrs = pcr_map(&edited, HashAlg::Sha1)?;
    match verify_quote(
        &ak_public,
        &quote.attest,
        &quote.signature,
        &req,
        |b, p| {
            (b == 4)
                .then(|| edited_pcrs.get(HashAlg::Sha1, p))
                .flatten()
        },
        &RustCryptoVerifier,
    ) {
        Err(e @ QuoteError::DigestMismatch { .. }) => {
            println!("      log with one PCR 13 measurement edited: REFUSED — {e}")
        }
        other => bail!("edited log not refused: {other:?}"),
    }
    drop(tpm);
    drop(sw);
    println!("\nDemo complete.");
    Ok(ExitCode::SUCCESS)
}
