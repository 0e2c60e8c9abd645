#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks, never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

#[cfg(feature = "builder")]
#[allow(clippy::cast_possible_truncation)]
pub mod builder;
mod cms;
mod error;
pub mod options;
mod policy;
mod reader;

pub use cms::encapsulated_policy;
pub use error::{Error, Result};
/// The GUID type of every hgs crate (`hgs_tpm::Guid`); `{:#}` writes the braced upper-case form
/// policy XML uses.
pub use hgs_tpm::Guid;
/// The hash algorithm type of every hgs crate (`hgs_tpm::HashAlg`).
pub use hgs_tpm::HashAlg;
pub use policy::{
    BinaryPolicy, CertRoot, FileRule, FileRuleKind, Scenario, Setting, SettingValue, Signer,
    SignerGroup, Version, MAX_FORMAT_VERSION,
};
pub use reader::MAX_FIELD;

/// Serde helper: bytes as lower-case hex.
pub(crate) fn ser_hex<S: serde::Serializer>(
    b: &&[u8],
    s: S,
) -> core::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hgs_tpm::hex::encode(b))
}

/// A CI policy file: signed (CMS) or unsigned, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiPolicy<'a> {
    file: &'a [u8],
    unsigned: &'a [u8],
    signed: bool,
    policy: BinaryPolicy<'a>,
}

impl<'a> CiPolicy<'a> {
    /// Parses a policy file: a DER CMS SignedData (first byte 0x30) whose content is the policy,
    /// or the unsigned binary policy itself (first u32 = format version).
    pub fn parse(file: &'a [u8]) -> Result<Self> {
        let (unsigned, signed) = if file.first() == Some(&0x30) {
            let (inner, _) = cms::encapsulated_policy(file)?;
            (inner, true)
        } else {
            (file, false)
        };
        let policy = BinaryPolicy::parse(unsigned)?;
        Ok(CiPolicy {
            file,
            unsigned,
            signed,
            policy,
        })
    }

    /// Whether the file was CMS-signed.
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// The whole file.
    pub fn file_bytes(&self) -> &'a [u8] {
        self.file
    }

    /// The unsigned policy bytes (the file itself, or the CMS eContent).
    pub fn unsigned_bytes(&self) -> &'a [u8] {
        self.unsigned
    }

    /// The parsed binary policy.
    pub fn policy(&self) -> &BinaryPolicy<'a> {
        &self.policy
    }

    /// The digest Windows measures (see the crate docs for what is inferred).
    pub fn measured_digest(&self, alg: HashAlg) -> Vec<u8> {
        alg.hash(self.unsigned)
    }

    /// Audit mode: the policy logs violations but blocks nothing.
    pub fn audit_mode(&self) -> bool {
        self.policy.option_flags & options::AUDIT_MODE != 0
    }

    /// Whether the supplemental-policy bit is set.
    pub fn is_supplemental(&self) -> bool {
        self.policy.option_flags & options::SUPPLEMENTAL != 0
    }

    /// PolicyInfo Name setting, if present.
    pub fn name(&self) -> Option<&str> {
        self.policy
            .setting_string("PolicyInfo", "Information", "Name")
    }

    /// PolicyInfo Id setting, if present.
    pub fn info_id(&self) -> Option<&str> {
        self.policy
            .setting_string("PolicyInfo", "Information", "Id")
    }

    /// PolicyID (format ≥ 6), else the PolicyTypeID (legacy format: the compiler uses it for both).
    pub fn policy_id(&self) -> Guid {
        self.policy.policy_id.unwrap_or(self.policy.policy_type_id)
    }

    /// BasePolicyID (format ≥ 6), else the PolicyTypeID.
    pub fn base_policy_id(&self) -> Guid {
        self.policy
            .base_policy_id
            .unwrap_or(self.policy.policy_type_id)
    }

    /// VersionEx.
    pub fn version(&self) -> Version {
        self.policy.version
    }

    /// XML names of the rule options set.
    pub fn options(&self) -> Vec<&'static str> {
        options::names(self.policy.option_flags)
    }

    /// A serde summary (the shape `hgs cipolicy show --json` prints).
    pub fn summary(&self) -> Summary {
        let p = &self.policy;
        Summary {
            format_version: p.format_version,
            policy_type_id: format!("{:#}", p.policy_type_id),
            platform_id: format!("{:#}", p.platform_id),
            policy_id: format!("{:#}", self.policy_id()),
            base_policy_id: format!("{:#}", self.base_policy_id()),
            version: p.version.to_string(),
            name: self.name().map(str::to_string),
            info_id: self.info_id().map(str::to_string),
            option_flags: format!("0x{:08x}", p.option_flags),
            options: self.options().into_iter().map(str::to_string).collect(),
            audit_mode: self.audit_mode(),
            enforcement: if self.audit_mode() {
                "audit (logs only, blocks nothing)"
            } else {
                "enforced"
            }
            .to_string(),
            supplemental: self.is_supplemental(),
            signed: self.signed,
            counts: Counts {
                ekus: p.ekus.len(),
                file_rules: p.file_rules.len(),
                signers: p.signers.len(),
                scenarios: p.scenarios.len(),
            },
            scenarios: p.scenarios.iter().map(|s| s.mode()).collect(),
            update_policy_signers: p.update_policy_signers.len(),
            supplemental_signers: p.supplemental_signers.len(),
            hvci_options: p.hvci_options,
            measured_digest: MeasuredDigest {
                sha256: hgs_tpm::hex::encode(&self.measured_digest(HashAlg::Sha256)),
            },
        }
    }
}

/// What `hgs cipolicy show --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Format version.
    pub format_version: u32,
    /// PolicyTypeID.
    pub policy_type_id: String,
    /// PlatformID.
    pub platform_id: String,
    /// PolicyID.
    pub policy_id: String,
    /// BasePolicyID.
    pub base_policy_id: String,
    /// VersionEx "a.b.c.d".
    pub version: String,
    /// PolicyInfo name.
    pub name: Option<String>,
    /// PolicyInfo id.
    pub info_id: Option<String>,
    /// Option bits.
    pub option_flags: String,
    /// Option names.
    pub options: Vec<String>,
    /// Audit mode.
    pub audit_mode: bool,
    /// "enforced" or "audit (...)".
    pub enforcement: String,
    /// Supplemental policy.
    pub supplemental: bool,
    /// CMS-signed.
    pub signed: bool,
    /// Counts.
    pub counts: Counts,
    /// Scenario modes.
    pub scenarios: Vec<String>,
    /// Update-policy signers.
    pub update_policy_signers: usize,
    /// Supplemental policy signers.
    pub supplemental_signers: usize,
    /// HVCI options.
    pub hvci_options: u32,
    /// Measured digest.
    pub measured_digest: MeasuredDigest,
}

/// Counts of the main sections.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// EKUs.
    pub ekus: usize,
    /// File rules.
    pub file_rules: usize,
    /// Signers.
    pub signers: usize,
    /// Signing scenarios.
    pub scenarios: usize,
}

/// The measured digest(s), hex.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MeasuredDigest {
    /// SHA-256.
    pub sha256: String,
}
