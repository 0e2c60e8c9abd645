//! The JWS wire form: header and claims as they are written and read, base64url.

#[allow(unused_imports)]
use super::*;

#[derive(Serialize)]
pub(super) struct HeaderOut<'a> {
    pub(super) alg: &'static str,
    pub(super) typ: &'static str,
    pub(super) kid: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderIn {
    pub(super) alg: Option<String>,
    pub(super) typ: Option<String>,
    pub(super) kid: Option<String>,
}

#[derive(Serialize)]
pub(super) struct WireClaimsOut<'a> {
    pub(super) eat_profile: &'static str,
    pub(super) iat: UnixSeconds,
    pub(super) exp: UnixSeconds,
    #[serde(rename = "ear.verifier-id")]
    pub(super) verifier_id: &'a VerifierId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) eat_nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cnf: Option<CnfOut<'a>>,
    pub(super) submods: BTreeMap<Cow<'a, str>, WireSubmodOut<'a>>,
}

#[derive(Serialize)]
pub(super) struct CnfOut<'a> {
    pub(super) jwk: &'a BoundKey,
}

#[derive(Serialize)]
pub(super) struct WireSubmodOut<'a> {
    #[serde(rename = "ear.status")]
    pub(super) ear_status: EarStatus,
    #[serde(rename = "hgs.host", skip_serializing_if = "Option::is_none")]
    pub(super) host: Option<&'a str>,
    #[serde(rename = "hgs.ek-fingerprint")]
    pub(super) ek_fingerprint: &'a EkFingerprint,
    #[serde(rename = "hgs.policy-version", skip_serializing_if = "Option::is_none")]
    pub(super) policy_version: Option<PolicyVersion>,
    #[serde(rename = "hgs.status")]
    pub(super) status: AttestationStatus,
    #[serde(rename = "hgs.sub-statuses")]
    pub(super) sub_statuses: &'a [SubStatus],
    #[serde(rename = "hgs.policies", skip_serializing_if = "BTreeSet::is_empty")]
    pub(super) policies: &'a BTreeSet<HgsPolicy>,
}

#[derive(Deserialize)]
pub(super) struct WireClaimsIn {
    pub(super) eat_profile: Option<String>,
    pub(super) iat: Option<UnixSeconds>,
    pub(super) exp: Option<UnixSeconds>,
    #[serde(rename = "ear.verifier-id")]
    pub(super) verifier_id: Option<VerifierId>,
    pub(super) eat_nonce: Option<String>,
    /// Kept as text: `hgs_keys` reads the JWK itself (duplicate members, typed refusals). Present
    /// means present, even as `null` (refused), not "absent".
    #[serde(default, deserialize_with = "raw_present")]
    pub(super) cnf: Option<Box<serde_json::value::RawValue>>,
    pub(super) submods: Option<Submods>,
}

#[derive(Deserialize)]
pub(super) struct WireSubmodIn {
    #[serde(rename = "ear.status")]
    pub(super) ear_status: Option<EarStatus>,
    #[serde(rename = "hgs.host")]
    pub(super) host: Option<String>,
    #[serde(rename = "hgs.ek-fingerprint")]
    pub(super) ek_fingerprint: Option<String>,
    #[serde(rename = "hgs.policy-version")]
    pub(super) policy_version: Option<PolicyVersion>,
    #[serde(rename = "hgs.status")]
    pub(super) status: Option<AttestationStatus>,
    #[serde(rename = "hgs.sub-statuses")]
    pub(super) sub_statuses: Option<Vec<SubStatus>>,
    #[serde(rename = "hgs.policies")]
    pub(super) policies: Option<Vec<HgsPolicy>>,
}

/// `submods`, every entry kept (a map would silently merge duplicate names).
pub(super) struct Submods(Vec<(String, WireSubmodIn)>);

impl<'de> Deserialize<'de> for Submods {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Submods;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of submodules")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Submods, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry::<String, WireSubmodIn>()? {
                    v.push(entry);
                }
                Ok(Submods(v))
            }
        }
        d.deserialize_map(V)
    }
}

pub(super) fn missing(name: &'static str) -> TokenError {
    TokenError::MissingClaim { name }
}

impl WireClaimsIn {
    pub(super) fn into_claims(self) -> Result<TokenClaims, TokenError> {
        let profile = self.eat_profile.ok_or(missing("eat_profile"))?;
        if profile != EAR_PROFILE {
            return Err(TokenError::Profile { found: profile });
        }
        let issued_at = self.iat.ok_or(missing("iat"))?;
        let expires_at = self.exp.ok_or(missing("exp"))?;
        let verifier_id = self.verifier_id.ok_or(missing("ear.verifier-id"))?;
        let mut submods = self.submods.ok_or(missing("submods"))?.0;
        if submods.len() != 1 {
            return Err(TokenError::Submodules {
                count: submods.len(),
            });
        }
        let Some((name, s)) = submods.pop() else {
            return Err(TokenError::Submodules { count: 0 });
        };
        let listed = s.policies.unwrap_or_default();
        let policies: BTreeSet<HgsPolicy> = listed.iter().copied().collect();
        if policies.len() != listed.len() {
            return Err(TokenError::InvalidClaim {
                name: "hgs.policies",
                reason: "a policy is listed twice",
            });
        }
        let cnf = self.cnf.as_deref().map(read_cnf).transpose()?;
        let claims = TokenClaims {
            issued_at,
            expires_at,
            verifier_id,
            nonce: self.eat_nonce,
            ear_status: s.ear_status.ok_or(missing("submods.*.ear.status"))?,
            host: s.host,
            ek_fingerprint: s
                .ek_fingerprint
                .ok_or(missing("submods.*.hgs.ek-fingerprint"))?
                .parse()
                .map_err(|_| TokenError::InvalidClaim {
                    name: "hgs.ek-fingerprint",
                    reason: "not 64 lowercase hex digits",
                })?,
            policy_version: s.policy_version,
            status: s.status.ok_or(missing("submods.*.hgs.status"))?,
            sub_statuses: s
                .sub_statuses
                .ok_or(missing("submods.*.hgs.sub-statuses"))?,
            policies,
            cnf,
        };
        if name != claims.submodule_name() {
            return Err(TokenError::InvalidClaim {
                name: "submods",
                reason: "the submodule is not named for hgs.host (or the EK fingerprint)",
            });
        }
        claims.validate()?;
        Ok(claims)
    }
}

pub(super) fn raw_present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<serde_json::value::RawValue>>, D::Error> {
    <Box<serde_json::value::RawValue>>::deserialize(d).map(Some)
}

/// `cnf` as RFC 7800 §3.2 writes it, `{"jwk": {...}}`, and nothing else beside `jwk`.
pub(super) fn read_cnf(raw: &serde_json::value::RawValue) -> Result<BoundKey, TokenError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CnfIn<'a> {
        #[serde(borrow)]
        jwk: Option<&'a serde_json::value::RawValue>,
    }
    let text = raw.get();
    if !text.trim_start().starts_with('{') {
        return Err(TokenError::Confirmation {
            reason: "not a JSON object",
        });
    }
    let cnf: CnfIn<'_> = serde_json::from_str(text).map_err(|_| TokenError::Confirmation {
        reason: "only the jwk confirmation method is understood, once",
    })?;
    let jwk = cnf.jwk.ok_or(TokenError::Confirmation {
        reason: "it has no jwk",
    })?;
    BoundKey::from_jwk_json(jwk.get()).map_err(TokenError::ConfirmationKey)
}

pub(super) fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes canonical unpadded base64url: the decoding must re-encode to the input, so each byte
/// string has one accepted spelling.
pub(super) fn b64_decode(s: &str, segment: Segment) -> Result<Vec<u8>, TokenError> {
    let bytes = Base64UrlUnpadded::decode_vec(s).map_err(|_| TokenError::Base64 { segment })?;
    if Base64UrlUnpadded::encode_string(&bytes) != s {
        return Err(TokenError::Base64 { segment });
    }
    Ok(bytes)
}
