//! A guardian: an encryption key pair whose public half is exported as an X.509 certificate
//! (`Export-HgsGuardian`), read here into the key a key protector wraps to.

use core::fmt;
use core::str::FromStr;

use hgs_ekcert::{Certificate, Curve, KeyInfo};
use hgs_keys::BoundKey;
use sha2::{Digest, Sha256};

/// Longest guardian certificate [`Guardian::from_certificate_der`] reads, in bytes (and the
/// longest PEM text [`Guardian::from_pem`] reads is 2x this, for base64 and line breaks).
///
/// HGS guardian certificates are self-signed, an RSA-2048 key and a few extensions: about 1 KiB;
/// 16 KiB leaves room for long names and extensions and bounds what a file handed to an
/// administrator can make the parser do.
pub const MAX_GUARDIAN_CERT_LEN: usize = 16 * 1024;

/// SHA-256 of a guardian certificate's DER: the name a key protector gives the guardian.
///
/// Bytes in the type; 64 lower-case hex digits in JSON, [`Display`](fmt::Display) and
/// [`FromStr`] (which accepts nothing else, so one certificate has one spelling).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GuardianFingerprint([u8; 32]);

impl GuardianFingerprint {
    /// From the 32 digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> GuardianFingerprint {
        GuardianFingerprint(bytes)
    }

    /// The fingerprint of a certificate's DER bytes.
    pub fn of_certificate(der: &[u8]) -> GuardianFingerprint {
        GuardianFingerprint(Sha256::digest(der).into())
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for GuardianFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for GuardianFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GuardianFingerprint({self})")
    }
}

/// A string that is not a [`GuardianFingerprint`] (64 lower-case hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a guardian fingerprint is 64 lower-case hex digits")]
pub struct BadGuardianFingerprint;

impl FromStr for GuardianFingerprint {
    type Err = BadGuardianFingerprint;

    fn from_str(s: &str) -> Result<GuardianFingerprint, BadGuardianFingerprint> {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(BadGuardianFingerprint);
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (digit(pair[0]), digit(pair[1])) else {
                return Err(BadGuardianFingerprint);
            };
            *o = hi << 4 | lo;
        }
        Ok(GuardianFingerprint(out))
    }
}

impl serde::Serialize for GuardianFingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GuardianFingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a certificate is not a usable guardian. Every reason is its own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardianError {
    /// The input is longer than [`MAX_GUARDIAN_CERT_LEN`] (twice that for PEM); nothing was
    /// parsed.
    #[error("the guardian certificate is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The certificate does not parse (its reason is the source).
    #[error("the guardian certificate does not parse")]
    Certificate(#[source] hgs_ekcert::Error),
    /// [`Guardian::from_certificate_der`] was given something other than exactly one DER
    /// certificate (PEM armour, a TPM NV header, trailing bytes): the fingerprint is over the
    /// exact DER, so the input must be it.
    #[error("not exactly one DER certificate ({len} bytes given, the certificate is {der_len})")]
    NotExactDer {
        /// Input length.
        len: usize,
        /// Length of the certificate found in it.
        der_len: usize,
    },
    /// The PEM text does not hold exactly one `CERTIFICATE` block.
    #[error("the PEM text holds {count} CERTIFICATE blocks, not one")]
    PemBlocks {
        /// Blocks found.
        count: usize,
    },
    /// The certificate's key is neither RSA nor P-256 (P-384, P-521, Ed25519, DSA, ...).
    #[error("the guardian's key is {found}; only RSA-2048 and P-256 keys are accepted")]
    KeyType {
        /// What it is (`ECC P-384`, an OID, ...).
        found: String,
    },
    /// An RSA or P-256 key `hgs_keys` refuses (a modulus other than 2048 bits, an even
    /// exponent, a point off the curve; its reason is the source).
    #[error("the guardian's key is refused")]
    Key(#[source] hgs_keys::JwkError),
}

/// A guardian: the public half of an encryption key pair, from its X.509 certificate.
///
/// HGS calls the key pair that may open a shielded VM's key protector a guardian
/// (`New-HgsGuardian`); its certificate is exported with `Export-HgsGuardian` and imported where
/// protectors are made. The certificate's signature, validity period and extensions are not
/// checked: a guardian is trusted because the administrator chose its certificate, not through
/// a chain, and its fingerprint (SHA-256 of the DER) is what a key protector records.
#[derive(Clone, PartialEq, Eq)]
pub struct Guardian {
    name: String,
    fingerprint: GuardianFingerprint,
    key: BoundKey,
    der: Vec<u8>,
}

impl fmt::Debug for Guardian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guardian")
            .field("name", &self.name)
            .field("fingerprint", &self.fingerprint)
            .field("key", &self.key.key_type())
            .finish_non_exhaustive()
    }
}

impl Guardian {
    /// Reads a guardian from exactly one DER certificate (no PEM armour, no trailing bytes).
    /// Its key must be RSA-2048 (rsaEncryption or id-RSAES-OAEP) or P-256.
    pub fn from_certificate_der(der: &[u8]) -> Result<Guardian, GuardianError> {
        if der.len() > MAX_GUARDIAN_CERT_LEN {
            return Err(GuardianError::TooLong {
                len: der.len(),
                max: MAX_GUARDIAN_CERT_LEN,
            });
        }
        let cert = Certificate::from_bytes(der).map_err(GuardianError::Certificate)?;
        if cert.der() != der {
            return Err(GuardianError::NotExactDer {
                len: der.len(),
                der_len: cert.der().len(),
            });
        }
        let key = match &cert.key {
            KeyInfo::Rsa {
                modulus, exponent, ..
            } => BoundKey::from_rsa_parts(modulus, exponent).map_err(GuardianError::Key)?,
            KeyInfo::Ecc {
                curve: Curve::P256,
                x,
                y,
            } => BoundKey::from_p256_xy(x, y).map_err(GuardianError::Key)?,
            other => {
                return Err(GuardianError::KeyType {
                    found: other.key_type().to_string(),
                })
            }
        };
        Ok(Guardian {
            name: cert.subject.to_string(),
            fingerprint: GuardianFingerprint::of_certificate(der),
            key,
            der: der.to_vec(),
        })
    }

    /// Reads a guardian from PEM text holding exactly one `CERTIFICATE` block (what
    /// `Export-HgsGuardian` writes, Base64-encoded).
    pub fn from_pem(pem: &str) -> Result<Guardian, GuardianError> {
        let max = 2 * MAX_GUARDIAN_CERT_LEN;
        if pem.len() > max {
            return Err(GuardianError::TooLong {
                len: pem.len(),
                max,
            });
        }
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(GuardianError::PemBlocks { count: 0 });
        }
        let mut blocks =
            hgs_ekcert::certificates_in(pem.as_bytes()).map_err(GuardianError::Certificate)?;
        match (blocks.pop(), blocks.is_empty()) {
            (Some(der), true) => Guardian::from_certificate_der(&der),
            (None, _) => Err(GuardianError::PemBlocks { count: 0 }),
            (Some(_), false) => Err(GuardianError::PemBlocks {
                count: blocks.len() + 1,
            }),
        }
    }

    /// The certificate's subject, RFC 4514 style (`CN=Owner,O=Contoso`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the certificate's DER.
    pub fn fingerprint(&self) -> &GuardianFingerprint {
        &self.fingerprint
    }

    /// The public key wrappings to this guardian are encrypted to.
    pub fn key(&self) -> &BoundKey {
        &self.key
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fingerprints_have_one_spelling() {
        let fp = GuardianFingerprint::from_bytes([0xab; 32]);
        let s = fp.to_string();
        assert_eq!(s, "ab".repeat(32));
        assert_eq!(s.parse::<GuardianFingerprint>().unwrap(), fp);
        for bad in [
            "AB".repeat(32),
            "ab".repeat(31),
            "ab".repeat(33),
            format!("0x{}", "a".repeat(62)),
            "g".repeat(64),
        ] {
            assert!(bad.parse::<GuardianFingerprint>().is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&fp).unwrap(), format!("\"{s}\""));
    }
}
