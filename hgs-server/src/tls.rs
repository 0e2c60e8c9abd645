//! The server's TLS identity: a certificate chain and key from PEM files, or a self-signed
//! certificate generated at start (so `hgs serve` works with no setup; clients pin it by the
//! SHA-256 fingerprint the server prints). rustls with the ring provider, TLS 1.2 and 1.3.

use std::path::Path;
use std::sync::Arc;

use base64ct::Encoding as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// Why the TLS identity cannot be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file is unreadable or holds no certificate / key.
    #[error("{path}: {source}")]
    Pem {
        /// The file.
        path: String,
        /// The PEM error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0}: no certificate in the file")]
    NoCertificate(String),
    /// Generating the self-signed certificate failed.
    #[error("generating a self-signed certificate failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsIdentity {
    /// From PEM files: the chain (leaf first) and the private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsIdentity, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(pem(cert))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem(cert))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert.display().to_string()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
        Ok(TlsIdentity { chain, key })
    }

    /// A fresh self-signed certificate (P-256) for `names` (DNS names or IP addresses).
    pub fn self_signed(names: &[String]) -> Result<TlsIdentity, TlsError> {
        let certified = rcgen::generate_simple_self_signed(names.to_vec())?;
        let chain = vec![certified.cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        Ok(TlsIdentity { chain, key })
    }

    /// The leaf certificate (DER), e.g. for a client to trust.
    pub fn certificate_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    /// The leaf certificate as PEM.
    pub fn certificate_pem(&self) -> String {
        let b64 = base64ct::Base64::encode_string(self.certificate_der());
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// SHA-256 of the leaf certificate, as colon-separated upper-case hex (what browsers and
    /// `openssl x509 -fingerprint -sha256` show).
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.certificate_der())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The rustls server configuration (ring provider, TLS 1.2+, ALPN http/1.1).
    pub fn rustls_config(&self) -> Result<axum_server::tls_rustls::RustlsConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(axum_server::tls_rustls::RustlsConfig::from_config(
            Arc::new(config),
        ))
    }
}

fn pem(path: &Path) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError {
    let path = path.display().to_string();
    move |source| TlsError::Pem {
        path: path.clone(),
        source,
    }
}
