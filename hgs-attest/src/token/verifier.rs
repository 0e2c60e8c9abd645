//! [`TokenVerifier`]: a relying party's check of a token, offline; [`VerifiedToken`].

#[allow(unused_imports)]
use super::*;

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
