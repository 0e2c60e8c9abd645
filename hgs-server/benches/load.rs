//! Load benchmark of the attestation service (a benchmark, not a test: it measures and prints,
//! it asserts nothing about time).
//!
//! Simulated hosts (software P-256 EK and AK over the synthetic Windows boot, the same
//! `SimulatedHost` the server tests use) attest through the whole stack — HTTPS (rustls), axum,
//! the store, `evaluate`, the token — as fast as `HGS_BENCH_CONCURRENCY` clients can, for
//! `HGS_BENCH_SECONDS`, with SQLite and, when `HGS_TEST_POSTGRES_URL` names a server, PostgreSQL.
//! The load generator (TLS client, credential activation, ECDSA quotes) runs on the same 2 cores.
//! Bare `evaluate` on one host's evidence is measured in the same run, so the service's cost per
//! attestation reads against the library's.
//!
//! The vendor certificates of the real `TrustedTpm.cab` (`../shared/corpus/ekcert/trustedtpm`,
//! about 2,000) are installed first when that file is there, as a production server has them:
//! they must cost an attestation nothing.
//!
//! `cargo bench -p hgs-server --bench load` (set `HGS_BENCH_HOSTS`, `HGS_BENCH_SECONDS`,
//! `HGS_BENCH_CONCURRENCY` to change the run; defaults 200 hosts, 10 s, 32 clients;
//! `HGS_BENCH_ENGINES=sqlite` or `=postgres` runs one engine). After the attestations, the
//! same hosts' tokens (naming a bound key each) release a secret for as long, on the same
//! server: releases/s and p50/p99 next to attestations/s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

/// The allocator `hgs serve` runs with (the `hgs` binary sets it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{healthy, Running, SimulatedHost};
use hgs_attest::policy::{
    CiPolicyRegistration, EkCertificateCheck, PolicyStore, PolicyVersion, RegistrationOptions,
    TpmBaseline,
};
use hgs_attest::{new_challenge, Attestor, ChallengeRequest, Host};
use hgs_server::{PostgresStore, RateLimits, Server, ServerConfig, SqliteStore, Store};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU time of this process so far (Linux /proc, clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Bare `evaluate` on one simulated host's evidence: µs per call (wall and CPU).
fn bare_evaluate() -> (f64, f64) {
    let sim = SimulatedHost::new("BARE", &healthy());
    let mut store = PolicyStore::default();
    let host = store
        .add_host(
            "BARE",
            sim.ek.public(),
            None,
            EkCertificateCheck::Missing,
            RegistrationOptions {
                version: PolicyVersion::V1,
                force: true,
            },
        )
        .unwrap()
        .clone();
    let reference = healthy().build();
    let baselines = vec![TpmBaseline::from_reference_log(
        "class",
        PolicyVersion::V1,
        Default::default(),
        &reference,
        false,
    )
    .unwrap()];
    let ci =
        vec![
            CiPolicyRegistration::from_reference_log("ci", PolicyVersion::V1, &reference, None)
                .unwrap(),
        ];
    let attestor = Attestor::new();
    let request = ChallengeRequest::new(attestor.required_pcrs(&baselines), now());
    let (challenge, msg) =
        new_challenge(&host, sim.ak.public(), &request, &mut rand_core::OsRng).unwrap();
    let evidence = sim.answer(&msg);
    let hosts = [host];
    let h = Host {
        challenge: &challenge,
        evidence: &evidence,
        registered: &hosts,
        now: now(),
    };
    assert!(attestor.evaluate(&h, &baselines, &ci).passed());
    let n = 2000;
    let (t0, c0) = (Instant::now(), cpu_time());
    for _ in 0..n {
        std::hint::black_box(attestor.evaluate(std::hint::black_box(&h), &baselines, &ci));
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    (per(t0.elapsed()), per(cpu_time() - c0))
}

/// Installs the real TrustedTpm.cab's anchors and intermediates over the admin API, when the
/// shared corpus is beside the repository; returns how many.
async fn install_trusted_tpm_cab<S: Store>(r: &Running<S>) -> usize {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/ekcert/trustedtpm/TrustedTpm.cab"
    );
    let Ok(cab) = std::fs::read(path) else {
        eprintln!("{path} not found: no vendor roots installed");
        return 0;
    };
    let package = hgs_ekcert::read_trusted_tpm_cab(
        &cab,
        hgs_ekcert::UnixTime(i64::try_from(now()).unwrap()),
        hgs_ekcert::SignaturePolicy::AllowUnsigned,
    )
    .unwrap();
    let mut n = 0;
    for (role, certs) in [
        ("root", &package.anchors),
        ("intermediate", &package.intermediates),
    ] {
        for c in certs {
            let resp = r
                .client
                .post(r.url("/v1/roots"))
                .bearer_auth(common::ADMIN)
                .json(&serde_json::json!({
                    "role": role,
                    "der": hgs_tpm::hex::encode(c.certificate.der()),
                    "vendor": c.vendor,
                }))
                .send()
                .await
                .unwrap();
            // The cabinet holds a few certificates twice (under two vendors): 409.
            assert!(
                resp.status() == 201 || resp.status() == 409,
                "{}",
                resp.status()
            );
            n += usize::from(resp.status() == 201);
        }
    }
    n
}

struct Report {
    engine: &'static str,
    roots: usize,
    accepted: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_attestation: Duration,
    releases: usize,
    release_seconds: f64,
    release_p50: Duration,
    release_p99: Duration,
}

/// The token key of the bench's server, so the load generator can mint the tokens a host's
/// attestation would carry once `cnf` is set by the verdict.
fn bench_signer() -> hgs_attest::TokenSigner {
    hgs_attest::TokenSigner::from_scalar_bytes(&[0x42; 32]).unwrap()
}

/// Secret releases (`POST /v1/secrets/{name}/release`) as fast as `concurrency` clients can
/// for `seconds`: each host presents a token naming its own P-256 bound key; the server
/// verifies it, reads the registration, policy and cut-off, opens the sealed value and
/// encrypts it to the key (one JWE). Every answer is checked to be a JWE; the first of each
/// client is decrypted with the host's key.
async fn releases<S: Store>(
    r: &Arc<Running<S>>,
    hosts: &Arc<Vec<SimulatedHost>>,
    seconds: u64,
    concurrency: usize,
) -> (usize, f64, Duration, Duration) {
    let value = vec![0x5a_u8; 1024];
    let resp = r
        .admin_put(
            "/v1/secrets/bench-vm-key",
            &serde_json::json!({
                "value": <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(&value),
                "policy": { "hosts": "all_guarded", "min_policy_version": "v1" },
            }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let signer = bench_signer();
    let keys: Vec<hgs_keys::SoftP256Key> = (0..hosts.len())
        .map(|i| {
            let mut seed = [0x11_u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            hgs_keys::SoftP256Key::from_scalar_bytes(&seed).unwrap()
        })
        .collect();
    let tokens: Arc<Vec<String>> = Arc::new(
        hosts
            .iter()
            .zip(&keys)
            .map(|(h, k)| {
                let ek = hgs_attest::policy::ek_fingerprint(h.ek.public()).unwrap();
                let mut claims = hgs_attest::TokenClaims::new(
                    Some(h.name.clone()),
                    ek,
                    hgs_attest::AttestationStatus::Passed,
                    now(),
                    3600,
                )
                .with_bound_key(k.bound_key().clone());
                claims.policy_version = Some(PolicyVersion::V1);
                signer.sign(&claims).unwrap()
            })
            .collect(),
    );
    let keys = Arc::new(keys);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (r, tokens, keys, next) = (r.clone(), tokens.clone(), keys.clone(), next.clone());
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < stop {
                let i = next.fetch_add(1, Ordering::Relaxed) % tokens.len();
                let started = Instant::now();
                let resp = r
                    .client
                    .post(r.url("/v1/secrets/bench-vm-key/release"))
                    .bearer_auth(&tokens[i])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let jwe = resp.text().await.unwrap();
                latencies.push(started.elapsed());
                assert_eq!(jwe.split('.').count(), 5);
                if latencies.len() == 1 {
                    let mut k = keys[i].clone();
                    let bound = k.bound_key().clone();
                    assert_eq!(hgs_keys::decrypt(&jwe, &bound, &mut k).unwrap(), value);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = t0.elapsed().as_secs_f64();
    all.sort_unstable();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    (all.len(), elapsed, pick(0.50), pick(0.99))
}

async fn run<S: Store>(engine: &'static str, store: S) -> Report {
    let hosts_n = env("HGS_BENCH_HOSTS", 200) as usize;
    let seconds = env("HGS_BENCH_SECONDS", 10);
    let concurrency = env("HGS_BENCH_CONCURRENCY", 32) as usize;
    let r = Arc::new(
        Running::start(
            Server::new(
                ServerConfig {
                    // Every simulated host attests from this machine's one address.
                    rate_limits: RateLimits::none(),
                    token_key: Some(bench_signer()),
                    ..ServerConfig::new(common::ADMIN)
                },
                store,
            )
            .await
            .unwrap(),
        )
        .await,
    );
    r.register_policies().await;
    let roots = install_trusted_tpm_cab(&r).await;
    let hosts: Arc<Vec<SimulatedHost>> = Arc::new(
        (0..hosts_n)
            .map(|i| SimulatedHost::new(&format!("BENCH-{engine}-{i:05}"), &healthy()))
            .collect(),
    );
    for h in hosts.iter() {
        r.register(h).await;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let (t0, c0) = (Instant::now(), cpu_time());
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (r, hosts, next) = (r.clone(), hosts.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < stop {
                let host = &hosts[next.fetch_add(1, Ordering::Relaxed) % hosts.len()];
                let started = Instant::now();
                let msg = r.challenge(host).await;
                let evidence = host.answer(&msg);
                let (status, body) = r.attest(&evidence).await;
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["verdict"]["status"], "Passed", "{body}");
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_time() - c0;
    all.sort_unstable();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    let (released, release_seconds, release_p50, release_p99) =
        releases(&r, &hosts, seconds, concurrency).await;
    r.handle.shutdown();
    Report {
        engine,
        roots,
        accepted: all.len(),
        seconds: elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
        cpu_per_attestation: cpu / u32::try_from(all.len().max(1)).unwrap_or(u32::MAX),
        releases: released,
        release_seconds,
        release_p50,
        release_p99,
    }
}

struct FloodReport {
    flood_requests: usize,
    refused: usize,
    seconds: f64,
    legit: usize,
    legit_p50: Duration,
    legit_p99: Duration,
}

/// One client (127.0.0.1) floods challenges for one registered host as fast as 64 connections
/// go, under the default rate limits, while `HGS_BENCH_LEGIT` real hosts, each from its own
/// loopback address (127.0.1.x), attest once a second: their latency is what the flood costs.
async fn flood<S: Store>(store: S) -> FloodReport {
    let seconds = env("HGS_BENCH_SECONDS", 10);
    let legit_n = env("HGS_BENCH_LEGIT", 64) as usize;
    let r = Arc::new(
        Running::start(
            Server::new(ServerConfig::new(common::ADMIN), store)
                .await
                .unwrap(),
        )
        .await,
    );
    r.register_policies().await;
    let target = SimulatedHost::new("FLOODED", &healthy());
    r.register(&target).await;
    let legit: Vec<SimulatedHost> = (0..legit_n)
        .map(|i| SimulatedHost::new(&format!("LEGIT-{i:03}"), &healthy()))
        .collect();
    for h in &legit {
        r.register(h).await;
    }
    let stop = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let flooder = r.client_from(std::net::IpAddr::from([127, 0, 0, 1]));
    let body = target.challenge_body();
    let mut floods = Vec::new();
    for _ in 0..64 {
        let (r, client, body) = (r.clone(), flooder.clone(), body.clone());
        floods.push(tokio::spawn(async move {
            let (mut sent, mut refused) = (0usize, 0usize);
            while Instant::now() < stop {
                let resp = client
                    .post(r.url("/v1/challenges"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                sent += 1;
                refused += usize::from(resp.status() == 429);
            }
            (sent, refused)
        }));
    }
    let mut hosts = Vec::new();
    for (i, h) in legit.into_iter().enumerate() {
        let r = r.clone();
        let ip = std::net::IpAddr::from([127, 0, 1, u8::try_from(i % 250 + 1).unwrap()]);
        hosts.push(tokio::spawn(async move {
            let client = r.client_from(ip);
            let mut latencies = Vec::new();
            // Spread the fleet's first attestations over the first second.
            tokio::time::sleep(Duration::from_millis((i as u64 * 1000) / legit_n as u64)).await;
            while Instant::now() < stop {
                let started = Instant::now();
                let resp = client
                    .post(r.url("/v1/challenges"))
                    .json(&h.challenge_body())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let msg: hgs_attest::ChallengeMessage = resp.json().await.unwrap();
                let resp = client
                    .post(r.url("/v1/attestations"))
                    .json(&h.answer(&msg))
                    .send()
                    .await
                    .unwrap();
                let body: serde_json::Value = resp.json().await.unwrap();
                assert_eq!(body["verdict"]["status"], "Passed", "{body}");
                latencies.push(started.elapsed());
                tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
            }
            latencies
        }));
    }
    let (mut sent, mut refused) = (0, 0);
    for f in floods {
        let (s, x) = f.await.unwrap();
        sent += s;
        refused += x;
    }
    let mut all = Vec::new();
    for h in hosts {
        all.extend(h.await.unwrap());
    }
    let elapsed = t0.elapsed().as_secs_f64();
    all.sort_unstable();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    r.handle.shutdown();
    FloodReport {
        flood_requests: sent,
        refused,
        seconds: elapsed,
        legit: all.len(),
        legit_p50: pick(0.50),
        legit_p99: pick(0.99),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) runs nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (bare_wall, bare_cpu) = bare_evaluate();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut reports = Vec::new();
    let engines = std::env::var("HGS_BENCH_ENGINES").unwrap_or_else(|_| "sqlite,postgres".into());
    let db = std::env::temp_dir().join(format!("hgs-bench-{}.db", std::process::id()));
    if engines.contains("sqlite") {
        reports.push(rt.block_on(async {
            let store = SqliteStore::connect(&format!("sqlite:{}", db.display()))
                .await
                .unwrap();
            run("sqlite", store).await
        }));
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let flooded = engines.contains("sqlite").then(|| {
        rt.block_on(async {
            let store = SqliteStore::connect(&format!("sqlite:{}", db.display()))
                .await
                .unwrap();
            flood(store).await
        })
    });
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    if !engines.contains("postgres") {
    } else if let Ok(url) = std::env::var("HGS_TEST_POSTGRES_URL") {
        reports.push(rt.block_on(async {
            // A database of its own, dropped afterwards: every run starts empty.
            let name = format!("hgs_bench_{}", std::process::id());
            let db_url = common::create_postgres_database(&url, &name).await;
            let store = PostgresStore::connect(&db_url, 16).await.unwrap();
            let report = run("postgres", store).await;
            use sqlx::Executor;
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE {name} WITH (FORCE)"
                )))
                .await
                .unwrap();
            report
        }));
    } else {
        eprintln!("PostgreSQL skipped: set HGS_TEST_POSTGRES_URL (scripts/test starts one)");
    }
    println!("\nattestation service load (2 cores, load generator included; ring signatures)");
    println!(
        "bare evaluate, same run: {bare_wall:.0} µs per call ({bare_cpu:.0} µs CPU), {:.0}/s on one core",
        1e6 / bare_wall
    );
    println!(
        "{:<9} {:>6} {:>9} {:>8} {:>14} {:>9} {:>9} {:>17}",
        "engine",
        "roots",
        "accepted",
        "seconds",
        "attestations/s",
        "p50 ms",
        "p99 ms",
        "CPU/attestation"
    );
    for r in &reports {
        println!(
            "{:<9} {:>6} {:>9} {:>8.1} {:>14.0} {:>9.1} {:>9.1} {:>14.0} µs",
            r.engine,
            r.roots,
            r.accepted,
            r.seconds,
            r.accepted as f64 / r.seconds,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.cpu_per_attestation.as_secs_f64() * 1e6
        );
    }
    println!("\nsecret releases (token verify, registration + policy + cut-off read, unseal, JWE to cnf)");
    println!(
        "{:<9} {:>9} {:>8} {:>11} {:>9} {:>9}",
        "engine", "released", "seconds", "releases/s", "p50 ms", "p99 ms"
    );
    for r in &reports {
        println!(
            "{:<9} {:>9} {:>8.1} {:>11.0} {:>9.1} {:>9.1}",
            r.engine,
            r.releases,
            r.release_seconds,
            r.releases as f64 / r.release_seconds,
            r.release_p50.as_secs_f64() * 1e3,
            r.release_p99.as_secs_f64() * 1e3,
        );
    }
    if let Some(f) = flooded {
        println!(
            "\nunder a flood (SQLite, default rate limits): one client sent {:.0} challenge \
             requests/s ({:.1}% refused with 429); {} real hosts from their own addresses \
             attested {} times, p50 {:.1} ms, p99 {:.1} ms",
            f.flood_requests as f64 / f.seconds,
            100.0 * f.refused as f64 / f.flood_requests.max(1) as f64,
            env("HGS_BENCH_LEGIT", 64),
            f.legit,
            f.legit_p50.as_secs_f64() * 1e3,
            f.legit_p99.as_secs_f64() * 1e3,
        );
    }
}
