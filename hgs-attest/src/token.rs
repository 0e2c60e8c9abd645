//! Signed attestation results: a JWT a relying party (a key broker) verifies offline.
//!
//! On `Passed` the server signs a token with a P-256 key it holds; the key broker holds the
//! matching public key (see [`TokenSigner::public_jwk`] / [`TokenSigner::verifying_key_der`]) and
//! checks a host's token with [`TokenVerifier::verify`] without calling the server. No I/O and no
//! clock: the current time is always a parameter ([`UnixSeconds`]).
//!
//! # Format
//!
//! A JWS in compact serialization (RFC 7515), `base64url(header) . base64url(claims) .
//! base64url(signature)`, unpadded, canonical base64url only.
//!
//! - Header: exactly `{"alg":"ES256","typ":"JWT","kid":"<RFC 7638 thumbprint>"}`. Any other `alg`
//!   (`none`, `HS256`, `RS256`, `ES384`, ...) is refused, as is any `crit`, and any other header
//!   parameter (`jwk`, `jku`, `x5u`, `x5c`, ...): keys come only from the verifier's trust list.
//! - Signature: ECDSA P-256 over SHA-256 of the ASCII `header.claims` (RFC 7518 §3.4), the raw
//!   64-byte `r || s` (not DER). The signer always emits low-S; the verifier refuses high-S, so
//!   nobody without the key can turn an issued token into another valid string (no `(r, n - s)`
//!   twin: a relying party may key a replay or revocation cache on the string) — the only
//!   producer is [`TokenSigner`], so this costs no interop.
//! - Claims: the EAR shape (EAT Attestation Results, draft-ietf-rats-ear / ar4si), one submodule
//!   named for the host, our own claims namespaced `hgs.`:
//!
//! ```json
//! {
//!   "eat_profile": "tag:github.com,2023:veraison/ear",
//!   "iat": 1700000000,
//!   "exp": 1700003600,
//!   "ear.verifier-id": { "developer": "hgs-attest", "build": "hgs-attest 0.1.0" },
//!   "eat_nonce": "optional, 8 to 88 characters",
//!   "cnf": { "jwk": { "crv": "P-256", "kty": "EC", "x": "...", "y": "..." } },
//!   "submods": {
//!     "HOST01": {
//!       "ear.status": "affirming",
//!       "hgs.host": "HOST01",
//!       "hgs.ek-fingerprint": "<64 lowercase hex digits>",
//!       "hgs.policy-version": "v2",
//!       "hgs.status": "Passed",
//!       "hgs.sub-statuses": [],
//!       "hgs.policies": ["Hgs_SecureBootEnabled", "Hgs_CiPolicy"]
//!     }
//!   }
//! }
//! ```
//!
//! `ear.status` is `affirming` exactly when `hgs.status` is `Passed`, else `contraindicated`; the
//! verifier refuses a token where the two disagree. Unknown claims are ignored; duplicate known
//! claims (and duplicate submodules) are refused.
//!
//! # The bound key (`cnf`)
//!
//! `cnf` (RFC 7800 §3.2, optional) names the host's TPM-bound decryption key as a public JWK
//! (`hgs_keys::BoundKey`, RSA-2048 or P-256): the key a key service encrypts what it releases to
//! ([`TokenClaims::with_bound_key`]). Only the `jwk` confirmation method is understood: a `cnf`
//! that is not an object, lacks `jwk` or has another member is [`TokenError::Confirmation`], a
//! `jwk` that `hgs_keys` refuses (private members, a 1024-bit modulus, a point off the curve, a
//! duplicate member, ...) is [`TokenError::ConfirmationKey`]; either way the whole token is
//! refused. A token without `cnf` can still say `Passed`, but a key service releases nothing on
//! it: it has no key to encrypt to that it knows lives in that host's TPM (`hgs_kps` refuses it
//! as `Refusal::NoBoundKey`).
//!
//! # Policies held (`hgs.policies`)
//!
//! `hgs.sub-statuses` only ever lists *failures* (and several policies share one sub-status), so
//! a `Passed` token, whose list is empty, cannot say whether a policy was enforced or disabled by
//! the administrator. `hgs.policies` (optional; absent reads as empty) lists the `Hgs_*` policies
//! the host was evaluated against and satisfied ([`TokenClaims::policies`]), so a relying party
//! can require one (`Hgs_BitLockerEnabled` is disabled by default) rather than trust that it was
//! on. A repeated policy is refused.
//!
//! # Time
//!
//! The token is valid for `iat - skew <= now < exp`. At `now >= exp`, [`TokenVerifier::verify`]
//! returns [`TokenError::Expired`], which still carries the authenticated claims (for logs), and
//! [`VerifiedToken::status`] of a token verified earlier reads [`TokenStatus::Expired`]. A token
//! is only ever grounds for access through [`VerifiedToken::is_affirming`], which is false for an
//! expired token and for any verdict other than `Passed`.
//!
//! # Example
//!
//! ```
//! use hgs_attest::{
//!     AttestationStatus, EkFingerprint, TokenClaims, TokenSigner, TokenStatus, TokenVerifier,
//! };
//!
//! // A fixed test key (never use a constant key in production).
//! let signer = TokenSigner::from_scalar_bytes(&[0x42; 32]).unwrap();
//! let claims = TokenClaims::new(
//!     Some("HOST01".into()),
//!     EkFingerprint::from_bytes([0xab; 32]),
//!     AttestationStatus::Passed,
//!     1_700_000_000,
//!     3600,
//! );
//! let token = signer.sign(&claims).unwrap();
//!
//! // The key broker trusts the server's public key (published as a JWK or SPKI DER).
//! let verifier = TokenVerifier::new().with_public_jwk(&signer.public_jwk()).unwrap();
//! let verified = verifier.verify(&token, 1_700_000_100).unwrap();
//! assert_eq!(verified.claims().host.as_deref(), Some("HOST01"));
//! assert!(verified.is_affirming(1_700_000_100));
//! assert!(matches!(verified.status(1_700_003_600), TokenStatus::Expired { .. }));
//! assert!(verifier.verify(&token, 1_700_003_600).unwrap_err().is_expired());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hgs_keys::BoundKey;
use hgs_policy::{HgsPolicy, PolicyVersion, SubStatus};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use std::borrow::Cow;

use hgs_policy::EkFingerprint;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::verdict::{AttestationStatus, CheckId, CheckOutcome, Verdict};

/// Seconds since the Unix epoch (a JWT NumericDate, integers only).
pub type UnixSeconds = u64;

/// `eat_profile` of every token: the EAR profile.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";

/// The only accepted `alg`.
pub const TOKEN_ALG: &str = "ES256";

/// The `typ` the signer writes; the verifier accepts it in any ASCII case (RFC 7515 §4.1.9).
pub const TOKEN_TYP: &str = "JWT";

/// Longest token [`TokenVerifier::verify`] looks at, in bytes; longer input is refused before any
/// decoding.
///
/// Our tokens are under 3 KiB even with every one of the 14 sub-statuses, all 14 policies, a
/// 255-character host name and an RSA-2048 `cnf` (a 342-character modulus); 8 KiB leaves room for
/// that and bounds what an unauthenticated caller can make the verifier allocate (base64 and JSON
/// of at most a few KiB per call).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Default tolerance for an `iat` ahead of the verifier's clock, in seconds (clock skew between
/// server and relying party). It never extends `exp`.
pub const DEFAULT_CLOCK_SKEW: u64 = 60;

/// Length bounds of `eat_nonce` (EAT: 8 to 88 bytes).
const NONCE_LEN: core::ops::RangeInclusive<usize> = 8..=88;

/// A JWS segment, to say where decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The protected header (first segment).
    Header,
    /// The claims (second segment).
    Payload,
    /// The signature (third segment).
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Why a token is refused (or cannot be signed). Every reason is its own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The input is longer than [`MAX_TOKEN_LEN`]; nothing was decoded.
    #[error("token is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// Input length.
        len: usize,
        /// [`MAX_TOKEN_LEN`].
        max: usize,
    },
    /// Not three dot-separated segments.
    #[error("a JWS compact token has 3 segments, this one has {found}")]
    Segments {
        /// Segments found.
        found: usize,
    },
    /// A segment is not canonical unpadded base64url.
    #[error("the {segment} segment is not canonical unpadded base64url")]
    Base64 {
        /// Which segment.
        segment: Segment,
    },
    /// A segment is not the expected JSON.
    #[error("the {segment} segment is not valid JSON for a token: {source}")]
    Json {
        /// Which segment.
        segment: Segment,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A required header parameter is missing.
    #[error("the header has no {name:?}")]
    MissingHeader {
        /// The parameter.
        name: &'static str,
    },
    /// `alg` is not ES256 (`none`, HMAC, RSA, other curves: algorithm confusion is refused).
    #[error("algorithm {alg:?} is refused: only ES256 is accepted")]
    Algorithm {
        /// The `alg` found.
        alg: String,
    },
    /// The header has a `crit` parameter; we understand no extension, so any `crit` is refused.
    #[error("the header has a crit parameter; no JWS extension is understood")]
    Critical,
    /// `typ` is not `JWT`.
    #[error("typ {typ:?} is not JWT")]
    Type {
        /// The `typ` found.
        typ: String,
    },
    /// A header parameter other than `alg`, `typ`, `kid` (e.g. an embedded `jwk` or a `jku` URL:
    /// keys come only from the trust list).
    #[error("header parameter {name:?} is not accepted")]
    HeaderParameter {
        /// The parameter.
        name: String,
    },
    /// No trusted key has this `kid`.
    #[error("no trusted key has kid {kid:?}")]
    UnknownKey {
        /// The `kid` found.
        kid: String,
    },
    /// The signature is not 64 bytes (r || s); a DER signature lands here.
    #[error("an ES256 signature is 64 bytes (r || s), this one is {len}")]
    SignatureLength {
        /// Decoded length.
        len: usize,
    },
    /// r or s is zero or not below the group order.
    #[error("the signature's r or s is out of range")]
    SignatureEncoding,
    /// s is in the upper half of the group order: the signer never emits it (one token per
    /// claims), so it is a malleated signature.
    #[error("the signature's s is high (malleated signature)")]
    HighS,
    /// The signature does not verify under the `kid`'s key.
    #[error("the signature does not verify")]
    BadSignature,
    /// A required claim is missing (or null).
    #[error("claim {name:?} is missing")]
    MissingClaim {
        /// The claim (submodule claims as `submods.*.<name>`).
        name: &'static str,
    },
    /// `eat_profile` is not [`EAR_PROFILE`].
    #[error("eat_profile {found:?} is not {EAR_PROFILE:?}")]
    Profile {
        /// The profile found.
        found: String,
    },
    /// Not exactly one submodule.
    #[error("a token describes exactly one host, this one has {count} submodules")]
    Submodules {
        /// Submodules found (duplicates counted).
        count: usize,
    },
    /// A claim's value is not acceptable.
    #[error("claim {name:?} is invalid: {reason}")]
    InvalidClaim {
        /// The claim.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// `exp` is not after `iat`.
    #[error("exp {exp} is not after iat {iat}")]
    Lifetime {
        /// `iat`.
        iat: UnixSeconds,
        /// `exp`.
        exp: UnixSeconds,
    },
    /// `iat` is later than `now + skew`: not valid yet (or the server's clock is wrong).
    #[error("issued at {iat}, later than now ({now}) plus {skew} s of skew")]
    IssuedInFuture {
        /// `iat`.
        iat: UnixSeconds,
        /// The verifier's time.
        now: UnixSeconds,
        /// Tolerated skew.
        skew: u64,
    },
    /// The token is authentic but expired (`now >= exp`). The claims are kept for diagnostics;
    /// they are no ground for access.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: UnixSeconds,
        /// The verifier's time.
        now: UnixSeconds,
        /// The authenticated claims.
        claims: Box<TokenClaims>,
    },
    /// Signing failed (the ECDSA backend refused).
    #[error("signing failed")]
    Signing,
    /// `cnf` is not a confirmation this crate understands: not an object, no `jwk`, or another
    /// confirmation method beside it (`jwe`, `kid`, `jku`, ...). The token is refused.
    #[error("the cnf claim is refused: {reason}")]
    Confirmation {
        /// Why.
        reason: &'static str,
    },
    /// `cnf.jwk` is not an acceptable bound key (its reason is the source). The token is refused.
    #[error("the cnf claim's jwk is refused")]
    ConfirmationKey(#[source] hgs_keys::JwkError),
}

impl TokenError {
    /// Whether this is [`TokenError::Expired`] (authentic but no longer valid).
    pub fn is_expired(&self) -> bool {
        matches!(self, TokenError::Expired { .. })
    }
}

/// Why a key cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenKeyError {
    /// Not a PKCS#8 P-256 private key (DER or PEM).
    #[error("not a PKCS#8 P-256 private key")]
    Pkcs8(#[source] p256::pkcs8::Error),
    /// Not a valid P-256 scalar (zero, or not below the group order, or not 32 bytes).
    #[error("not a valid P-256 private scalar")]
    Scalar,
    /// Not a P-256 SubjectPublicKeyInfo.
    #[error("not a P-256 SubjectPublicKeyInfo")]
    PublicKey(#[source] p256::pkcs8::spki::Error),
    /// Not a P-256 EC JWK (`kty` EC, `crv` P-256, `x`, `y` of 32 bytes, a point on the curve).
    #[error("not a P-256 EC JWK: {0}")]
    Jwk(&'static str),
}

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
    /// from `issued_at` for `lifetime` seconds. No `cnf`: add the key the AK certified with
    /// [`TokenClaims::with_bound_key`].
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
    fn validate(&self) -> Result<(), TokenError> {
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

    fn to_wire(&self) -> WireClaimsOut<'_> {
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

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderIn {
    alg: Option<String>,
    typ: Option<String>,
    kid: Option<String>,
}

#[derive(Serialize)]
struct WireClaimsOut<'a> {
    eat_profile: &'static str,
    iat: UnixSeconds,
    exp: UnixSeconds,
    #[serde(rename = "ear.verifier-id")]
    verifier_id: &'a VerifierId,
    #[serde(skip_serializing_if = "Option::is_none")]
    eat_nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<CnfOut<'a>>,
    submods: BTreeMap<Cow<'a, str>, WireSubmodOut<'a>>,
}

#[derive(Serialize)]
struct CnfOut<'a> {
    jwk: &'a BoundKey,
}

#[derive(Serialize)]
struct WireSubmodOut<'a> {
    #[serde(rename = "ear.status")]
    ear_status: EarStatus,
    #[serde(rename = "hgs.host", skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(rename = "hgs.ek-fingerprint")]
    ek_fingerprint: &'a EkFingerprint,
    #[serde(rename = "hgs.policy-version", skip_serializing_if = "Option::is_none")]
    policy_version: Option<PolicyVersion>,
    #[serde(rename = "hgs.status")]
    status: AttestationStatus,
    #[serde(rename = "hgs.sub-statuses")]
    sub_statuses: &'a [SubStatus],
    #[serde(rename = "hgs.policies", skip_serializing_if = "BTreeSet::is_empty")]
    policies: &'a BTreeSet<HgsPolicy>,
}

#[derive(Deserialize)]
struct WireClaimsIn {
    eat_profile: Option<String>,
    iat: Option<UnixSeconds>,
    exp: Option<UnixSeconds>,
    #[serde(rename = "ear.verifier-id")]
    verifier_id: Option<VerifierId>,
    eat_nonce: Option<String>,
    /// Kept as text: `hgs_keys` reads the JWK itself (duplicate members, typed refusals). Present
    /// means present, even as `null` (refused), not "absent".
    #[serde(default, deserialize_with = "raw_present")]
    cnf: Option<Box<serde_json::value::RawValue>>,
    submods: Option<Submods>,
}

#[derive(Deserialize)]
struct WireSubmodIn {
    #[serde(rename = "ear.status")]
    ear_status: Option<EarStatus>,
    #[serde(rename = "hgs.host")]
    host: Option<String>,
    #[serde(rename = "hgs.ek-fingerprint")]
    ek_fingerprint: Option<String>,
    #[serde(rename = "hgs.policy-version")]
    policy_version: Option<PolicyVersion>,
    #[serde(rename = "hgs.status")]
    status: Option<AttestationStatus>,
    #[serde(rename = "hgs.sub-statuses")]
    sub_statuses: Option<Vec<SubStatus>>,
    #[serde(rename = "hgs.policies")]
    policies: Option<Vec<HgsPolicy>>,
}

/// `submods`, every entry kept (a map would silently merge duplicate names).
struct Submods(Vec<(String, WireSubmodIn)>);

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

fn missing(name: &'static str) -> TokenError {
    TokenError::MissingClaim { name }
}

impl WireClaimsIn {
    fn into_claims(self) -> Result<TokenClaims, TokenError> {
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

fn raw_present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<serde_json::value::RawValue>>, D::Error> {
    <Box<serde_json::value::RawValue>>::deserialize(d).map(Some)
}

/// `cnf` as RFC 7800 §3.2 writes it, `{"jwk": {...}}`, and nothing else beside `jwk`.
fn read_cnf(raw: &serde_json::value::RawValue) -> Result<BoundKey, TokenError> {
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

/// The `Hgs_*` policies a verdict satisfied (see [`TokenClaims::from_verdict`]).
fn satisfied_policies(verdict: &Verdict) -> BTreeSet<HgsPolicy> {
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

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes canonical unpadded base64url: the decoding must re-encode to the input, so each byte
/// string has one accepted spelling.
fn b64_decode(s: &str, segment: Segment) -> Result<Vec<u8>, TokenError> {
    let bytes = Base64UrlUnpadded::decode_vec(s).map_err(|_| TokenError::Base64 { segment })?;
    if Base64UrlUnpadded::encode_string(&bytes) != s {
        return Err(TokenError::Base64 { segment });
    }
    Ok(bytes)
}

/// The public key as an RFC 7638 canonical JWK (members sorted, no whitespace): the thumbprint
/// input, and what [`TokenSigner::public_jwk`] extends.
fn canonical_jwk(key: &VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    // An uncompressed point of a valid key always has both coordinates.
    let x = point.x().map(|x| b64(x)).unwrap_or_default();
    let y = point.y().map(|y| b64(y)).unwrap_or_default();
    (x, y)
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a P-256 public key: the `kid` of its tokens.
pub fn key_id(key: &VerifyingKey) -> String {
    let (x, y) = canonical_jwk(key);
    let json = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64(&Sha256::digest(json.as_bytes()))
}

/// The server's token signing key (P-256). Its `Debug` shows only the key id.
#[derive(Clone)]
pub struct TokenSigner {
    key: SigningKey,
    kid: String,
    /// The same key in ring, when [`TokenSigner::with_ring`] asked for it.
    #[cfg(feature = "ring")]
    ring: Option<hgs_tpm::RingP256Signer>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer for a signing key.
    pub fn new(key: SigningKey) -> TokenSigner {
        let kid = key_id(key.verifying_key());
        TokenSigner {
            key,
            kid,
            #[cfg(feature = "ring")]
            ring: None,
        }
    }

    /// The same signer, signing with ring (feature `ring`): measured 8x faster than RustCrypto's
    /// P-256. ring draws each signature's nonce from the operating system (its `SystemRandom`),
    /// so tokens are no longer deterministic; they are still low-S, and verify the same.
    #[cfg(feature = "ring")]
    pub fn with_ring(mut self) -> Result<TokenSigner, TokenKeyError> {
        self.ring = Some(hgs_tpm::RingP256Signer::new(&self.key).ok_or(TokenKeyError::Scalar)?);
        Ok(self)
    }

    /// ECDSA P-256 / SHA-256 of `message` (ring when asked for, else RustCrypto's RFC 6979).
    fn sign_bytes(&self, message: &[u8]) -> Result<Signature, TokenError> {
        #[cfg(feature = "ring")]
        if let Some(signer) = &self.ring {
            return signer.sign(message).ok_or(TokenError::Signing);
        }
        self.key.try_sign(message).map_err(|_| TokenError::Signing)
    }

    /// A fresh random key.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> TokenSigner {
        TokenSigner::new(SigningKey::random(rng))
    }

    /// From a PKCS#8 `PrivateKeyInfo` (DER).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<TokenSigner, TokenKeyError> {
        SigningKey::from_pkcs8_der(der)
            .map(TokenSigner::new)
            .map_err(TokenKeyError::Pkcs8)
    }

    /// From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<TokenSigner, TokenKeyError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(TokenSigner::new)
            .map_err(TokenKeyError::Pkcs8)
    }

    /// From the raw 32-byte big-endian private scalar (exactly 32 bytes: no implied leading
    /// zeros).
    pub fn from_scalar_bytes(bytes: &[u8]) -> Result<TokenSigner, TokenKeyError> {
        if bytes.len() != 32 {
            return Err(TokenKeyError::Scalar);
        }
        SigningKey::from_slice(bytes)
            .map(TokenSigner::new)
            .map_err(|_| TokenKeyError::Scalar)
    }

    /// `kid`: the RFC 7638 thumbprint of the public key.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as a JWK, for a relying party's trust list:
    /// `{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"alg":"ES256","use":"sig"}`.
    pub fn public_jwk(&self) -> String {
        let (x, y) = canonical_jwk(self.verifying_key());
        format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"{}","alg":"ES256","use":"sig"}}"#,
            self.kid
        )
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn verifying_key_der(&self) -> Vec<u8> {
        // Encoding a valid P-256 point as SPKI cannot fail; an empty result would be refused by
        // any reader.
        self.verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Signs the claims into a compact JWS. Refuses claims the verifier would refuse
    /// (`exp <= iat`, a malformed EK fingerprint, `ear.status` disagreeing with the status, ...).
    pub fn sign(&self, claims: &TokenClaims) -> Result<String, TokenError> {
        claims.validate()?;
        let header = serde_json::to_vec(&HeaderOut {
            alg: TOKEN_ALG,
            typ: TOKEN_TYP,
            kid: &self.kid,
        })
        .map_err(|source| TokenError::Json {
            segment: Segment::Header,
            source,
        })?;
        let payload = serde_json::to_vec(&claims.to_wire()).map_err(|source| TokenError::Json {
            segment: Segment::Payload,
            source,
        })?;
        let mut token = b64(&header);
        token.push('.');
        token.push_str(&b64(&payload));
        let sig = self.sign_bytes(token.as_bytes())?;
        let sig = sig.normalize_s().unwrap_or(sig);
        token.push('.');
        token.push_str(&b64(&sig.to_bytes()));
        Ok(token)
    }
}

/// A relying party's trust list of token keys, by `kid`, and the clock skew it tolerates.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: BTreeMap<String, VerifyingKey>,
    skew: u64,
}

impl Default for TokenVerifier {
    fn default() -> Self {
        TokenVerifier::new()
    }
}

/// Whether a verified token is still valid at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// `now < exp`.
    Valid {
        /// Seconds left.
        remaining: u64,
    },
    /// `now >= exp`.
    Expired {
        /// `exp`.
        exp: UnixSeconds,
        /// The time asked about.
        now: UnixSeconds,
    },
}

/// A token whose signature, header and claims checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    claims: TokenClaims,
    kid: String,
}

impl VerifiedToken {
    /// The authenticated claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }

    /// The claims, owned.
    pub fn into_claims(self) -> TokenClaims {
        self.claims
    }

    /// The `kid` of the key that verified it.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// Valid or expired at `now` (expired from `exp` on, inclusive).
    pub fn status(&self, now: UnixSeconds) -> TokenStatus {
        if now >= self.claims.expires_at {
            TokenStatus::Expired {
                exp: self.claims.expires_at,
                now,
            }
        } else {
            TokenStatus::Valid {
                remaining: self.claims.expires_at - now,
            }
        }
    }

    /// The one access test: not expired at `now`, `hgs.status` `Passed` and `ear.status`
    /// `affirming`.
    pub fn is_affirming(&self, now: UnixSeconds) -> bool {
        matches!(self.status(now), TokenStatus::Valid { .. })
            && self.claims.status == AttestationStatus::Passed
            && self.claims.ear_status == EarStatus::Affirming
    }
}

impl TokenVerifier {
    /// No trusted key yet, [`DEFAULT_CLOCK_SKEW`].
    pub fn new() -> TokenVerifier {
        TokenVerifier {
            keys: BTreeMap::new(),
            skew: DEFAULT_CLOCK_SKEW,
        }
    }

    /// Trusts a key (its `kid` is its RFC 7638 thumbprint).
    pub fn with_key(mut self, key: VerifyingKey) -> TokenVerifier {
        self.add_key(key);
        self
    }

    /// Trusts a key; returns its `kid`.
    pub fn add_key(&mut self, key: VerifyingKey) -> String {
        let kid = key_id(&key);
        self.keys.insert(kid.clone(), key);
        kid
    }

    /// Trusts a DER SubjectPublicKeyInfo (as [`TokenSigner::verifying_key_der`] publishes).
    pub fn with_public_key_der(self, der: &[u8]) -> Result<TokenVerifier, TokenKeyError> {
        let key = VerifyingKey::from_public_key_der(der).map_err(TokenKeyError::PublicKey)?;
        Ok(self.with_key(key))
    }

    /// Trusts a P-256 EC JWK (as [`TokenSigner::public_jwk`] publishes). Its `kid`, if any, must
    /// be the key's thumbprint.
    pub fn with_public_jwk(self, jwk: &str) -> Result<TokenVerifier, TokenKeyError> {
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            crv: String,
            x: String,
            y: String,
            kid: Option<String>,
        }
        let j: Jwk = serde_json::from_str(jwk).map_err(|_| TokenKeyError::Jwk("not a JWK"))?;
        if j.kty != "EC" || j.crv != "P-256" {
            return Err(TokenKeyError::Jwk("not kty EC, crv P-256"));
        }
        let x = b64_decode(&j.x, Segment::Header).map_err(|_| TokenKeyError::Jwk("bad x"))?;
        let y = b64_decode(&j.y, Segment::Header).map_err(|_| TokenKeyError::Jwk("bad y"))?;
        if x.len() != 32 || y.len() != 32 {
            return Err(TokenKeyError::Jwk("x and y are 32 bytes"));
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(4);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        let key = VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| TokenKeyError::Jwk("not a point on P-256"))?;
        if j.kid.is_some_and(|k| k != key_id(&key)) {
            return Err(TokenKeyError::Jwk(
                "kid is not the key's RFC 7638 thumbprint",
            ));
        }
        Ok(self.with_key(key))
    }

    /// Tolerates an `iat` up to `seconds` ahead of `now` (never extends `exp`).
    pub fn with_clock_skew(mut self, seconds: u64) -> TokenVerifier {
        self.skew = seconds;
        self
    }

    /// The trusted `kid`s.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Verifies a token at `now`: length, structure, header (ES256, `typ` JWT, trusted `kid`, no
    /// `crit` or other parameter), signature, then the claims (parsed only once authenticated):
    /// profile, required claims, consistency, `iat <= now + skew`, and `now < exp` — an authentic
    /// token at or past `exp` is [`TokenError::Expired`].
    pub fn verify(&self, token: &str, now: UnixSeconds) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong {
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Segments {
                found: token.split('.').count(),
            });
        };

        let header = b64_decode(h64, Segment::Header)?;
        let json = |source| TokenError::Json {
            segment: Segment::Header,
            source,
        };
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&header).map_err(json)?;
        let alg = map
            .get("alg")
            .ok_or(TokenError::MissingHeader { name: "alg" })?;
        if alg.as_str() != Some(TOKEN_ALG) {
            return Err(TokenError::Algorithm {
                alg: alg.as_str().map_or_else(|| alg.to_string(), str::to_owned),
            });
        }
        if map.contains_key("crit") {
            return Err(TokenError::Critical);
        }
        if let Some(name) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "alg" | "typ" | "kid"))
        {
            return Err(TokenError::HeaderParameter { name: name.clone() });
        }
        // Again, strictly: refuses duplicate parameters and non-string values.
        let header: HeaderIn = serde_json::from_slice(&header).map_err(json)?;
        let alg = header
            .alg
            .ok_or(TokenError::MissingHeader { name: "alg" })?;
        if alg != TOKEN_ALG {
            return Err(TokenError::Algorithm { alg });
        }
        let typ = header
            .typ
            .ok_or(TokenError::MissingHeader { name: "typ" })?;
        if !typ.eq_ignore_ascii_case(TOKEN_TYP) {
            return Err(TokenError::Type { typ });
        }
        let kid = header
            .kid
            .ok_or(TokenError::MissingHeader { name: "kid" })?;
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| TokenError::UnknownKey { kid: kid.clone() })?;

        let sig = b64_decode(s64, Segment::Signature)?;
        if sig.len() != 64 {
            return Err(TokenError::SignatureLength { len: sig.len() });
        }
        let sig = Signature::from_slice(&sig).map_err(|_| TokenError::SignatureEncoding)?;
        if sig.normalize_s().is_some() {
            return Err(TokenError::HighS);
        }
        let signing_input = &token[..h64.len() + 1 + p64.len()];
        key.verify(signing_input.as_bytes(), &sig)
            .map_err(|_| TokenError::BadSignature)?;

        let payload = b64_decode(p64, Segment::Payload)?;
        let wire: WireClaimsIn =
            serde_json::from_slice(&payload).map_err(|source| TokenError::Json {
                segment: Segment::Payload,
                source,
            })?;
        let claims = wire.into_claims()?;
        if claims.issued_at > now.saturating_add(self.skew) {
            return Err(TokenError::IssuedInFuture {
                iat: claims.issued_at,
                now,
                skew: self.skew,
            });
        }
        if now >= claims.expires_at {
            return Err(TokenError::Expired {
                exp: claims.expires_at,
                now,
                claims: Box::new(claims),
            });
        }
        Ok(VerifiedToken { claims, kid })
    }
}
