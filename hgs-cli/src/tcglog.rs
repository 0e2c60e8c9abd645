//! `hgs tcglog ...` verbs: show, replay.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Subcommand;
use hgs_tcglog::uefi::{decode, Decoded};
use hgs_tcglog::{replay, EventLog};

use crate::util::{hex, read_file};

/// `hgs tcglog` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// One line per event: index, PCR, type, digests, short decoded data.
    Show {
        /// The TCG log (binary_bios_measurements, a Windows .log/.tcglog).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Windows boot claims (Secure Boot, debugging, VBS, HVCI, CI policy, ...) with the event each
    /// came from. Several files = one log per boot/resume session, in order.
    Claims {
        /// The TCG log(s).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON (one object per log; an array for several logs).
        #[arg(long)]
        json: bool,
    },
    /// Replayed PCR values per bank (every bank the log carries, all 24 PCRs).
    Replay {
        /// The TCG log.
        file: PathBuf,
        /// Print JSON: `{"banks": {"sha256": {"0": "<hex>", ...}}}`.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `hgs tcglog` subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Show { file, json } => show(&file, json),
        Cmd::Replay { file, json } => replay_cmd(&file, json),
        Cmd::Claims { files, json } => claims_cmd(&files, json),
    }
}

fn parse<'a>(file: &std::path::Path, bytes: &'a [u8]) -> anyhow::Result<EventLog<'a>> {
    EventLog::parse(bytes).map_err(|e| anyhow!("{}: {e}", file.display()))
}

fn short(event: &hgs_tcglog::Event<'_>) -> String {
    let text = match decode(event) {
        Ok(Decoded::SpecId) => "Spec ID Event03".to_string(),
        Ok(Decoded::StartupLocality(l)) => format!("StartupLocality {l}"),
        Ok(Decoded::Separator(d)) => format!(
            "separator {}",
            if d.is_ascii() && !d.is_empty() && d[0] >= 0x20 {
                String::from_utf8_lossy(d).into_owned()
            } else {
                hex(d)
            }
        ),
        Ok(Decoded::Action(s)) | Ok(Decoded::Text(s)) | Ok(Decoded::SCrtmVersion(s)) => s,
        Ok(Decoded::Variable(v)) => format!("{} {} ({} bytes)", v.guid, v.name, v.data.len()),
        Ok(Decoded::ImageLoad(i)) => format!(
            "image at 0x{:x}, {} bytes, device path {} bytes",
            i.location,
            i.length,
            i.device_path.len()
        ),
        Ok(Decoded::Gpt(g)) => format!(
            "GPT disk {} with {} partitions",
            g.disk_guid,
            g.partitions.len()
        ),
        Ok(Decoded::NoAction(d)) | Ok(Decoded::Raw(d)) => format!("{} bytes", d.len()),
        Err(e) => format!("undecodable: {e}"),
    };
    text.chars().take(96).collect()
}

fn show(file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = read_file(file)?;
    let log = parse(file, &bytes)?;
    let mut rows = Vec::new();
    for e in log.events() {
        let e = e.map_err(|e| anyhow!("{}: {e}", file.display()))?;
        if json {
            let digests: BTreeMap<&str, String> =
                e.digests().map(|(a, d)| (a.name(), hex(d))).collect();
            rows.push(serde_json::json!({
                "index": e.index, "offset": e.offset, "pcr": e.pcr,
                "type": e.event_type.to_string(), "type_value": e.event_type.as_u32(),
                "digests": digests, "data_len": e.data.len(), "summary": short(&e),
            }));
        } else {
            let digests: Vec<String> = e
                .digests()
                .map(|(a, d)| format!("{a}:{}", hex(d)))
                .collect();
            let pcr = if e.pcr == u32::MAX {
                "-".to_string()
            } else {
                e.pcr.to_string()
            };
            let line = format!(
                "{:>4} pcr {:>2} {:<34} {}  {}",
                e.index,
                pcr,
                e.event_type.to_string(),
                digests.join(" "),
                short(&e)
            );
            if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                // The reader went away (e.g. `| head`): stop quietly.
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"format": format!("{:?}", log.format()), "events": rows})
            )?
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn replay_cmd(file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = read_file(file)?;
    let log = parse(file, &bytes)?;
    let pcrs = replay(&log).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let mut banks: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for alg in pcrs.banks() {
        let bank = banks.entry(alg.name()).or_default();
        for pcr in 0..24u32 {
            if let Some(v) = pcrs.get(*alg, pcr) {
                bank.insert(pcr.to_string(), hex(v));
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "banks": banks }))?
        );
    } else {
        for alg in pcrs.banks() {
            for pcr in 0..24u32 {
                if let Some(v) = pcrs.get(*alg, pcr) {
                    let note = if pcrs.lacks_digests(*alg, pcr) {
                        "  (some events carry no digest in this bank)"
                    } else {
                        ""
                    };
                    println!("{:<7} {:>2}: {}{note}", alg, pcr, hex(v));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn claims_cmd(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for file in files {
        let bytes = read_file(file)?;
        let log = parse(file, &bytes)?;
        // Unquoted: the claims a verifier would read if every PCR were quoted in the log's
        // strongest bank (anomalies included).
        let reference =
            hgs_tcglog::ReferenceLog::new(log).map_err(|e| anyhow!("{}: {e}", file.display()))?;
        let c = hgs_tcglog::BootClaims::from_reference(&reference);
        all.push((file.clone(), c));
    }
    if json {
        let values: Vec<serde_json::Value> = all
            .iter()
            .map(|(_, c)| serde_json::to_value(c))
            .collect::<Result<_, _>>()?;
        let out = if values.len() == 1 {
            values.into_iter().next().unwrap_or_default()
        } else {
            serde_json::Value::Array(values)
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (file, c) in &all {
        println!("{}:", file.display());
        let v = serde_json::to_value(c)?;
        if let Some(map) = v.as_object() {
            for (k, claim) in map {
                match claim {
                    serde_json::Value::Null => println!("  {k:<26} (not in log)"),
                    serde_json::Value::Object(o) if o.contains_key("value") => {
                        let val = &o["value"];
                        let val = if val.is_object() {
                            "present".to_string()
                        } else {
                            val.to_string()
                        };
                        println!(
                            "  {k:<26} {val}  (event {}, PCR {})",
                            o["event_index"], o["pcr"]
                        );
                    }
                    serde_json::Value::Array(items) if k == "si_policies" => {
                        for p in items {
                            println!("  si_policy                  {} sha-alg 0x{:04x} {} (event {}, PCR {})", p["name"], p["hash_alg"].as_u64().unwrap_or(0), p["digest"].as_str().unwrap_or(""), p["event_index"], p["pcr"]);
                        }
                    }
                    serde_json::Value::Array(items) => {
                        println!("  {k:<26} {} item(s)", items.len())
                    }
                    other => println!("  {k:<26} {other}"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
