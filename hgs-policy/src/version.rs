//! Policy versions. Every registered artifact carries one; a host attests only with artifacts that
//! share a version, v2 tried first (HGS, "Authorize guarded hosts using TPM-based attestation").

use core::fmt;
use core::str::FromStr;

/// The version of attestation an artifact was registered under.
///
/// - `V1`: Windows Server 2016 rules. A TPM host without a (trusted) EK certificate may be
///   registered, but only when the admin forces it.
/// - `V2`: Windows Server 2019 rules, the default. A TPM host needs an EK certificate that chains to
///   an installed TPM root; `force` does not apply.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PolicyVersion {
    /// Windows Server 2016 (`PolicyVersion1503`).
    V1,
    /// Windows Server 2019 (`PolicyVersion1704`), the default.
    #[default]
    V2,
}

impl PolicyVersion {
    /// The order HGS tries versions in: v2 first, then v1.
    pub const RESOLUTION_ORDER: [PolicyVersion; 2] = [PolicyVersion::V2, PolicyVersion::V1];

    /// `v1` or `v2`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyVersion::V1 => "v1",
            PolicyVersion::V2 => "v2",
        }
    }
}

impl fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no policy version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy version {0:?} (expected v1 or v2)")]
pub struct UnknownPolicyVersion(pub String);

impl FromStr for PolicyVersion {
    type Err = UnknownPolicyVersion;

    /// Accepts `v1`/`v2` (any case), `1`/`2`, and the cmdlet reference's enum names
    /// `PolicyVersion1503` (v1) and `PolicyVersion1704` (v2).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "v1" | "1" | "policyversion1503" => Ok(PolicyVersion::V1),
            "v2" | "2" | "policyversion1704" => Ok(PolicyVersion::V2),
            _ => Err(UnknownPolicyVersion(s.to_string())),
        }
    }
}
