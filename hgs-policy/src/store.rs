//! Everything an HGS in TPM mode has registered, as one serde document a service can persist
//! (`hgs-policy-store/1`). Adding artifacts goes through the same rules as the cmdlets.

use std::collections::BTreeMap;

use crate::baseline::TpmBaseline;
use crate::cipolicy::CiPolicyRegistration;
use crate::host::{register_host, EkCertificateCheck, HostError, RegistrationOptions, TpmHost};
use crate::name::Name;
use crate::rules::PolicySettings;

/// The `format` value of a [`PolicyStore`] document.
pub const STORE_FORMAT: &str = "hgs-policy-store/1";

/// Role of an installed trusted TPM certificate (Windows' TrustedTPM_RootCA / _IntermediateCA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustRole {
    /// A trust anchor (need not be self-signed).
    Root,
    /// An intermediate CA, usable for chain building only.
    Intermediate,
}

/// An installed TPM vendor certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustedCertificate {
    /// Anchor or intermediate.
    pub role: TrustRole,
    /// Vendor folder it came from, if known.
    pub vendor: Option<String>,
    /// Subject, for listing.
    pub subject: String,
    /// DER bytes, exactly as installed.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub der: Vec<u8>,
}

/// All registrations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyStore {
    /// Always [`STORE_FORMAT`].
    pub format: String,
    /// TPM hosts by name.
    #[serde(default)]
    pub hosts: BTreeMap<Name, TpmHost>,
    /// TPM baselines by name.
    #[serde(default)]
    pub baselines: BTreeMap<Name, TpmBaseline>,
    /// CI policies by name.
    #[serde(default)]
    pub ci_policies: BTreeMap<Name, CiPolicyRegistration>,
    /// `Hgs_*` states and dump keys.
    #[serde(default)]
    pub settings: PolicySettings,
    /// Installed TPM roots and intermediates.
    #[serde(default)]
    pub trusted_certificates: Vec<TrustedCertificate>,
}

impl Default for PolicyStore {
    fn default() -> Self {
        PolicyStore {
            format: STORE_FORMAT.into(),
            hosts: BTreeMap::new(),
            baselines: BTreeMap::new(),
            ci_policies: BTreeMap::new(),
            settings: PolicySettings::default(),
            trusted_certificates: Vec::new(),
        }
    }
}

/// Why a store operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The document is not `hgs-policy-store/1`.
    #[error("unsupported store format {0:?} (expected {STORE_FORMAT})")]
    Format(String),
    /// Host registration refused.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The name is taken.
    #[error("a {kind} named {name} is already registered")]
    Duplicate {
        /// `baseline` or `CI policy`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// No such artifact.
    #[error("no {kind} named {name}")]
    NotFound {
        /// `host`, `baseline`, `CI policy`.
        kind: &'static str,
        /// The name.
        name: String,
    },
}

impl PolicyStore {
    /// Checks the format field of a deserialized store.
    pub fn check_format(&self) -> Result<(), StoreError> {
        if self.format == STORE_FORMAT {
            Ok(())
        } else {
            Err(StoreError::Format(self.format.clone()))
        }
    }

    /// `Add-HgsAttestationTpmHost` (see [`register_host`]).
    pub fn add_host(
        &mut self,
        name: &str,
        ekpub: &[u8],
        ek_certificate: Option<&[u8]>,
        check: EkCertificateCheck,
        options: RegistrationOptions,
    ) -> Result<&TpmHost, StoreError> {
        let existing: Vec<TpmHost> = self.hosts.values().cloned().collect();
        let host = register_host(name, ekpub, ek_certificate, check, options, &existing)?;
        Ok(self.hosts.entry(host.name.clone()).or_insert(host))
    }

    /// `Add-HgsAttestationTpmPolicy`.
    pub fn add_baseline(&mut self, baseline: TpmBaseline) -> Result<(), StoreError> {
        if self.baselines.contains_key(&baseline.name) {
            return Err(StoreError::Duplicate {
                kind: "baseline",
                name: baseline.name.into_string(),
            });
        }
        self.baselines.insert(baseline.name.clone(), baseline);
        Ok(())
    }

    /// `Add-HgsAttestationCIPolicy`.
    pub fn add_ci_policy(&mut self, policy: CiPolicyRegistration) -> Result<(), StoreError> {
        if self.ci_policies.contains_key(&policy.name) {
            return Err(StoreError::Duplicate {
                kind: "CI policy",
                name: policy.name.into_string(),
            });
        }
        self.ci_policies.insert(policy.name.clone(), policy);
        Ok(())
    }

    /// `Remove-HgsAttestationTpmHost`.
    pub fn remove_host(&mut self, name: &str) -> Result<TpmHost, StoreError> {
        self.hosts.remove(name).ok_or_else(|| StoreError::NotFound {
            kind: "host",
            name: name.into(),
        })
    }

    /// `Remove-HgsAttestationPolicy` for a baseline or CI policy, by name.
    pub fn remove_policy(&mut self, name: &str) -> Result<(), StoreError> {
        if self.baselines.remove(name).is_some() || self.ci_policies.remove(name).is_some() {
            Ok(())
        } else {
            Err(StoreError::NotFound {
                kind: "baseline or CI policy",
                name: name.into(),
            })
        }
    }

    /// The host registration whose EK this is.
    pub fn host_by_ek(&self, ekpub: &[u8]) -> Option<&TpmHost> {
        self.hosts.values().find(|h| h.has_ek(ekpub))
    }
}
