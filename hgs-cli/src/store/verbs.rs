//! `hgs store ...`: raw access to the admin store (inspection, scripting, and the concurrency tests).
//!
//! The typed admin verbs (`hgs host add`, `hgs tpm-policy add`, ...) go through the same
//! [`Store`] with `hgs-policy`'s record types; these verbs see records as plain JSON.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Store;

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
        /// Policy version to record with it (v1, v2).
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
                    for (name, coll) in &data.collections {
                        println!("{name}\t{}", coll.len());
                    }
                }
                Some(c) => {
                    for (name, rec) in data.records(&c) {
                        println!("{name}\t{}", rec.policy_version.as_deref().unwrap_or("-"));
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
            let rec =
                data.record(&collection, &name)
                    .ok_or_else(|| super::StoreError::NotFound {
                        collection: collection.clone(),
                        name: name.clone(),
                    })?;
            println!("{}", serde_json::to_string_pretty(rec)?);
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
            store.open()?.update(|d| {
                d.insert(&collection, &name, policy_version.as_deref(), &json, force)
            })?;
        }
        Cmd::Remove {
            collection,
            name,
            store,
        } => {
            store
                .open()?
                .update(|d| d.remove(&collection, &name).map(|_| ()))?;
        }
        Cmd::Check { store } => {
            let s = store.open()?;
            let data = s.read()?;
            let total: usize = data.collections.values().map(|c| c.len()).sum();
            println!(
                "{}: {} ({} collections, {total} records)",
                s.document_path().display(),
                data.format,
                data.collections.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
