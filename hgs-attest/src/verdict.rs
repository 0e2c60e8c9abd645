//! The verdict: HGS's status vocabulary, the sub-statuses, and every check with its evidence.
//!
//! Status mapping (HGS documents the vocabulary, not the mapping; ours, stated here):
//! - `UnauthorizedHost`: the EK is not registered, or the host's artifacts match under no single
//!   policy version.
//! - `TpmError`: the AK, a quote or the bound key's certification does not verify (signature,
//!   nonce, selection, bank, key attributes).
//! - `InsecureHostConfiguration`: the log cannot be verified (sub-status `TcgLogVerification`), no
//!   baseline or CI policy matches, or an `Hgs_*` policy fails (its sub-status).
//!
//! When several apply, the first in that order is the status; every failure is still listed.

use hgs_policy::BaselineMismatch;
use hgs_policy::Resolution;
use hgs_policy::{ClaimEvidence, RuleFailure, RuleOutcome};
use hgs_policy::{HgsPolicy, PolicyVersion, SubStatus};
use hgs_tcglog::LogAnomaly;
use hgs_tpm::{hex, HashAlg, PcrSet, QuoteError};

/// Every step of an evaluation, by name. Serialized as its name (`quote:sha256`, `Hgs_FullBoot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckId {
    /// `evidence`: the evidence document's format.
    Evidence,
    /// `challenge`: the challenge record is well formed, within its age, with allowed banks.
    Challenge,
    /// `freshness`: the quotes carry the challenge's nonce.
    Freshness,
    /// `ak`: the AK is the challenged one, restricted and fixedTPM.
    Ak,
    /// `log`: the TCG log parses.
    Log,
    /// `quote:<bank>`: a quote of that bank verifies.
    Quote(HashAlg),
    /// `binding`: the log replays to every quoted PCR digest (a [`hgs_tcglog::QuotedLog`]).
    Binding,
    /// `event_digests`: data-covering events on quoted PCRs are covered by their quoted-bank digest.
    EventDigests,
    /// `log_anomalies`: no event a healthy boot never has on the PCRs claims read.
    LogAnomalies,
    /// `ek_identity`: a registered host has the challenged EK.
    EkIdentity,
    /// `baseline`: a registered TPM baseline matches (`Hgs_SecureBootSettings`).
    Baseline,
    /// `ci_policy`: every measured CI policy is registered (`Hgs_CiPolicy`).
    CiPolicy,
    /// A claim-based `Hgs_*` policy.
    Policy(HgsPolicy),
    /// `version`: every artifact under one policy version.
    Version,
    /// `bound_key`: the key releases are encrypted to — a decryption key the AK certified
    /// (TPM2_Certify, the challenge's nonce), or else the VSM identity key of the quoted log.
    BoundKey,
}

impl CheckId {
    /// The PCRs this check reads from the quoted log (empty for checks of the evidence itself).
    pub fn pcrs(self) -> PcrSet {
        match self {
            CheckId::Baseline => HgsPolicy::SecureBootSettings.pcrs(),
            CheckId::CiPolicy => HgsPolicy::CiPolicy.pcrs(),
            CheckId::Policy(p) => p.pcrs(),
            _ => PcrSet::EMPTY,
        }
    }

    /// The sub-status a failure of this check reports, when it is a configuration check.
    fn sub_status(self) -> Option<SubStatus> {
        match self {
            CheckId::Baseline => Some(SubStatus::SecureBootSettings),
            CheckId::CiPolicy => Some(SubStatus::CodeIntegrityPolicy),
            CheckId::Policy(p) => Some(p.sub_status()),
            _ => None,
        }
    }
}

impl core::fmt::Display for CheckId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CheckId::Evidence => "evidence",
            CheckId::Challenge => "challenge",
            CheckId::Freshness => "freshness",
            CheckId::Ak => "ak",
            CheckId::Log => "log",
            CheckId::Quote(b) => return write!(f, "quote:{}", b.name()),
            CheckId::Binding => "binding",
            CheckId::EventDigests => "event_digests",
            CheckId::LogAnomalies => "log_anomalies",
            CheckId::EkIdentity => "ek_identity",
            CheckId::Baseline => "baseline",
            CheckId::CiPolicy => "ci_policy",
            CheckId::Policy(p) => p.name(),
            CheckId::Version => "version",
            CheckId::BoundKey => "bound_key",
        })
    }
}

impl core::str::FromStr for CheckId {
    type Err = String;

    fn from_str(s: &str) -> Result<CheckId, String> {
        Ok(match s {
            "evidence" => CheckId::Evidence,
            "challenge" => CheckId::Challenge,
            "freshness" => CheckId::Freshness,
            "ak" => CheckId::Ak,
            "log" => CheckId::Log,
            "binding" => CheckId::Binding,
            "event_digests" => CheckId::EventDigests,
            "log_anomalies" => CheckId::LogAnomalies,
            "ek_identity" => CheckId::EkIdentity,
            "baseline" => CheckId::Baseline,
            "ci_policy" => CheckId::CiPolicy,
            "version" => CheckId::Version,
            "bound_key" => CheckId::BoundKey,
            other => {
                if let Some(bank) = other.strip_prefix("quote:") {
                    let b = [
                        HashAlg::Sha1,
                        HashAlg::Sha256,
                        HashAlg::Sha384,
                        HashAlg::Sha512,
                    ]
                    .into_iter()
                    .find(|b| b.name() == bank)
                    .ok_or_else(|| format!("unknown bank {bank:?}"))?;
                    CheckId::Quote(b)
                } else {
                    CheckId::Policy(
                        HgsPolicy::from_name(other)
                            .filter(|_| other.starts_with("Hgs_"))
                            .ok_or_else(|| format!("unknown check {other:?}"))?,
                    )
                }
            }
        })
    }
}

impl serde::Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `AttestationStatus`, as Get-HgsClientConfiguration reports it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AttestationStatus {
    /// The host is healthy.
    Passed,
    /// The host is not registered, or not under one consistent policy version.
    UnauthorizedHost,
    /// The TPM's evidence does not verify.
    TpmError,
    /// The host is registered but not configured securely (see the sub-statuses).
    InsecureHostConfiguration,
}

/// A measured CI policy that is not registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MeasuredPolicy {
    /// Event index of the SI_POLICY event.
    pub event_index: u32,
    /// Policy file name Windows recorded.
    pub name: String,
    /// Digest algorithm (TPM_ALG_ID).
    pub hash_alg: u16,
    /// Digest (hex in JSON).
    #[serde(with = "hgs_tpm::hex::serde")]
    pub digest: Vec<u8>,
}

/// Why a host fails. Every reason is its own variant and carries its evidence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum Failure {
    /// The evidence document is not in a format this verifier reads.
    UnknownEvidenceFormat {
        /// The `format` it declares.
        format: String,
    },
    /// The challenge names no bank: nothing would be quoted.
    ChallengeHasNoBank,
    /// The challenge names no PCR.
    ChallengeHasNoPcr,
    /// The challenge's nonce is too short to make a quote fresh.
    NonceTooShort {
        /// Its length.
        len: usize,
        /// The minimum ([`crate::MIN_NONCE_LEN`]).
        min: usize,
    },
    /// The challenge is older than the attestor accepts.
    ChallengeExpired {
        /// When it was issued (UNIX seconds).
        issued_at: u64,
        /// Now.
        now: u64,
        /// Largest accepted age (seconds).
        max_age: u64,
    },
    /// The challenge was issued after "now" (beyond the allowed clock skew).
    ChallengeFromTheFuture {
        /// When it says it was issued.
        issued_at: u64,
        /// Now.
        now: u64,
    },
    /// A challenged (or quoted) bank the bank policy does not allow (SHA-1 by default).
    BankNotAllowed {
        /// The bank.
        bank: HashAlg,
    },
    /// More quotes than the challenge's banks allow (bounded work: each costs a signature check).
    TooManyQuotes {
        /// Quotes in the evidence.
        count: usize,
        /// Largest accepted.
        max: usize,
    },
    /// A quote selects a bank the log does not declare (or one this verifier cannot replay):
    /// nothing the log describes extended it.
    QuotedBankNotInLog {
        /// The bank.
        bank: HashAlg,
    },
    /// A quote selects a bank whose algorithm this verifier does not know, so cannot replay.
    QuotedBankUnknown {
        /// Its TPM_ALG_ID.
        alg: u16,
    },
    /// Only SHA-1 was quoted although the log declares a stronger bank.
    BankDowngrade {
        /// The quoted bank.
        quoted: HashAlg,
        /// A stronger bank the log declares.
        declared: HashAlg,
    },
    /// A check's PCRs were not quoted, so nothing attests what it decides.
    PcrsNotQuoted {
        /// The check.
        check: CheckId,
        /// Its PCRs that no quote covered.
        missing: PcrSet,
    },
    /// An event claims would read carries no digest in the quoted bank: that bank never
    /// measured it (e.g. SHA-1-only records on PCRs Windows extends in SHA-256).
    EventNotInQuotedBank {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
        /// The quoted bank.
        bank: HashAlg,
    },
    /// An event a healthy boot never has on the PCRs claims read (retyped, misplaced, or
    /// unverifiable).
    LogAnomaly {
        /// What.
        anomaly: LogAnomaly,
    },
    /// No registered host has the challenged EK.
    HostNotRegistered {
        /// The EK fingerprint the challenge was made for (`None`: the challenge named no EK).
        ek_fingerprint: Option<hgs_policy::EkFingerprint>,
    },
    /// The evidence's AK is not the one the credential was bound to.
    AkMismatch {
        /// AK name in the challenge (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde")]
        expected: Vec<u8>,
        /// AK name of the evidence (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde")]
        actual: Vec<u8>,
    },
    /// The AK is not a restricted, TPM-bound signing key.
    AkUnsuitable {
        /// What is wrong: its public area does not parse, or attributes are missing.
        error: hgs_tpm::CredentialError,
    },
    /// The evidence's bound key is not a decryption key this TPM holds for this challenge:
    /// its certification is malformed, not by the AK (a key from another TPM: a relay), not for
    /// the challenge's nonce, or the key can leave the TPM, can sign, or was imported.
    BoundKeyRefused {
        /// Why (`hgs_tpm::verify_certify`).
        error: hgs_tpm::CertifyError,
    },
    /// The certified key verified but is not a key a JWE can be encrypted to (RSA-2048 or
    /// P-256).
    BoundKeyUnusable {
        /// The key's public area (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde")]
        public: Vec<u8>,
    },
    /// No quote in the evidence covers a challenged bank.
    QuoteMissing {
        /// The bank.
        bank: HashAlg,
    },
    /// A quote is refused.
    Quote {
        /// The bank it was checked for.
        bank: HashAlg,
        /// Why.
        error: QuoteError,
    },
    /// The log does not parse.
    LogMalformed {
        /// The parser's error.
        error: hgs_tcglog::Error,
    },
    /// The log could not be bound to any verified quote (none was given to bind it to).
    LogNotBound,
    /// The log's replay does not produce the quoted PCRs: an event was removed, added or edited.
    ReplayMismatch {
        /// The first bank of the quote (a quote always selects one).
        bank: Option<HashAlg>,
        /// First PCR whose replayed value differs from the value the host reported, when the
        /// reported values are consistent with the quote (else `None`).
        pcr: Option<u32>,
        /// Replayed value of that PCR (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde_option")]
        replayed: Option<Vec<u8>>,
        /// Reported value of that PCR (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde_option")]
        reported: Option<Vec<u8>>,
        /// Quoted PCR digest (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde")]
        quoted_digest: Vec<u8>,
        /// Digest of the replayed PCRs (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde")]
        replayed_digest: Vec<u8>,
    },
    /// An event's data does not hash to its digest: its data cannot be trusted.
    EventDigestMismatch {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
        /// Bank.
        bank: HashAlg,
        /// Digest in the log (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde")]
        logged: Vec<u8>,
        /// Hash of the data (hex in JSON).
        #[serde(with = "hgs_tpm::hex::serde")]
        computed: Vec<u8>,
    },
    /// No registered baseline matches (under any version).
    NoBaselineMatch {
        /// The first difference from each baseline.
        mismatches: Vec<BaselineMismatch>,
    },
    /// The log measured no CI policy (and has no CI policy event it could not trust: that is
    /// [`Failure::CiPolicyUncovered`]).
    NoCiPolicyMeasured,
    /// An event on a quoted PCR carries a CI policy record, but its data is not covered by its
    /// digest in the quoted bank (altered after it was measured, or a digest of something else).
    /// It is not read as a measurement: which policy the host loaded is unknown.
    CiPolicyUncovered {
        /// Event index.
        event_index: u32,
        /// PCR.
        pcr: u32,
        /// The quoted bank whose digest does not cover the data.
        bank: HashAlg,
    },
    /// A CI policy the host measured is not registered (every one it measured must be: Windows
    /// enforces each policy it loads, and an extra one can widen what may run).
    CiPolicyNotRegistered {
        /// The measured policies that no registration matches.
        measured: Vec<MeasuredPolicy>,
    },
    /// An `Hgs_*` policy failed.
    Policy {
        /// The policy.
        policy: HgsPolicy,
        /// Why.
        #[serde(flatten)]
        reason: RuleFailure,
        /// The claims it rests on.
        evidence: Vec<ClaimEvidence>,
    },
    /// Every artifact matched under some version, never all under one.
    VersionMismatch {
        /// What each version found.
        resolution: Resolution,
    },
}

impl Failure {
    /// The status this failure leads to.
    pub fn status(&self) -> AttestationStatus {
        match self {
            Failure::HostNotRegistered { .. } | Failure::VersionMismatch { .. } => {
                AttestationStatus::UnauthorizedHost
            }
            Failure::UnknownEvidenceFormat { .. }
            | Failure::ChallengeHasNoBank
            | Failure::ChallengeHasNoPcr
            | Failure::NonceTooShort { .. }
            | Failure::ChallengeExpired { .. }
            | Failure::ChallengeFromTheFuture { .. }
            | Failure::BankNotAllowed { .. }
            | Failure::TooManyQuotes { .. }
            | Failure::AkMismatch { .. }
            | Failure::AkUnsuitable { .. }
            | Failure::QuoteMissing { .. }
            | Failure::Quote { .. }
            | Failure::BoundKeyRefused { .. }
            | Failure::BoundKeyUnusable { .. } => AttestationStatus::TpmError,
            _ => AttestationStatus::InsecureHostConfiguration,
        }
    }

    /// The sub-status, for insecure-configuration failures.
    pub fn sub_status(&self) -> Option<SubStatus> {
        match self {
            Failure::LogMalformed { .. }
            | Failure::LogNotBound
            | Failure::ReplayMismatch { .. }
            | Failure::QuotedBankNotInLog { .. }
            | Failure::QuotedBankUnknown { .. }
            | Failure::BankDowngrade { .. }
            | Failure::EventNotInQuotedBank { .. }
            | Failure::EventDigestMismatch { .. } => Some(SubStatus::TcgLogVerification),
            Failure::LogAnomaly { anomaly } => Some(match anomaly {
                LogAnomaly::SecureBootAfterSeparator { .. }
                | LogAnomaly::SecureBootMistyped { .. } => SubStatus::SecureBoot,
                _ => SubStatus::TcgLogVerification,
            }),
            Failure::PcrsNotQuoted { check, .. } => check.sub_status(),
            Failure::NoBaselineMatch { .. } => Some(SubStatus::SecureBootSettings),
            Failure::NoCiPolicyMeasured
            | Failure::CiPolicyUncovered { .. }
            | Failure::CiPolicyNotRegistered { .. } => Some(SubStatus::CodeIntegrityPolicy),
            Failure::Policy { policy, .. } => Some(policy.sub_status()),
            _ => None,
        }
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::UnknownEvidenceFormat { format } => write!(
                f,
                "evidence format {format:?} is not {:?}",
                crate::EVIDENCE_FORMAT
            ),
            Failure::ChallengeHasNoBank => write!(f, "the challenge names no PCR bank"),
            Failure::ChallengeHasNoPcr => write!(f, "the challenge names no PCR"),
            Failure::NonceTooShort { len, min } => {
                write!(f, "the challenge nonce has {len} bytes, fewer than {min}")
            }
            Failure::ChallengeExpired {
                issued_at,
                now,
                max_age,
            } => write!(
                f,
                "the challenge was issued {}s ago (at {issued_at}), more than the {max_age}s allowed",
                now.saturating_sub(*issued_at)
            ),
            Failure::ChallengeFromTheFuture { issued_at, now } => write!(
                f,
                "the challenge says it was issued at {issued_at}, after now ({now})"
            ),
            Failure::BankNotAllowed { bank } => {
                write!(f, "the {bank} bank is not allowed by the bank policy")
            }
            Failure::TooManyQuotes { count, max } => {
                write!(f, "{count} quotes, more than the {max} the challenge allows")
            }
            Failure::QuotedBankNotInLog { bank } => write!(
                f,
                "a quote selects the {bank} bank, which the log does not declare"
            ),
            Failure::QuotedBankUnknown { alg } => write!(
                f,
                "a quote selects bank 0x{alg:04x}, whose algorithm this verifier cannot replay"
            ),
            Failure::BankDowngrade { quoted, declared } => write!(
                f,
                "only {quoted} was quoted although the log declares {declared}: downgrade refused"
            ),
            Failure::PcrsNotQuoted { check, missing } => write!(
                f,
                "PCR {missing} not quoted: {check} not attested"
            ),
            Failure::EventNotInQuotedBank {
                event_index,
                pcr,
                bank,
            } => write!(
                f,
                "event {event_index} (PCR {pcr}) carries no {bank} digest: that bank never measured it"
            ),
            Failure::LogAnomaly { anomaly } => write!(f, "{anomaly}"),
            Failure::HostNotRegistered {
                ek_fingerprint: Some(ek),
            } => write!(f, "no registered host has EK {ek}"),
            Failure::HostNotRegistered {
                ek_fingerprint: None,
            } => write!(f, "the challenge names no EK, so no registered host matches"),
            Failure::AkMismatch { expected, actual } => write!(
                f,
                "the quoting AK {} is not the AK {} the credential was made for",
                hex::encode(actual),
                hex::encode(expected)
            ),
            Failure::AkUnsuitable { error } => {
                write!(f, "unsuitable AK: {error}")?;
                if let Some(source) = std::error::Error::source(error) {
                    write!(f, ": {source}")?;
                }
                Ok(())
            }
            Failure::BoundKeyRefused { error } => {
                write!(f, "bound key refused: {error}")?;
                write_sources(f, error)
            }
            Failure::BoundKeyUnusable { public } => write!(
                f,
                "the certified key {} is neither RSA-2048 nor P-256: nothing can be encrypted to it",
                hex::encode(public)
            ),
            Failure::QuoteMissing { bank } => write!(f, "no quote covers the {bank} bank"),
            Failure::Quote { bank, error } => {
                write!(f, "{bank} quote refused: {error}")?;
                write_sources(f, error)
            }
            Failure::LogMalformed { error } => write!(f, "the TCG log does not parse: {error}"),
            Failure::LogNotBound => write!(f, "the TCG log is bound to no verified quote"),
            Failure::ReplayMismatch {
                bank: replay_bank,
                pcr,
                replayed,
                reported,
                quoted_digest,
                replayed_digest,
            } => {
                let bank = replay_bank.map_or("-", HashAlg::name);
                match pcr {
                Some(p) => write!(
                    f,
                    "the log does not replay to the quoted PCRs ({bank}): PCR {p} replays to {} but the TPM has {}",
                    replayed.as_deref().map_or_else(|| "-".into(), hex::encode),
                    reported.as_deref().map_or_else(|| "-".into(), hex::encode)
                ),
                None => write!(
                    f,
                    "the log does not replay to the quoted PCRs ({bank}): quoted digest {}, replayed {}",
                    hex::encode(quoted_digest),
                    hex::encode(replayed_digest)
                ),
            }
            }
            Failure::EventDigestMismatch {
                event_index,
                pcr,
                bank,
                logged,
                computed,
            } => write!(
                f,
                "event {event_index} (PCR {pcr}): its data hashes to {}, not its {bank} digest {}",
                hex::encode(computed),
                hex::encode(logged)
            ),
            Failure::NoBaselineMatch { mismatches } => {
                write!(f, "no TPM baseline matches")?;
                for m in mismatches {
                    write!(f, "; {m}")?;
                }
                Ok(())
            }
            Failure::NoCiPolicyMeasured => write!(f, "the log measured no code integrity policy"),
            Failure::CiPolicyUncovered {
                event_index,
                pcr,
                bank,
            } => write!(
                f,
                "the code integrity policy event {event_index} (PCR {pcr}) is uncovered: its data \
                 does not hash to its {bank} digest, so which policy was measured is unknown"
            ),
            Failure::CiPolicyNotRegistered { measured } => {
                write!(f, "a measured code integrity policy is not registered:")?;
                for m in measured {
                    write!(
                        f,
                        " {} {} (event {})",
                        m.name,
                        hex::encode(&m.digest),
                        m.event_index
                    )?;
                }
                Ok(())
            }
            Failure::Policy {
                policy,
                reason,
                evidence,
            } => {
                write!(f, "{policy}: {}", reason.describe())?;
                for e in evidence {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
            Failure::VersionMismatch { resolution } => {
                write!(f, "the host's artifacts match under no single policy version:")?;
                for a in &resolution.attempts {
                    write!(f, " {} lacks {};", a.version, a.missing().join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CheckOutcome {
    /// Passed.
    Passed {
        /// What was proven.
        detail: String,
    },
    /// Failed; the failure is in [`Verdict::failures`].
    Failed {
        /// One line.
        detail: String,
    },
    /// Passed, but worth the admin's attention (e.g. an audit-mode CI policy).
    Flagged {
        /// Why.
        detail: String,
    },
    /// Not evaluated.
    Skipped {
        /// Why.
        detail: String,
    },
}

/// `: <source>` for every error in `error`'s source chain.
fn write_sources(
    f: &mut core::fmt::Formatter<'_>,
    error: &dyn std::error::Error,
) -> core::fmt::Result {
    let mut source = error.source();
    while let Some(s) = source {
        write!(f, ": {s}")?;
        source = s.source();
    }
    Ok(())
}

/// One step of the evaluation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// Which check.
    pub name: CheckId,
    /// Outcome.
    #[serde(flatten)]
    pub outcome: CheckOutcome,
}

/// The result of [`crate::evaluate()`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    /// Overall status.
    pub status: AttestationStatus,
    /// Sub-statuses of an insecure configuration (empty when passed).
    pub sub_statuses: Vec<SubStatus>,
    /// The policy version the host passed under.
    pub policy_version: Option<PolicyVersion>,
    /// The registered host name.
    pub host: Option<String>,
    /// The baseline matched (in the passing version, else the first matching one).
    pub baseline: Option<String>,
    /// The CI policy matched.
    pub ci_policy: Option<String>,
    /// The matched CI policy is in audit mode: the host passes, flagged.
    pub audit_mode: bool,
    /// Whether the quotes' freshness was checked (false only for an explicit no-freshness
    /// evaluation, which says the evidence may be old).
    pub freshness_checked: bool,
    /// The bank the verdict's log content was read in (the strongest quoted bank).
    pub quoted_bank: Option<hgs_tcglog::HashAlg>,
    /// The PCRs quoted in that bank: the only ones the verdict read.
    pub quoted_pcrs: PcrSet,
    /// Every reason the host fails.
    pub failures: Vec<Failure>,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The `Hgs_*` policies, each with its claims.
    pub policies: Vec<RuleOutcome>,
    /// Version resolution.
    pub resolution: Option<Resolution>,
    /// The key releases to this host are encrypted to (a token's `cnf`): a decryption key the
    /// AK certified for this challenge, or the VSM identity key of the quoted log; only when
    /// the host passed. `None`: a key service releases nothing to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_key: Option<hgs_keys::BoundKey>,
    /// Where [`Verdict::bound_key`] comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_key_source: Option<BoundKeySource>,
}

/// Where a verdict's bound key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum BoundKeySource {
    /// A TPM decryption key certified by the AK (TPM2_Certify) with the challenge's nonce as
    /// qualifying data.
    Certified,
    /// The VSM identity key (SIPA VSM_IDK_INFO) of the quoted log, as HGS encrypts to.
    VsmIdk {
        /// The event it was read from.
        event_index: u32,
        /// Its PCR (a quoted one).
        pcr: u32,
    },
}

impl Verdict {
    /// Whether the host passed.
    pub fn passed(&self) -> bool {
        self.status == AttestationStatus::Passed
    }
}

impl core::fmt::Display for Verdict {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.status)?;
        if let Some(v) = self.policy_version {
            write!(f, " (policy {v})")?;
        }
        if !self.sub_statuses.is_empty() {
            write!(f, " {:?}", self.sub_statuses)?;
        }
        writeln!(f)?;
        for (label, v) in [
            ("host", &self.host),
            ("baseline", &self.baseline),
            ("CI policy", &self.ci_policy),
        ] {
            if let Some(v) = v {
                writeln!(f, "  {label}: {v}")?;
            }
        }
        if self.audit_mode {
            writeln!(f, "  flagged: the CI policy is in audit mode")?;
        }
        if let (Some(key), Some(source)) = (&self.bound_key, &self.bound_key_source) {
            let from = match source {
                BoundKeySource::Certified => "certified by the AK".to_string(),
                BoundKeySource::VsmIdk { event_index, pcr } => {
                    format!("VSM IDK, event {event_index} on PCR {pcr}")
                }
            };
            writeln!(
                f,
                "  bound key: {} {} ({from})",
                key.key_type(),
                key.thumbprint()
            )?;
        }
        if !self.freshness_checked {
            writeln!(
                f,
                "  flagged: freshness not checked (no verifier nonce): this evidence may be old"
            )?;
        }
        for c in &self.checks {
            let (mark, d) = match &c.outcome {
                CheckOutcome::Passed { detail } => ("ok  ", detail),
                CheckOutcome::Failed { detail } => ("FAIL", detail),
                CheckOutcome::Flagged { detail } => ("flag", detail),
                CheckOutcome::Skipped { detail } => ("skip", detail),
            };
            writeln!(f, "  [{mark}] {}: {d}", c.name)?;
        }
        for fail in &self.failures {
            writeln!(f, "  reason: {fail}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod typed_failure_tests {
    #![allow(clippy::unwrap_used)]
    use super::Failure;
    use hgs_tpm::{check_ak_attributes, CredentialError, Public};

    #[test]
    fn an_unsuitable_ak_is_a_typed_error_that_round_trips_through_json() {
        let malformed = Failure::AkUnsuitable {
            error: CredentialError::MalformedAk(Public::parse(&[0, 1]).unwrap_err()),
        };
        let missing = Failure::AkUnsuitable {
            error: check_ak_attributes(&hgs_tpm::ek_p256_public(&[1; 32], &[2; 32])).unwrap_err(),
        };
        assert!(matches!(
            &missing,
            Failure::AkUnsuitable {
                error: CredentialError::UnsuitableAk { .. }
            }
        ));
        for f in [malformed, missing] {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<Failure>(&json).unwrap(), f, "{json}");
            assert!(f.to_string().starts_with("unsuitable AK: "), "{f}");
        }
    }
}
