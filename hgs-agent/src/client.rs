//! `hgs agent run`: the attestation client of `hgs serve`; `hgs agent secret get` and
//! `hgs agent key-protector unwrap`: the client of its key service.
//!
//! One round: ask the service for a challenge (host name + AK public area), answer it with the
//! TPM (credential activation, quotes, the log, the bound key certified), submit the evidence,
//! keep the verdict and — on Passed — the signed attestation result. Transport and server errors
//! are retried with exponential backoff; a refusal is an answer, not an error, and is not retried.
//!
//! A release ([`Client::release_secret`], [`Client::unwrap_key_protector`]) presents the token
//! as a bearer and gets back a compact JWE encrypted to the token's `cnf` key, the agent's bound
//! key; the service's refusals are [`ReleaseError`] variants carrying its reason. Whether a saved
//! token is still worth presenting is [`check_saved_token`]: signed by the service's current key,
//! Passed, not about to expire, and naming *this* agent's bound key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hgs_attest::{ChallengeMessage, Evidence, Verdict};

/// Longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Longest a request may take (a challenge or an evaluation is milliseconds; a slow network
/// or server must not hang the agent).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The service's answer to an attestation.
#[derive(Debug, serde::Deserialize)]
pub struct Attested {
    /// The verdict, every check with its evidence.
    pub verdict: Verdict,
    /// On Passed, the signed attestation result (ES256 JWT).
    pub token: Option<String>,
}

/// Why a round failed (a refusal is not a failure: it is an [`Attested`] verdict).
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    /// The service could not be reached, or the connection broke.
    #[error("cannot reach the attestation service at {url}")]
    Transport {
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The service answered with an error document.
    #[error("the service refused the request ({status}): {kind}: {message}")]
    Service {
        /// HTTP status.
        status: u16,
        /// The typed reason (`unknown_host`, `challenge_used`, ...).
        kind: String,
        /// What happened.
        message: String,
    },
    /// The service answered something that is not the documented JSON.
    #[error("the service's answer to {url} is not the expected JSON")]
    BadAnswer {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The TPM could not answer the challenge (the caller's error, kept as the source).
    #[error("the TPM could not answer the challenge")]
    Tpm(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server certificate file cannot be read.
    #[error("cannot read {path}")]
    ReadCertificate {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server certificate file is not a PEM certificate.
    #[error("{path}: not a PEM certificate")]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTPS client could not be built.
    #[error("cannot set up the HTTPS client")]
    Build(#[source] reqwest::Error),
}

impl RoundError {
    /// Whether trying again may help (the service or network), as opposed to a request the
    /// service will keep refusing (unknown host, bad AK).
    pub fn retryable(&self) -> bool {
        match self {
            RoundError::Transport { .. } | RoundError::BadAnswer { .. } => true,
            RoundError::Service { status, .. } => *status >= 500 || *status == 409,
            RoundError::Tpm(_) => true,
        }
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
    /// A refused release's reason (`release_refused`).
    #[serde(default)]
    reason: Option<String>,
}

/// The media type of a released JWE (RFC 7516 §9.1, compact serialization).
pub const JOSE_CONTENT_TYPE: &str = "application/jose";

/// Longest released answer read, in bytes: `hgs_keys::MAX_JWE_LEN` bounds what decrypts anyway.
const MAX_RELEASE_ANSWER: usize = hgs_keys::MAX_JWE_LEN;

/// Why a release gave no JWE. The service's refusals keep its reason; none of them is retried by
/// this client (a caller holding a saved token may attest afresh and ask once more).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The service could not be reached, or the connection broke.
    #[error("cannot reach the key service at {url}")]
    Transport {
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// 403 `release_refused`: the token was good but the release policy says no.
    #[error("the release was refused: {reason}: {message}")]
    Refused {
        /// The typed reason, snake_case (`host_not_registered`, `policy_version_too_low`,
        /// `issued_before_cutoff`, `no_bound_key`, ...).
        reason: String,
        /// The service's explanation.
        message: String,
    },
    /// 401 `invalid_token`: the token is not accepted (expired, another key, malformed).
    #[error("the service refused the attestation token: {message}")]
    InvalidToken {
        /// The service's explanation.
        message: String,
    },
    /// 404: no secret of that name, or the key protector names no guardian the service holds.
    #[error("not found: {message}")]
    NotFound {
        /// The service's explanation.
        message: String,
    },
    /// 429: too many requests.
    #[error("the service is rate limiting this client (retry after {retry_after:?} s): {message}")]
    RateLimited {
        /// `Retry-After`, in seconds, when the service said.
        retry_after: Option<u64>,
        /// The service's explanation.
        message: String,
    },
    /// Any other error answer (400 malformed input, 5xx).
    #[error("the service refused the request ({status}): {kind}: {message}")]
    Service {
        /// HTTP status.
        status: u16,
        /// The error kind.
        kind: String,
        /// The service's explanation.
        message: String,
    },
    /// A success answer that is not a compact JWE (`application/jose`, ASCII, bounded).
    #[error("the service's answer to {url} is not a compact JWE: {what}")]
    NotJose {
        /// The URL.
        url: String,
        /// What was wrong (content type, length, characters).
        what: String,
    },
    /// The secret's name is not a name the service can hold.
    #[error("{name:?} is not a secret name")]
    BadName {
        /// The name given (at most 64 characters of it).
        name: String,
        /// Why.
        #[source]
        source: hgs_attest::policy::NameError,
    },
    /// The service's address is not an `https://host:port` URL a path can be added to.
    #[error("{base} is not a service URL")]
    BadUrl {
        /// The address given.
        base: String,
    },
    /// The answer's body could not be read.
    #[error("cannot read the service's answer to {url}")]
    Body {
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
}

/// The refusal reasons a fresh attestation may change: they are about what the token says (its
/// age, status, key, policy version or policies), not about the registration or the secret's
/// host list, which a new token does not change.
pub const REASONS_A_NEW_TOKEN_MAY_CHANGE: &[&str] = &[
    "expired",
    "not_passed",
    "issued_before_cutoff",
    "no_host_name",
    "no_bound_key",
    "policy_version_too_low",
    "policy_not_satisfied",
];

impl ReleaseError {
    /// Whether a fresh attestation may change the answer: the service refused the token itself
    /// (401: expired, signed by a rotated key) or refused a release for a reason in
    /// [`REASONS_A_NEW_TOKEN_MAY_CHANGE`] (a token issued before a cut-off, ...).
    pub fn refuses_token(&self) -> bool {
        match self {
            ReleaseError::InvalidToken { .. } => true,
            ReleaseError::Refused { reason, .. } => {
                REASONS_A_NEW_TOKEN_MAY_CHANGE.contains(&reason.as_str())
            }
            _ => false,
        }
    }
}

/// Seconds before its expiry at which a saved token is no longer presented: a release takes a
/// round trip and a TPM decryption, and the service checks expiry on arrival.
pub const TOKEN_RENEW_MARGIN: u64 = 60;

/// Why a saved token is not presented (the agent attests afresh instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SavedTokenError {
    /// The service's published token key does not read.
    #[error("the service's token key does not read")]
    TokenKey(#[source] hgs_attest::TokenKeyError),
    /// The token does not verify under it (expired, another key, malformed).
    #[error("the saved token does not verify")]
    Token(#[source] hgs_attest::TokenError),
    /// The token does not say Passed/affirming.
    #[error("the saved token is not an affirming Passed result")]
    NotAffirming,
    /// The token expires within [`TOKEN_RENEW_MARGIN`].
    #[error("the saved token expires in {remaining} s")]
    ExpiresSoon {
        /// Seconds left.
        remaining: u64,
    },
    /// The token names no bound key (`cnf`): nothing would be released on it.
    #[error("the saved token names no bound key")]
    NoBoundKey,
    /// The token names another bound key than this agent's (a token from another state
    /// directory, or from before the key was replaced).
    #[error("the saved token names bound key {named}, this agent's is {ours}")]
    OtherKey {
        /// The `cnf` key's thumbprint.
        named: String,
        /// This agent's key's thumbprint.
        ours: String,
    },
}

/// Whether `token` is worth presenting for a release at `now` (Unix seconds): it verifies under
/// `token_key_jwk` (the service's `/v1/token-key`), is affirming and Passed, has at least
/// [`TOKEN_RENEW_MARGIN`] seconds left, and its `cnf` names `bound_key` (same RFC 7638
/// thumbprint). The service decides again on its own; this only saves a round that would fail.
pub fn check_saved_token(
    token: &str,
    token_key_jwk: &str,
    now: u64,
    bound_key: &hgs_keys::BoundKey,
) -> Result<hgs_attest::VerifiedToken, SavedTokenError> {
    let verified = hgs_attest::TokenVerifier::new()
        .with_public_jwk(token_key_jwk)
        .map_err(SavedTokenError::TokenKey)?
        .verify(token, now)
        .map_err(SavedTokenError::Token)?;
    if !verified.is_affirming(now) {
        return Err(SavedTokenError::NotAffirming);
    }
    let remaining = verified.claims().expires_at.saturating_sub(now);
    if remaining < TOKEN_RENEW_MARGIN {
        return Err(SavedTokenError::ExpiresSoon { remaining });
    }
    let named = verified
        .claims()
        .cnf
        .as_ref()
        .ok_or(SavedTokenError::NoBoundKey)?
        .thumbprint();
    let ours = bound_key.thumbprint();
    if named != ours {
        return Err(SavedTokenError::OtherKey { named, ours });
    }
    Ok(verified)
}

/// An HTTPS client of one attestation service.
#[derive(Debug)]
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
}

impl Client {
    /// A client of `server` (`https://host:port`), trusting `server_cert` (PEM: the certificate
    /// `hgs serve` printed, or its CA) when given, else the public web PKI roots.
    pub fn new(server: &str, server_cert: Option<&Path>) -> Result<Client, ClientError> {
        let mut builder = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .timeout(REQUEST_TIMEOUT);
        if let Some(path) = server_cert {
            let pem = std::fs::read(path).map_err(|source| ClientError::ReadCertificate {
                path: path.to_path_buf(),
                source,
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|source| {
                ClientError::BadCertificate {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(cert);
        }
        Ok(Client {
            http: builder.build().map_err(ClientError::Build)?,
            base: server.trim_end_matches('/').to_string(),
        })
    }

    fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, RoundError> {
        let url = format!("{}{path}", self.base);
        let response =
            self.http
                .post(&url)
                .json(body)
                .send()
                .map_err(|source| RoundError::Transport {
                    url: url.clone(),
                    source,
                })?;
        let status = response.status();
        if !status.is_success() {
            let code = status.as_u16();
            return Err(match response.json::<ErrorBody>() {
                Ok(e) => RoundError::Service {
                    status: code,
                    kind: e.error,
                    message: e.message,
                },
                Err(_) => RoundError::Service {
                    status: code,
                    kind: "http".into(),
                    message: status.to_string(),
                },
            });
        }
        response
            .json::<T>()
            .map_err(|source| RoundError::BadAnswer { url, source })
    }

    /// `POST /v1/challenges`.
    pub fn challenge(&self, host: &str, ak_public: &[u8]) -> Result<ChallengeMessage, RoundError> {
        self.post(
            "/v1/challenges",
            &serde_json::json!({ "host": host, "ak_public": crate::hex::hex(ak_public) }),
        )
    }

    /// `POST /v1/attestations`.
    pub fn attest(&self, evidence: &Evidence) -> Result<Attested, RoundError> {
        self.post("/v1/attestations", evidence)
    }

    /// `GET /v1/token-key`: the public JWK the service signs tokens with.
    pub fn token_key(&self) -> Result<String, RoundError> {
        let url = format!("{}/v1/token-key", self.base);
        let transport = |source| RoundError::Transport {
            url: url.clone(),
            source,
        };
        let response = self.http.get(&url).send().map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(RoundError::Service {
                status: status.as_u16(),
                kind: "http".into(),
                message: status.to_string(),
            });
        }
        response.text().map_err(|source| RoundError::BadAnswer {
            url: url.clone(),
            source,
        })
    }

    /// `POST /v1/secrets/{name}/release` with `token` as the bearer: the secret named `name`,
    /// as a compact JWE to the token's bound key.
    ///
    /// `name` must follow the service's naming rule (`hgs_policy::Name`: ASCII letters, digits,
    /// `-`, `_`, `.`, a letter or digit at both ends), else [`ReleaseError::BadName`] before any
    /// request.
    pub fn release_secret(&self, token: &str, name: &str) -> Result<String, ReleaseError> {
        hgs_attest::policy::Name::new(name).map_err(|source| ReleaseError::BadName {
            name: name.chars().take(64).collect(),
            source,
        })?;
        let url = self.url_of(&["v1", "secrets", name, "release"])?;
        self.release(url, token, Vec::new(), None)
    }

    /// `POST /v1/key-protectors/unwrap` with `token` as the bearer and the key-protector
    /// document as the body: its transport key, as a compact JWE to the token's bound key.
    pub fn unwrap_key_protector(
        &self,
        token: &str,
        key_protector: &[u8],
    ) -> Result<String, ReleaseError> {
        let url = self.url_of(&["v1", "key-protectors", "unwrap"])?;
        self.release(url, token, key_protector.to_vec(), Some("application/json"))
    }

    /// The service's URL with `segments` appended, each percent-encoded as one path segment (a
    /// secret's name cannot reach another route).
    fn url_of(&self, segments: &[&str]) -> Result<reqwest::Url, ReleaseError> {
        let bad = || ReleaseError::BadUrl {
            base: self.base.clone(),
        };
        let mut url = reqwest::Url::parse(&self.base).map_err(|_| bad())?;
        url.path_segments_mut()
            .map_err(|()| bad())?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn release(
        &self,
        url: reqwest::Url,
        token: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<String, ReleaseError> {
        let shown = url.to_string();
        let mut request = self.http.post(url).bearer_auth(token).body(body);
        if let Some(ct) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, ct);
        }
        let response = request.send().map_err(|source| ReleaseError::Transport {
            url: shown.clone(),
            source,
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(release_refusal(response));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let media = content_type.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(JOSE_CONTENT_TYPE) {
            return Err(ReleaseError::NotJose {
                url: shown,
                what: format!("content type {content_type:?}, not {JOSE_CONTENT_TYPE}"),
            });
        }
        let bytes = response.bytes().map_err(|source| ReleaseError::Body {
            url: shown.clone(),
            source,
        })?;
        if bytes.len() > MAX_RELEASE_ANSWER {
            return Err(ReleaseError::NotJose {
                url: shown,
                what: format!("{} bytes, more than {MAX_RELEASE_ANSWER}", bytes.len()),
            });
        }
        let text = std::str::from_utf8(&bytes)
            .ok()
            .map(str::trim)
            .filter(|t| {
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            })
            .ok_or_else(|| ReleaseError::NotJose {
                url: shown,
                what: "characters outside base64url and '.'".into(),
            })?;
        Ok(text.to_string())
    }
}

/// The typed refusal of an error answer to a release.
fn release_refusal(response: reqwest::blocking::Response) -> ReleaseError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = response.json::<ErrorBody>().ok();
    let (kind, message, reason) = match body {
        Some(b) => (b.error, b.message, b.reason),
        None => ("http".into(), status.to_string(), None),
    };
    match status.as_u16() {
        401 => ReleaseError::InvalidToken { message },
        403 => ReleaseError::Refused {
            reason: reason.unwrap_or(kind),
            message,
        },
        404 => ReleaseError::NotFound { message },
        429 => ReleaseError::RateLimited {
            retry_after,
            message,
        },
        code => ReleaseError::Service {
            status: code,
            kind,
            message,
        },
    }
}

/// Where the agent keeps the latest attestation result (written mode 0600: with a bound key it
/// releases nothing to anyone else, but it still names the host).
pub fn token_path(state: &Path) -> PathBuf {
    state.join("token.jwt")
}

/// The wait before retry `n` (0-based): 1, 2, 4, ... seconds, at most [`MAX_BACKOFF`] and at
/// most `interval`.
pub fn backoff(n: u32, interval: Duration) -> Duration {
    let secs = 1u64.checked_shl(n.min(16)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_BACKOFF).min(interval)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use hgs_attest::{AttestationStatus, EkFingerprint, TokenClaims, TokenSigner};

    const NOW: u64 = 1_800_000_000;

    fn p256_key() -> hgs_keys::BoundKey {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let point = secret.public_key().to_encoded_point(false);
        hgs_keys::BoundKey::from_p256_sec1(point.as_bytes()).unwrap()
    }

    fn claims(status: AttestationStatus, issued: u64, lifetime: u64) -> TokenClaims {
        let ek: EkFingerprint = "ab".repeat(32).parse().unwrap();
        TokenClaims::new(Some("HOST01".into()), ek, status, issued, lifetime)
    }

    #[test]
    fn a_saved_token_is_presented_only_if_signed_passed_fresh_and_naming_this_agents_key() {
        let signer = TokenSigner::generate(&mut rand_core::OsRng);
        let jwk = signer.public_jwk();
        let ours = p256_key();
        let sign = |c: &TokenClaims| signer.sign(c).unwrap();

        let good = sign(&claims(AttestationStatus::Passed, NOW, 3600).with_bound_key(ours.clone()));
        let verified = check_saved_token(&good, &jwk, NOW + 10, &ours).unwrap();
        assert_eq!(verified.claims().cnf.as_ref(), Some(&ours));

        // Another agent's key: named, with both thumbprints.
        let theirs = p256_key();
        let other =
            sign(&claims(AttestationStatus::Passed, NOW, 3600).with_bound_key(theirs.clone()));
        match check_saved_token(&other, &jwk, NOW, &ours).unwrap_err() {
            SavedTokenError::OtherKey { named, ours: o } => {
                assert_eq!(named, theirs.thumbprint());
                assert_eq!(o, ours.thumbprint());
            }
            e => panic!("{e:?}"),
        }
        // No cnf.
        let keyless = sign(&claims(AttestationStatus::Passed, NOW, 3600));
        assert!(matches!(
            check_saved_token(&keyless, &jwk, NOW, &ours),
            Err(SavedTokenError::NoBoundKey)
        ));
        // Within the renewal margin of its expiry, and past it.
        let remaining = TOKEN_RENEW_MARGIN - 1;
        assert!(matches!(
            check_saved_token(&good, &jwk, NOW + 3600 - remaining, &ours),
            Err(SavedTokenError::ExpiresSoon { remaining: r }) if r == remaining
        ));
        assert!(matches!(
            check_saved_token(&good, &jwk, NOW + 3600, &ours),
            Err(SavedTokenError::Token(_))
        ));
        // Not Passed.
        let failed = sign(
            &claims(AttestationStatus::InsecureHostConfiguration, NOW, 3600)
                .with_bound_key(ours.clone()),
        );
        assert!(matches!(
            check_saved_token(&failed, &jwk, NOW, &ours),
            Err(SavedTokenError::NotAffirming)
        ));
        // Signed by another key (the service's key rotated, or a forged token).
        let stranger = TokenSigner::generate(&mut rand_core::OsRng);
        assert!(matches!(
            check_saved_token(&good, &stranger.public_jwk(), NOW, &ours),
            Err(SavedTokenError::Token(_))
        ));
        assert!(matches!(
            check_saved_token(&good, "not a jwk", NOW, &ours),
            Err(SavedTokenError::TokenKey(_))
        ));
    }

    #[test]
    fn only_refusals_a_new_token_can_change_send_the_agent_back_to_attest() {
        let refused = |reason: &str| ReleaseError::Refused {
            reason: reason.into(),
            message: String::new(),
        };
        for reason in REASONS_A_NEW_TOKEN_MAY_CHANGE {
            assert!(refused(reason).refuses_token(), "{reason}");
        }
        for reason in [
            "host_not_selected",
            "host_not_registered",
            "ek_mismatch",
            "refused",
        ] {
            assert!(!refused(reason).refuses_token(), "{reason}");
        }
        assert!(ReleaseError::InvalidToken {
            message: String::new()
        }
        .refuses_token());
        assert!(!ReleaseError::NotFound {
            message: String::new()
        }
        .refuses_token());
    }

    #[test]
    fn a_secret_name_stays_one_path_segment_and_a_bad_one_is_refused_before_any_request() {
        let c = Client::new("https://hgs.example:8443/", None).unwrap();
        let url = c
            .url_of(&["v1", "secrets", "../../v1/hosts?x#y", "release"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://hgs.example:8443/v1/secrets/..%2F..%2Fv1%2Fhosts%3Fx%23y/release"
        );
        // A name the service's naming rule refuses is refused here, before any request: ".."
        // would otherwise be read as a path step.
        for bad in ["..", ".", "", "a/b", "x y"] {
            assert!(
                matches!(
                    c.release_secret("token", bad),
                    Err(ReleaseError::BadName { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
