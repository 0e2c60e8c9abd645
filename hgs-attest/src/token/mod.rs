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

mod claims;
mod error;
mod signer;
mod verifier;
mod wire;

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

#[allow(unused_imports)]
use claims::*;
pub use claims::{EarStatus, TokenClaims, VerifierId};
#[allow(unused_imports)]
use error::*;
pub use error::{Segment, TokenError, TokenKeyError};
#[allow(unused_imports)]
use signer::*;
pub use signer::{key_id, TokenSigner};
pub use verifier::{TokenStatus, TokenVerifier, VerifiedToken};
#[allow(unused_imports)]
use wire::*;
