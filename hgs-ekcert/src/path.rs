//! Chain building from a leaf to an installed anchor: depth-first over every installed
//! certificate whose subject matches the issuer name (raw or normalised; AKI/SKI only orders the
//! candidates and rules out a candidate whose SKI contradicts the AKI), verifying each signature
//! over the exact TBS bytes, requiring CA rights on issuers and validity at the caller's time.
//!
//! When installed CAs carry the issuer's name but none of their keys signed the certificate
//! (a contradicting SKI or a signature that fails), the reason is
//! [`Error::IssuerSignatureMismatch`] (a look-alike or re-keyed CA), not a missing issuer.
//!
//! A [`Budget`] bounds the work (signature checks and depth); a certificate already on the path is
//! never tried again, so loops of cross-signed CAs end with [`Error::ChainLoop`].

use crate::cert::{Certificate, KeyUsage};
use crate::error::Error;
use crate::signature::{self, SigError, SignatureBackend};
use crate::time::UnixTime;
use crate::trust_store::{Slot, TrustStore};

/// Limits on path building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Maximum signature verifications for one leaf.
    pub max_signature_checks: u32,
    /// Maximum chain length in certificates above the leaf (anchor included).
    pub max_depth: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_signature_checks: 64,
            max_depth: 8,
        }
    }
}

/// Validity-time settings for path building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeCheck {
    pub at: UnixTime,
    pub allow_expired: bool,
}

impl TimeCheck {
    pub(crate) fn check(&self, c: &Certificate, depth: usize) -> Result<(), Error> {
        if c.not_before > self.at {
            return Err(Error::NotYetValid {
                depth,
                subject: Box::new(c.subject.clone()),
                not_before: c.not_before,
            });
        }
        if c.not_after < self.at && !self.allow_expired {
            return Err(Error::Expired {
                depth,
                subject: Box::new(c.subject.clone()),
                not_after: c.not_after,
            });
        }
        Ok(())
    }
}

/// How specific a failure is, to report the most telling one when no path exists.
fn rank(e: &Error) -> (usize, u8) {
    match e {
        Error::UntrustedRoot { depth, .. } => (*depth, 0),
        Error::ChainLoop { depth, .. } => (*depth, 1),
        Error::IssuerSignatureMismatch { depth, .. } => (*depth, 2),
        Error::UnsupportedAlgorithm { .. } => (0, 2),
        Error::NotCa { depth, .. } => (*depth, 3),
        Error::Expired { depth, .. } | Error::NotYetValid { depth, .. } => (*depth, 4),
        Error::BudgetExceeded(_) => (usize::MAX, 5),
        _ => (0, 0),
    }
}

/// A path: the store certificates above the leaf, leaf's issuer first, anchor last.
pub(crate) struct Found {
    pub path: Vec<Slot>,
    pub signature_checks: u32,
}

struct Search<'a> {
    store: &'a TrustStore,
    time: TimeCheck,
    budget: Budget,
    backend: SignatureBackend,
    checks: u32,
    best: Option<Error>,
}

impl Search<'_> {
    fn note(&mut self, e: Error) {
        if self.best.as_ref().is_none_or(|b| rank(&e) > rank(b)) {
            self.best = Some(e);
        }
    }

    fn ca_rights(c: &Certificate, anchor: bool, below: usize) -> Result<(), &'static str> {
        match c.extensions.basic_constraints {
            Some(bc) if !bc.ca => return Err("basicConstraints cA is false"),
            None if !anchor => return Err("no basicConstraints"),
            Some(bc) if bc.path_len.is_some_and(|n| (below as u64) > n) => {
                return Err("pathLenConstraint exceeded");
            }
            Some(_) => {}
            None => {}
        }
        if c.extensions
            .key_usage
            .is_some_and(|k| !k.has(KeyUsage::KEY_CERT_SIGN))
        {
            return Err("keyUsage lacks keyCertSign");
        }
        Ok(())
    }

    /// Extends `path` above `cert` (at `depth`). Ok(true) when an anchor was reached.
    fn extend(
        &mut self,
        path: &mut Vec<Slot>,
        cert: &Certificate,
        depth: usize,
    ) -> Result<bool, Error> {
        let candidates = self.store.issuers_of(cert);
        if candidates.is_empty() {
            self.note(Error::UntrustedRoot {
                depth,
                subject: Box::new(cert.subject.clone()),
                issuer: Box::new(cert.issuer.clone()),
            });
            return Ok(false);
        }
        let mut tried = 0usize;
        // Candidates named like the issuer whose key did not sign `cert` (a contradicting
        // SKI, or a signature that does not verify under their key), and whether one did.
        let mut unsigned = 0usize;
        let mut installed_key_ids = Vec::new();
        let mut signed = false;
        for slot in candidates.iter().copied() {
            let issuer = self.store.get(slot);
            if path.contains(&slot) || issuer.der() == cert.der() {
                continue;
            }
            if let (Some(aki), Some(ski)) = (
                cert.extensions.authority_key_id.as_deref(),
                issuer.extensions.subject_key_id.as_deref(),
            ) {
                if aki != ski {
                    unsigned += 1;
                    installed_key_ids.push(ski.to_vec());
                    continue;
                }
            }
            tried += 1;
            if self.checks >= self.budget.max_signature_checks {
                return Err(Error::BudgetExceeded("signature checks"));
            }
            self.checks += 1;
            match signature::verify_with(cert, &issuer.key, self.backend) {
                Ok(()) => signed = true,
                Err(SigError::Bad) => {
                    unsigned += 1;
                    installed_key_ids.extend(issuer.extensions.subject_key_id.clone());
                    continue;
                }
                Err(SigError::Unsupported(e)) => {
                    self.note(e);
                    continue;
                }
            }
            let anchor = matches!(slot, Slot::Anchor(_));
            if let Err(why) = Self::ca_rights(issuer, anchor, depth) {
                self.note(Error::NotCa {
                    depth: depth + 1,
                    subject: Box::new(issuer.subject.clone()),
                    why,
                });
                continue;
            }
            if let Err(e) = self.time.check(issuer, depth + 1) {
                self.note(e);
                continue;
            }
            path.push(slot);
            if anchor {
                return Ok(true);
            }
            if depth + 1 >= self.budget.max_depth {
                self.note(Error::BudgetExceeded("chain depth"));
            } else if self.extend(path, issuer, depth + 1)? {
                return Ok(true);
            }
            path.pop();
        }
        if !signed && unsigned > 0 {
            self.note(Error::IssuerSignatureMismatch {
                depth,
                subject: Box::new(cert.subject.clone()),
                issuer: Box::new(cert.issuer.clone()),
                candidates: unsigned,
                authority_key_id: cert.extensions.authority_key_id.clone(),
                installed_key_ids,
            });
        } else if tried == 0 {
            let loop_only = candidates
                .iter()
                .any(|s| path.contains(s) || self.store.get(*s).der() == cert.der());
            self.note(if loop_only {
                Error::ChainLoop {
                    depth,
                    subject: Box::new(cert.subject.clone()),
                }
            } else {
                Error::UntrustedRoot {
                    depth,
                    subject: Box::new(cert.subject.clone()),
                    issuer: Box::new(cert.issuer.clone()),
                }
            });
        }
        Ok(false)
    }
}

/// Finds a path from `leaf` to an anchor of `store`, or the most telling reason there is none.
pub(crate) fn build(
    store: &TrustStore,
    leaf: &Certificate,
    time: TimeCheck,
    budget: Budget,
    backend: SignatureBackend,
) -> Result<Found, Error> {
    let mut s = Search {
        store,
        time,
        budget,
        backend,
        checks: 0,
        best: None,
    };
    let mut path = Vec::new();
    if s.extend(&mut path, leaf, 0)? {
        return Ok(Found {
            path,
            signature_checks: s.checks,
        });
    }
    Err(s.best.unwrap_or(Error::UntrustedRoot {
        depth: 0,
        subject: Box::new(leaf.subject.clone()),
        issuer: Box::new(leaf.issuer.clone()),
    }))
}

/// Path building alone (no EK-profile or quirk policy): the installed certificates above `cert`,
/// its issuer first and the anchor last, valid at `at` (notAfter ignored when `allow_expired`).
pub fn find_chain<'s>(
    store: &'s TrustStore,
    cert: &Certificate,
    at: UnixTime,
    allow_expired: bool,
) -> Result<Vec<&'s Certificate>, Error> {
    let time = TimeCheck { at, allow_expired };
    time.check(cert, 0)?;
    let found = build(
        store,
        cert,
        time,
        Budget::default(),
        SignatureBackend::default(),
    )?;
    Ok(found.path.iter().map(|s| store.get(*s)).collect())
}
