//! `hgs agent run`: the attestation client of `hgs serve`.
//!
//! One round: ask the service for a challenge (host name + AK public area), answer it with the
//! TPM (credential activation, quotes, the log), submit the evidence, keep the verdict and — on
//! Passed — the signed attestation result. Transport and server errors are retried with
//! exponential backoff; a refusal is an answer, not an error, and is not retried.

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
}

/// Where the agent keeps the latest attestation result.
pub fn token_path(state: &Path) -> PathBuf {
    state.join("token.jwt")
}

/// The wait before retry `n` (0-based): 1, 2, 4, ... seconds, at most [`MAX_BACKOFF`] and at
/// most `interval`.
pub fn backoff(n: u32, interval: Duration) -> Duration {
    let secs = 1u64.checked_shl(n.min(16)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_BACKOFF).min(interval)
}
