//! The binary policy (format versions 1–8): fixed header, body, versioned trailing blocks.
//! Layout: `shared/research/cipolicy.md` §2 (checked against the 41 corpus binaries).

use crate::error::{Error, Result};
use crate::reader::Reader;
use hgs_tpm::Guid;

/// Highest format version this crate reads. Versions above it add blocks whose layout is only
/// known from one writer (HotCakeX) and never seen in a real file: refused, never guessed.
pub const MAX_FORMAT_VERSION: u32 = 8;

/// A version a.b.c.d packed as `a<<48 | b<<32 | c<<16 | d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Version(pub u64);

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let v = self.0;
        write!(
            f,
            "{}.{}.{}.{}",
            v >> 48,
            (v >> 32) & 0xffff,
            (v >> 16) & 0xffff,
            v & 0xffff
        )
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Kind of a file rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FileRuleKind {
    /// Deny.
    Deny,
    /// Allow.
    Allow,
    /// FileAttrib (referenced by signers).
    FileAttrib,
}

/// One file rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileRule<'a> {
    /// Deny / Allow / FileAttrib.
    pub kind: FileRuleKind,
    /// File name (original file name attribute), may be empty.
    pub file_name: String,
    /// Minimum file version.
    pub minimum_version: Version,
    /// Hash (Authenticode / page hash), empty when the rule is name-based.
    #[serde(serialize_with = "crate::ser_hex")]
    pub hash: &'a [u8],
    /// Maximum file version (format ≥ 3).
    pub maximum_version: Option<Version>,
    /// AppIDs (format ≥ 3).
    pub app_ids: Vec<String>,
    /// InternalName, FileDescription, ProductName (format ≥ 4).
    pub metadata: Option<[String; 3]>,
    /// PackageFamilyName and PackageVersion (format ≥ 5).
    pub package: Option<(String, Version)>,
    /// FilePath (format ≥ 7).
    pub file_path: Option<String>,
}

/// A signer's certificate root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CertRoot<'a> {
    /// TBS hash of a certificate.
    Tbs(#[serde(serialize_with = "crate::ser_hex")] &'a [u8]),
    /// A well-known Microsoft root, by id.
    WellKnown(u32),
}

/// One signer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signer<'a> {
    /// The root.
    pub root: CertRoot<'a>,
    /// Indices of required EKUs.
    pub ekus: Vec<u32>,
    /// Issuer CN, may be empty.
    pub issuer: String,
    /// Publisher CN, may be empty.
    pub publisher: String,
    /// OEM ID, may be empty.
    pub oem_id: String,
    /// FileAttrib rule indices.
    pub file_attribs: Vec<u32>,
    /// SignTimeAfter as FILETIME (format ≥ 3; 0 = none).
    pub sign_time_after: Option<u64>,
}

/// One group of a signing scenario (product, test, or test-signing signers).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct SignerGroup {
    /// Allowed signers: (signer index, except-deny rule indices).
    pub allowed: Vec<(u32, Vec<u32>)>,
    /// Denied signers: (signer index, except-allow rule indices).
    pub denied: Vec<(u32, Vec<u32>)>,
    /// File rules referenced.
    pub file_rules: Vec<u32>,
}

/// A signing scenario: 131 = kernel mode (drivers), 12 = user mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Scenario {
    /// Scenario value.
    pub value: u32,
    /// Inherited scenario indices.
    pub inherited: Vec<u32>,
    /// Minimum hash algorithm (CAPI ALG_ID, 0x800C = SHA-256).
    pub minimum_hash_algorithm: u32,
    /// ProductSigners, TestSigners, TestSigningSigners.
    pub groups: [SignerGroup; 3],
}

impl Scenario {
    /// "kernel", "user" or the number.
    pub fn mode(&self) -> String {
        match self.value {
            131 => "kernel".into(),
            12 => "user".into(),
            v => v.to_string(),
        }
    }
}

/// A secure setting's value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum SettingValue<'a> {
    /// Boolean.
    Bool(bool),
    /// DWord.
    DWord(u32),
    /// Binary.
    Binary(#[serde(serialize_with = "crate::ser_hex")] &'a [u8]),
    /// String.
    String(String),
}

/// One secure setting (the policy name and id live here, Provider `PolicyInfo`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Setting<'a> {
    /// Provider.
    pub provider: String,
    /// Key.
    pub key: String,
    /// Value name.
    pub value_name: String,
    /// Value.
    pub value: SettingValue<'a>,
}

/// The parsed binary policy (borrowing hashes and blobs from the input).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BinaryPolicy<'a> {
    /// Format version (3, 5, 7, 8 seen in real files).
    pub format_version: u32,
    /// PolicyTypeID (in multiple-policy format: the base policy id).
    pub policy_type_id: Guid,
    /// PlatformID.
    pub platform_id: Guid,
    /// Rule option bits.
    pub option_flags: u32,
    /// VersionEx.
    pub version: Version,
    /// EKUs (DER OID with tag byte 01).
    #[serde(skip)]
    pub ekus: Vec<&'a [u8]>,
    /// File rules.
    pub file_rules: Vec<FileRule<'a>>,
    /// Signers.
    pub signers: Vec<Signer<'a>>,
    /// Update-policy signer indices.
    pub update_policy_signers: Vec<u32>,
    /// CI signer indices.
    pub ci_signers: Vec<u32>,
    /// Signing scenarios.
    pub scenarios: Vec<Scenario>,
    /// HVCI options.
    pub hvci_options: u32,
    /// Secure settings.
    pub settings: Vec<Setting<'a>>,
    /// PolicyID (format ≥ 6).
    pub policy_id: Option<Guid>,
    /// BasePolicyID (format ≥ 6).
    pub base_policy_id: Option<Guid>,
    /// Supplemental policy signer indices (format ≥ 6).
    pub supplemental_signers: Vec<u32>,
    /// Number of AppSettings apps (format ≥ 8).
    pub app_settings: u32,
}

fn group(r: &mut Reader<'_>) -> Result<SignerGroup> {
    let mut g = SignerGroup::default();
    for list in [&mut g.allowed, &mut g.denied] {
        let n = r.count("signer group", 8)?;
        for _ in 0..n {
            let signer = r.u32("signer index")?;
            let except = r.u32_list("except rules")?;
            list.push((signer, except));
        }
    }
    g.file_rules = r.u32_list("FileRulesRef")?;
    Ok(g)
}

fn setting_value<'a>(r: &mut Reader<'a>) -> Result<SettingValue<'a>> {
    let at = r.offset();
    Ok(match r.u32("setting type")? {
        0 => {
            let v_at = r.offset();
            match r.u32("bool setting")? {
                0 => SettingValue::Bool(false),
                1 => SettingValue::Bool(true),
                v => {
                    return Err(Error::InvalidValue {
                        field: "bool setting",
                        offset: v_at,
                        value: u64::from(v),
                    })
                }
            }
        }
        1 => SettingValue::DWord(r.u32("dword setting")?),
        2 => SettingValue::Binary(r.blob("binary setting")?),
        3 => SettingValue::String(r.string("string setting")?),
        t => {
            return Err(Error::InvalidValue {
                field: "setting type",
                offset: at,
                value: u64::from(t),
            })
        }
    })
}

impl<'a> BinaryPolicy<'a> {
    /// Parses an unsigned binary policy that fills `bytes` exactly.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let format_version = r.u32("FormatVersion")?;
        if format_version == 0 || format_version > MAX_FORMAT_VERSION {
            return Err(Error::UnknownFormatVersion(format_version));
        }
        let policy_type_id = r.guid("PolicyTypeID")?;
        let platform_id = r.guid("PlatformID")?;
        let option_flags = r.u32("Options")?;
        let n_ekus = r.count("EKU count", 4)?;
        let n_rules = r.count("FileRule count", 16)?;
        let n_signers = r.count("Signer count", 24)?;
        let n_scenarios = r.count("SigningScenario count", 12)?;
        let version = Version(r.u64("VersionEx")?);
        let hl_at = r.offset();
        let header_len = r.u32("header length")?;
        if header_len != 0x40 {
            return Err(Error::InvalidValue {
                field: "header length",
                offset: hl_at,
                value: u64::from(header_len),
            });
        }
        let ekus = (0..n_ekus)
            .map(|_| r.blob("EKU"))
            .collect::<Result<Vec<_>>>()?;
        let mut file_rules = Vec::with_capacity(n_rules);
        for _ in 0..n_rules {
            let at = r.offset();
            let kind = match r.u32("FileRule type")? {
                0 => FileRuleKind::Deny,
                1 => FileRuleKind::Allow,
                2 => FileRuleKind::FileAttrib,
                t => {
                    return Err(Error::InvalidValue {
                        field: "FileRule type",
                        offset: at,
                        value: u64::from(t),
                    })
                }
            };
            let file_name = r.string("FileName")?;
            let minimum_version = Version(r.u64("MinimumFileVersion")?);
            let hash = r.blob("Hash")?;
            file_rules.push(FileRule {
                kind,
                file_name,
                minimum_version,
                hash,
                maximum_version: None,
                app_ids: Vec::new(),
                metadata: None,
                package: None,
                file_path: None,
            });
        }
        let mut signers = Vec::with_capacity(n_signers);
        for _ in 0..n_signers {
            let at = r.offset();
            let root = match r.u32("CertRoot type")? {
                0 => CertRoot::Tbs(r.blob("CertRoot TBS")?),
                1 => CertRoot::WellKnown(r.u32("CertRoot well-known")?),
                t => {
                    return Err(Error::InvalidValue {
                        field: "CertRoot type",
                        offset: at,
                        value: u64::from(t),
                    })
                }
            };
            let ekus = r.u32_list("CertEKU")?;
            let issuer = r.string("CertIssuer")?;
            let publisher = r.string("CertPublisher")?;
            let oem_id = r.string("CertOemID")?;
            let file_attribs = r.u32_list("FileAttribRef")?;
            signers.push(Signer {
                root,
                ekus,
                issuer,
                publisher,
                oem_id,
                file_attribs,
                sign_time_after: None,
            });
        }
        let update_policy_signers = r.u32_list("UpdatePolicySigners")?;
        let ci_signers = r.u32_list("CiSigners")?;
        let mut scenarios = Vec::with_capacity(n_scenarios);
        for _ in 0..n_scenarios {
            let value = r.u32("SigningScenario value")?;
            let inherited = r.u32_list("InheritedScenarios")?;
            let minimum_hash_algorithm = r.u32("MinimumHashAlgorithm")?;
            let groups = [group(&mut r)?, group(&mut r)?, group(&mut r)?];
            scenarios.push(Scenario {
                value,
                inherited,
                minimum_hash_algorithm,
                groups,
            });
        }
        let hvci_options = r.u32("HvciOptions")?;
        let n_settings = r.count("Settings count", 28)?;
        let mut settings = Vec::with_capacity(n_settings);
        for _ in 0..n_settings {
            let provider = r.string("Setting provider")?;
            let key = r.string("Setting key")?;
            let value_name = r.string("Setting value name")?;
            let value = setting_value(&mut r)?;
            settings.push(Setting {
                provider,
                key,
                value_name,
                value,
            });
        }
        let mut p = BinaryPolicy {
            format_version,
            policy_type_id,
            platform_id,
            option_flags,
            version,
            ekus,
            file_rules,
            signers,
            update_policy_signers,
            ci_signers,
            scenarios,
            hvci_options,
            settings,
            policy_id: None,
            base_policy_id: None,
            supplemental_signers: Vec::new(),
            app_settings: 0,
        };
        // Versioned blocks 3..=format_version, each introduced by its tag, then the end tag
        // format_version + 1.
        let expect = |r: &mut Reader<'_>, tag: u32| -> Result<()> {
            let at = r.offset();
            let got = r.u32("block tag")?;
            if got == tag {
                Ok(())
            } else {
                Err(Error::InvalidValue {
                    field: "block tag",
                    offset: at,
                    value: u64::from(got),
                })
            }
        };
        for tag in 3..=format_version {
            expect(&mut r, tag)?;
            p.read_block(tag, &mut r)?;
        }
        expect(&mut r, format_version + 1)?;
        if r.remaining() != 0 {
            return Err(Error::TrailingBytes {
                offset: r.offset(),
                count: r.remaining(),
            });
        }
        Ok(p)
    }

    fn read_block(&mut self, tag: u32, r: &mut Reader<'a>) -> Result<()> {
        match tag {
            3 => {
                for rule in &mut self.file_rules {
                    rule.maximum_version = Some(Version(r.u64("MaximumFileVersion")?));
                    let n = r.count("AppIDs", 8)?;
                    rule.app_ids = (0..n).map(|_| r.string("AppID")).collect::<Result<_>>()?;
                }
                for s in &mut self.signers {
                    s.sign_time_after = Some(r.u64("SignTimeAfter")?);
                }
            }
            4 => {
                for rule in &mut self.file_rules {
                    rule.metadata = Some([
                        r.string("InternalName")?,
                        r.string("FileDescription")?,
                        r.string("ProductName")?,
                    ]);
                }
            }
            5 => {
                for rule in &mut self.file_rules {
                    rule.package = Some((
                        r.string("PackageFamilyName")?,
                        Version(r.u64("PackageVersion")?),
                    ));
                }
            }
            6 => {
                self.policy_id = Some(r.guid("PolicyID")?);
                self.base_policy_id = Some(r.guid("BasePolicyID")?);
                self.supplemental_signers = r.u32_list("SupplementalPolicySigners")?;
            }
            7 => {
                for rule in &mut self.file_rules {
                    rule.file_path = Some(r.string("FilePath")?);
                }
            }
            8 => {
                let apps = r.count("AppSettings", 12)?;
                for _ in 0..apps {
                    r.string("AppSettings manifest id")?;
                    let defs = r.count("AppSettings definitions", 9)?;
                    for _ in 0..defs {
                        r.string("AppSetting name")?;
                        let at = r.offset();
                        match r.u8("AppSetting type")? {
                            0 => {
                                r.u8("AppSetting bool")?;
                            }
                            3 => {
                                r.string("AppSetting string")?;
                            }
                            4 => {
                                let n = r.count("AppSetting string set", 8)?;
                                for _ in 0..n {
                                    r.string("AppSetting string")?;
                                }
                            }
                            t => {
                                return Err(Error::InvalidValue {
                                    field: "AppSetting type",
                                    offset: at,
                                    value: u64::from(t),
                                })
                            }
                        }
                        r.u32("AppSetting flags")?;
                    }
                }
                self.app_settings = u32::try_from(apps).unwrap_or(u32::MAX);
            }
            _ => {}
        }
        Ok(())
    }

    /// A string setting by provider / key / value name.
    pub fn setting_string(&self, provider: &str, key: &str, value_name: &str) -> Option<&str> {
        self.settings.iter().find_map(|s| match &s.value {
            SettingValue::String(v)
                if s.provider == provider && s.key == key && s.value_name == value_name =>
            {
                Some(v.as_str())
            }
            _ => None,
        })
    }
}
