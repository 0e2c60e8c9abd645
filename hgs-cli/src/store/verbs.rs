//! `hgs store ...`: raw access to the admin store (inspection, scripting, and the concurrency tests).
//!
//! The typed admin verbs (`hgs host add`, `hgs tpm-policy add`, ...) go through the same
//! [`Store`]; these verbs show records as JSON and read a `put` record as its collection's type
//! (`hosts`, `baselines`, `ci_policies`, `roots`, `settings`, `challenges`, `root_sources`).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{Store, COLLECTIONS};

/// Default store directory, relative to the working directory (as HGS keeps one per cluster).
pub const DEFAULT_STORE_DIR: &str = "hgs-store";

/// The `--store DIR` option shared by every verb that touches the store.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// Store directory (created on first write).
    #[arg(long = "store", value_name = "DIR", default_value = DEFAULT_STORE_DIR)]
    pub dir: PathBuf,
}

impl StoreArg {
    /// Opens the store directory.
    pub fn open(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.dir)?)
    }
}

/// `hgs store` subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List collections, or the records of one collection with their policy versions.
    List {
        /// Collection to list (all collections if omitted).
        collection: Option<String>,
        /// The store directory.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print one record as JSON.
    Get {
        /// Collection name.
        collection: String,
        /// Record name.
        name: String,
        /// The store directory.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Add (or with --force replace) one record from a JSON file (`-` for stdin).
    Put {
        /// Collection name.
        collection: String,
        /// Record name.
        name: String,
        /// JSON file holding the value.
        #[arg(long, value_name = "FILE")]
        value: PathBuf,
        /// The policy version (v1, v2) the record must carry; refused if it differs.
        #[arg(long)]
        policy_version: Option<String>,
        /// Replace an existing record of that name.
        #[arg(long)]
        force: bool,
        /// The store directory.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Remove one record.
    Remove {
        /// Collection name.
        collection: String,
        /// Record name.
        name: String,
        /// The store directory.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Check that the store document is readable; print its record counts.
    Check {
        /// The store directory.
        #[command(flatten)]
        store: StoreArg,
    },
}

/// Runs one `hgs store` subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::List { collection, store } => {
            let data = store.open()?.read()?;
            match collection {
                None => {
                    for name in COLLECTIONS {
                        let n = data.names(name)?.len();
                        if n > 0 {
                            println!("{name}\t{n}");
                        }
                    }
                }
                Some(c) => {
                    for (name, version) in data.names(&c)? {
                        println!("{name}\t{}", version.unwrap_or("-"));
                    }
                }
            }
        }
        Cmd::Get {
            collection,
            name,
            store,
        } => {
            let data = store.open()?.read()?;
            let rec = data.get_json(&collection, &name)?;
            println!("{}", serde_json::to_string_pretty(&rec)?);
        }
        Cmd::Put {
            collection,
            name,
            value,
            policy_version,
            force,
            store,
        } => {
            let bytes = if value.as_os_str() == "-" {
                let mut b = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut b)
                    .context("cannot read stdin")?;
                b
            } else {
                crate::store::verbs::read(&value)?
            };
            let json: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not valid JSON", value.display()))?;
            store.open()?.update(|d| -> anyhow::Result<()> {
                d.put_json(&collection, &name, json, force)?;
                if let Some(want) = &policy_version {
                    let have = d
                        .names(&collection)?
                        .into_iter()
                        .find(|(n, _)| *n == name)
                        .and_then(|(_, v)| v);
                    if have != Some(want.as_str()) {
                        anyhow::bail!(
                            "{collection}/{name}: the record carries policy version {}, not {want}",
                            have.unwrap_or("none")
                        );
                    }
                }
                Ok(())
            })?;
        }
        Cmd::Remove {
            collection,
            name,
            store,
        } => {
            store.open()?.update(|d| d.remove(&collection, &name))?;
        }
        Cmd::Check { store } => {
            let s = store.open()?;
            let data = s.read()?;
            let mut total = 0;
            let mut used = 0;
            for name in COLLECTIONS {
                let n = data.names(name)?.len();
                total += n;
                used += usize::from(n > 0);
            }
            println!(
                "{}: {} ({used} collections, {total} records)",
                s.document_path().display(),
                data.format
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
