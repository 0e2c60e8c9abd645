//! What a token says ([`TokenClaims`]), and the claims a verdict gives.

#[allow(unused_imports)]
use super::*;

/// EAR trust tier of a submodule (`ear.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarStatus {
    /// No claim is made.
    None,
    /// The attester is trustworthy (our `Passed`).
    Affirming,
    /// Trustworthy with reservations.
    Warning,
    /// The attester is not trustworthy (every status other than `Passed`).
    Contraindicated,
}

impl EarStatus {
    /// The tier for an HGS status: `Affirming` for `Passed`, else `Contraindicated`.
    pub fn for_status(status: AttestationStatus) -> EarStatus {
        if status == AttestationStatus::Passed {
            EarStatus::Affirming
        } else {
            EarStatus::Contraindicated
        }
    }
}

/// `ear.verifier-id`: who produced the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierId {
    /// The verifier's developer.
    pub developer: String,
    /// The verifier's build.
    pub build: String,
}

impl Default for VerifierId {
    /// `hgs-attest`, build `hgs-attest <crate version>`.
    fn default() -> Self {
        VerifierId {
            developer: "hgs-attest".into(),
            build: concat!("hgs-attest ", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// What a token says: an attestation result for one host. See the module docs for the wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `iat`.
    pub issued_at: UnixSeconds,
    /// `exp`: the token is expired from this second on.
    pub expires_at: UnixSeconds,
    /// `ear.verifier-id`.
    pub verifier_id: VerifierId,
    /// `eat_nonce`, if the relying party supplied one (8 to 88 characters).
    pub nonce: Option<String>,
    /// `ear.status` of the host's submodule.
    pub ear_status: EarStatus,
    /// `hgs.host`: the registered host name (also the submodule's name); `None` when the EK is
    /// not registered, and the submodule is then named for the EK fingerprint.
    pub host: Option<String>,
    /// `hgs.ek-fingerprint`: SHA-256 of the EK (`hgs_policy::ek_fingerprint`), 64
    /// lowercase hex digits in the token.
    pub ek_fingerprint: EkFingerprint,
    /// `hgs.policy-version`: the version the host passed under.
    pub policy_version: Option<PolicyVersion>,
    /// `hgs.status`.
    pub status: AttestationStatus,
    /// `hgs.sub-statuses`.
    pub sub_statuses: Vec<SubStatus>,
    /// `hgs.policies`: the `Hgs_*` policies the host was evaluated against and satisfied (see the
    /// module docs); empty when the token does not say.
    pub policies: BTreeSet<HgsPolicy>,
    /// `cnf.jwk`: the host's TPM-bound key, the only key a key service may encrypt to on this
    /// token. `None`: the token releases nothing (see the module docs).
    pub cnf: Option<BoundKey>,
}

impl TokenClaims {
    /// Claims for a host: `ear.status` follows `status`, no policy version, no sub-status, no
    /// nonce, the default verifier id; expires `lifetime` seconds after `issued_at` (saturating).
    pub fn new(
        host: Option<String>,
        ek_fingerprint: EkFingerprint,
        status: AttestationStatus,
        issued_at: UnixSeconds,
        lifetime: u64,
    ) -> TokenClaims {
        TokenClaims {
            issued_at,
            expires_at: issued_at.saturating_add(lifetime),
            verifier_id: VerifierId::default(),
            nonce: None,
            ear_status: EarStatus::for_status(status),
            host,
            ek_fingerprint,
            policy_version: None,
            status,
            sub_statuses: Vec::new(),
            policies: BTreeSet::new(),
            cnf: None,
        }
    }

    /// Claims for a verdict: its status, sub-statuses, policy version, host name and the `Hgs_*`
    /// policies it satisfied (nothing else of it is read), the challenged EK's fingerprint, valid
    /// from `issued_at` for `lifetime` seconds, and `cnf` naming the verdict's
    /// [`bound_key`](Verdict::bound_key) (the key the AK certified, or the VSM identity key) when
    /// it has one.
    ///
    /// A policy is satisfied when its check passed (or was flagged, as an audit-mode CI policy
    /// is): `Hgs_SecureBootSettings` by the baseline match, `Hgs_CiPolicy` by the CI-policy match,
    /// the others by their rule; a rule that does not apply (dump encryption with dumps off) holds
    /// too. Disabled, failed and unattested policies are not listed.
    ///
    /// A token for a verdict other than `Passed` is `contraindicated`: it can tell a relying party
    /// why, never let it in.
    pub fn from_verdict(
        verdict: &Verdict,
        ek_fingerprint: &EkFingerprint,
        issued_at: UnixSeconds,
        lifetime: u64,
    ) -> TokenClaims {
        let mut c = TokenClaims::new(
            verdict.host.clone(),
            *ek_fingerprint,
            verdict.status,
            issued_at,
            lifetime,
        );
        c.policy_version = verdict.policy_version;
        c.sub_statuses = verdict.sub_statuses.clone();
        c.policies = satisfied_policies(verdict);
        c.cnf = verdict.bound_key.clone();
        c
    }

    /// The same claims with `cnf` naming `key`: the TPM-bound decryption key the AK certified,
    /// which a key service will encrypt to.
    pub fn with_bound_key(mut self, key: BoundKey) -> TokenClaims {
        self.cnf = Some(key);
        self
    }

    /// The same claims with `eat_nonce` set (e.g. the relying party's challenge, 8 to 88
    /// characters).
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> TokenClaims {
        self.nonce = Some(nonce.into());
        self
    }

    /// The submodule's name: the host name, or the EK fingerprint for an unregistered EK.
    pub fn submodule_name(&self) -> Cow<'_, str> {
        match &self.host {
            Some(h) => Cow::Borrowed(h),
            None => Cow::Owned(self.ek_fingerprint.to_string()),
        }
    }

    /// Checks what both the signer and the verifier require of the claims' values.
    pub(super) fn validate(&self) -> Result<(), TokenError> {
        if self.expires_at <= self.issued_at {
            return Err(TokenError::Lifetime {
                iat: self.issued_at,
                exp: self.expires_at,
            });
        }
        if self.host.as_deref().is_some_and(str::is_empty) {
            return Err(TokenError::InvalidClaim {
                name: "hgs.host",
                reason: "empty",
            });
        }
        if self.ear_status != EarStatus::for_status(self.status) {
            return Err(TokenError::InvalidClaim {
                name: "ear.status",
                reason: "affirming if and only if hgs.status is Passed",
            });
        }
        if self.status == AttestationStatus::Passed && !self.sub_statuses.is_empty() {
            return Err(TokenError::InvalidClaim {
                name: "hgs.sub-statuses",
                reason: "a passed host has no sub-status",
            });
        }
        if let Some(n) = &self.nonce {
            if !NONCE_LEN.contains(&n.len()) {
                return Err(TokenError::InvalidClaim {
                    name: "eat_nonce",
                    reason: "not 8 to 88 bytes",
                });
            }
        }
        Ok(())
    }

    pub(super) fn to_wire(&self) -> WireClaimsOut<'_> {
        WireClaimsOut {
            eat_profile: EAR_PROFILE,
            iat: self.issued_at,
            exp: self.expires_at,
            verifier_id: &self.verifier_id,
            eat_nonce: self.nonce.as_deref(),
            cnf: self.cnf.as_ref().map(|jwk| CnfOut { jwk }),
            submods: [(
                self.submodule_name(),
                WireSubmodOut {
                    ear_status: self.ear_status,
                    host: self.host.as_deref(),
                    ek_fingerprint: &self.ek_fingerprint,
                    policy_version: self.policy_version,
                    status: self.status,
                    sub_statuses: &self.sub_statuses,
                    policies: &self.policies,
                },
            )]
            .into_iter()
            .collect(),
        }
    }
}

// ---- Wire forms. Output borrows; input has every required claim optional, to name a missing
// one, and derive's duplicate-field detection refuses a repeated known claim.

/// The `Hgs_*` policies a verdict satisfied (see [`TokenClaims::from_verdict`]).
pub(super) fn satisfied_policies(verdict: &Verdict) -> BTreeSet<HgsPolicy> {
    use hgs_policy::RuleResult;
    let held = |id: CheckId| {
        verdict.checks.iter().any(|c| {
            c.name == id
                && matches!(
                    c.outcome,
                    CheckOutcome::Passed { .. } | CheckOutcome::Flagged { .. }
                )
        })
    };
    let mut out: BTreeSet<HgsPolicy> = verdict
        .policies
        .iter()
        .filter(|o| {
            matches!(
                o.result,
                RuleResult::Passed | RuleResult::NotApplicable { .. }
            )
        })
        .map(|o| o.policy)
        .collect();
    if held(CheckId::Baseline) {
        out.insert(HgsPolicy::SecureBootSettings);
    }
    if held(CheckId::CiPolicy) {
        out.insert(HgsPolicy::CiPolicy);
    }
    out
}
