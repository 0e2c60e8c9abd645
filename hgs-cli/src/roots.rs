//! Loading installed TPM trust from directories, for `hgs ekcert verify --roots` and
//! `hgs roots add DIR` (`hgs roots add TrustedTpm.cab` reads the cabinet itself, see
//! [`crate::ekcheck::installable_cab`]). Two layouts:
//! - TrustedTpm.cab style: `VENDOR/RootCA/*` are anchors, `VENDOR/IntermediateCA/*` intermediates
//!   (also `RootCA/` and `IntermediateCA/` directly under the directory);
//! - otherwise a folder, flat or with one level of vendor folders, of `.cer/.crt/.der/.pem` files:
//!   self-signed certificates are anchors, the others intermediates.
//!
//! PEM files may hold several certificates. Unreadable files are reported, not fatal.

use std::path::{Path, PathBuf};

/// Certificates found under a directory, as bytes (exact DER).
#[derive(Debug, Default, Clone)]
pub struct LoadedRoots {
    /// Trust anchors.
    pub anchors: Vec<Vec<u8>>,
    /// Intermediates.
    pub intermediates: Vec<Vec<u8>>,
    /// Files skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// For every certificate of `anchors` and `intermediates`: the file it was read from.
    pub sources: Vec<(Vec<u8>, PathBuf)>,
}

const EXTENSIONS: [&str; 4] = ["cer", "crt", "der", "pem"];

fn is_cert_file(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    v.sort();
    Ok(v)
}

fn role_dir(p: &Path) -> Option<bool> {
    let name = p.file_name()?.to_str()?.to_ascii_lowercase();
    match name.as_str() {
        "rootca" => Some(true),
        "intermediateca" => Some(false),
        _ => None,
    }
}

/// Reads every certificate under `dir` (see the module docs for the layouts).
pub fn load_roots(dir: &Path) -> std::io::Result<LoadedRoots> {
    let mut out = LoadedRoots::default();
    let top = sorted_entries(dir)?;
    // Role directories at depth 1 or 2 mean the cab layout.
    let mut role_dirs = Vec::new();
    let mut files = Vec::new();
    for p in &top {
        if p.is_dir() {
            if let Some(anchor) = role_dir(p) {
                role_dirs.push((p.clone(), anchor));
                continue;
            }
            for q in sorted_entries(p)? {
                if q.is_dir() {
                    if let Some(anchor) = role_dir(&q) {
                        role_dirs.push((q, anchor));
                    }
                } else if is_cert_file(&q) {
                    files.push(q);
                }
            }
        } else if is_cert_file(p) {
            files.push(p.clone());
        }
    }
    if !role_dirs.is_empty() {
        for (d, anchor) in role_dirs {
            for f in sorted_entries(&d)?.into_iter().filter(|f| is_cert_file(f)) {
                add_file(&mut out, &f, Some(anchor))?;
            }
        }
        return Ok(out);
    }
    for f in files {
        add_file(&mut out, &f, None)?;
    }
    Ok(out)
}

/// Adds the certificates in one file: as anchors (`Some(true)`), intermediates (`Some(false)`),
/// or by self-signature (`None`).
pub fn add_file(out: &mut LoadedRoots, file: &Path, anchor: Option<bool>) -> std::io::Result<()> {
    let bytes = std::fs::read(file)?;
    let certs = match hgs_ekcert::certificates_in(&bytes) {
        Ok(c) => c,
        Err(e) => {
            out.skipped.push((file.to_path_buf(), e.to_string()));
            return Ok(());
        }
    };
    for der in certs {
        match hgs_ekcert::Certificate::from_bytes(&der) {
            Ok(c) => {
                out.sources.push((c.der().to_vec(), file.to_path_buf()));
                if anchor.unwrap_or_else(|| c.is_self_signed()) {
                    out.anchors.push(c.der().to_vec());
                } else {
                    out.intermediates.push(c.der().to_vec());
                }
            }
            Err(e) => out.skipped.push((file.to_path_buf(), e.to_string())),
        }
    }
    Ok(())
}

pub use crate::store::{RootSource, ROOT_SOURCES};
