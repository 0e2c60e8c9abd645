//! [`TokenSigner`]: the service's P-256 key; its JWK and RFC 7638 thumbprint.

#[allow(unused_imports)]
use super::*;

/// The public key as an RFC 7638 canonical JWK (members sorted, no whitespace): the thumbprint
/// input, and what [`TokenSigner::public_jwk`] extends.
pub(super) fn canonical_jwk(key: &VerifyingKey) -> (String, String) {
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
