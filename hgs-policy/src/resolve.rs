//! Version resolution, exactly as HGS: a host attests only if its TPM identifier, a matching TPM
//! baseline and a matching CI policy were all registered under one version; v2 is tried first,
//! then v1.

use crate::version::PolicyVersion;

/// Which registered artifacts matched the host, with their versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArtifactMatches {
    /// Registered TPM hosts whose EKpub is the host's.
    pub hosts: Vec<(PolicyVersion, String)>,
    /// Baselines the host's log matches.
    pub baselines: Vec<(PolicyVersion, String)>,
    /// CI policies the host measured.
    pub ci_policies: Vec<(PolicyVersion, String)>,
}

/// One version tried.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionAttempt {
    /// The version.
    pub version: PolicyVersion,
    /// The host registration of that version, if any.
    pub host: Option<String>,
    /// The first matching baseline of that version, if any.
    pub baseline: Option<String>,
    /// The first matching CI policy of that version, if any.
    pub ci_policy: Option<String>,
}

impl VersionAttempt {
    /// Whether every artifact was found.
    pub fn is_complete(&self) -> bool {
        self.host.is_some() && self.baseline.is_some() && self.ci_policy.is_some()
    }

    /// What is missing, e.g. `["baseline"]`.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.host.is_none() {
            m.push("TPM identifier");
        }
        if self.baseline.is_none() {
            m.push("TPM baseline");
        }
        if self.ci_policy.is_none() {
            m.push("CI policy");
        }
        m
    }
}

/// The outcome of version resolution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resolution {
    /// The version that passed, if one did.
    pub version: Option<PolicyVersion>,
    /// Every version tried, in order (v2, v1), up to and including the one that passed.
    pub attempts: Vec<VersionAttempt>,
}

impl Resolution {
    /// The attempt that passed.
    pub fn passed(&self) -> Option<&VersionAttempt> {
        self.attempts.iter().find(|a| a.is_complete())
    }

    /// True when each artifact kind matched under *some* version, but never all under one: the
    /// host fails only because versions differ.
    pub fn is_version_mismatch(&self, matches: &ArtifactMatches) -> bool {
        self.version.is_none()
            && !matches.hosts.is_empty()
            && !matches.baselines.is_empty()
            && !matches.ci_policies.is_empty()
    }
}

/// Tries v2 then v1.
pub fn resolve(matches: &ArtifactMatches) -> Resolution {
    let first = |list: &[(PolicyVersion, String)], v: PolicyVersion| {
        list.iter().find(|(lv, _)| *lv == v).map(|(_, n)| n.clone())
    };
    let mut attempts = Vec::new();
    for version in PolicyVersion::RESOLUTION_ORDER {
        let attempt = VersionAttempt {
            version,
            host: first(&matches.hosts, version),
            baseline: first(&matches.baselines, version),
            ci_policy: first(&matches.ci_policies, version),
        };
        let done = attempt.is_complete();
        attempts.push(attempt);
        if done {
            return Resolution {
                version: Some(version),
                attempts,
            };
        }
    }
    Resolution {
        version: None,
        attempts,
    }
}
