//! The installed trust: anchors (what the admin put in "TrustedTPM_RootCA", self-signed or not)
//! and intermediates ("TrustedTPM_IntermediateCA"), kept apart, indexed by normalised subject.

use std::collections::HashMap;

use crate::cert::Certificate;
use crate::error::Result;
use crate::name::NameKey;

/// Which list a store certificate is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    Anchor(usize),
    Intermediate(usize),
}

/// Trust anchors and intermediates, built from certificate bytes. Cheap to share: build once,
/// verify many.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
    intermediates: Vec<Certificate>,
    by_subject: HashMap<NameKey, Vec<Slot>>,
}

impl TrustStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a store; certificates that cannot be read are returned with their index in their
    /// list (`true` = anchors) instead of failing the whole store.
    pub fn from_certificates<A, I>(
        anchors: A,
        intermediates: I,
    ) -> (Self, Vec<(bool, usize, crate::Error)>)
    where
        A: IntoIterator,
        A::Item: AsRef<[u8]>,
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut s = Self::new();
        let mut skipped = Vec::new();
        for (i, a) in anchors.into_iter().enumerate() {
            if let Err(e) = s.add_anchor(a.as_ref()) {
                skipped.push((true, i, e));
            }
        }
        for (i, c) in intermediates.into_iter().enumerate() {
            if let Err(e) = s.add_intermediate(c.as_ref()) {
                skipped.push((false, i, e));
            }
        }
        (s, skipped)
    }

    fn contains(&self, c: &Certificate) -> bool {
        self.by_subject
            .get(&c.subject.key())
            .is_some_and(|slots| slots.iter().any(|s| self.get(*s).der() == c.der()))
    }

    /// Adds a trust anchor (DER or PEM). Duplicates are ignored.
    pub fn add_anchor(&mut self, bytes: &[u8]) -> Result<()> {
        let c = Certificate::from_bytes(bytes)?;
        self.add_anchor_cert(c);
        Ok(())
    }

    /// Adds a parsed trust anchor.
    pub fn add_anchor_cert(&mut self, c: Certificate) {
        if self.anchors.iter().any(|a| a.der() == c.der()) {
            return;
        }
        self.by_subject
            .entry(c.subject.key())
            .or_default()
            .push(Slot::Anchor(self.anchors.len()));
        self.anchors.push(c);
    }

    /// Adds an intermediate CA certificate (DER or PEM). Duplicates are ignored.
    pub fn add_intermediate(&mut self, bytes: &[u8]) -> Result<()> {
        let c = Certificate::from_bytes(bytes)?;
        self.add_intermediate_cert(c);
        Ok(())
    }

    /// Adds a parsed intermediate.
    pub fn add_intermediate_cert(&mut self, c: Certificate) {
        if self.contains(&c) {
            return;
        }
        self.by_subject
            .entry(c.subject.key())
            .or_default()
            .push(Slot::Intermediate(self.intermediates.len()));
        self.intermediates.push(c);
    }

    /// The anchors.
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// The intermediates.
    pub fn intermediates(&self) -> &[Certificate] {
        &self.intermediates
    }

    /// Number of certificates.
    pub fn len(&self) -> usize {
        self.anchors.len() + self.intermediates.len()
    }

    /// True when nothing is installed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, s: Slot) -> &Certificate {
        match s {
            Slot::Anchor(i) => &self.anchors[i],
            Slot::Intermediate(i) => &self.intermediates[i],
        }
    }

    /// Candidates for the issuer of `c`: anchors first, then those whose SKI matches `c`'s AKI.
    pub(crate) fn issuers_of(&self, c: &Certificate) -> Vec<Slot> {
        let mut v = self
            .by_subject
            .get(&c.issuer.key())
            .cloned()
            .unwrap_or_default();
        let aki = c.extensions.authority_key_id.as_deref();
        v.sort_by_key(|s| {
            let ski_match =
                aki.is_some() && self.get(*s).extensions.subject_key_id.as_deref() == aki;
            (matches!(s, Slot::Intermediate(_)), !ski_match)
        });
        v
    }
}
