//! The EK public key a host presents — a TPM `TPM2B_PUBLIC`, a bare `TPMT_PUBLIC` (Windows PCP
//! export) or an X.509 SubjectPublicKeyInfo — and its comparison with a certificate's key.

use hgs_tpm::{EccCurve, Public, PublicKey};

use crate::cert::{Certificate, Curve, KeyInfo, KeyType};
use crate::container;
use crate::der::{self, Reader};
use crate::error::{EkPublicError, Error, Result};

/// A presented EK public key, normalised for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkPublic {
    key: KeyInfo,
}

fn pad(v: &[u8], len: usize) -> Option<Vec<u8>> {
    let v = der::strip_zeros(v);
    if v.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - v.len()];
    out.extend_from_slice(v);
    Some(out)
}

impl EkPublic {
    /// From a TPM2B_PUBLIC or a bare TPMT_PUBLIC (RSA, or ECC on P-256 / P-384).
    pub fn from_tpm_public(bytes: &[u8]) -> Result<Self> {
        let tpm = |e| Error::EkPublic(EkPublicError::Tpm(e));
        let public = Public::parse(bytes).map_err(tpm)?;
        let key = public.key().map_err(tpm)?;
        let key = match key {
            PublicKey::Rsa { modulus, exponent } => KeyInfo::Rsa {
                modulus: der::strip_zeros(&modulus).to_vec(),
                exponent: der::strip_zeros(&exponent.to_be_bytes()).to_vec(),
                oaep: false,
            },
            PublicKey::Ecc { curve, x, y } => {
                let curve = match curve {
                    EccCurve::NistP256 => Curve::P256,
                    EccCurve::NistP384 => Curve::P384,
                    EccCurve::NistP521 => Curve::P521,
                    other => return Err(Error::EkPublic(EkPublicError::UnsupportedCurve(other))),
                };
                let n = curve.field_len();
                let too_long = || Error::EkPublic(EkPublicError::CoordinateTooLong);
                KeyInfo::Ecc {
                    curve,
                    x: pad(&x, n).ok_or_else(too_long)?,
                    y: pad(&y, n).ok_or_else(too_long)?,
                }
            }
        };
        Ok(Self { key })
    }

    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki(der_bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(der_bytes, 0);
        let spki = |e| Error::EkPublic(EkPublicError::Spki(Box::new(e)));
        let key = KeyInfo::from_spki(&mut r).map_err(spki)?;
        r.finish("SubjectPublicKeyInfo").map_err(spki)?;
        if let KeyInfo::Other { oid } = &key {
            return Err(Error::EkPublic(EkPublicError::UnsupportedKeyAlgorithm {
                oid: oid.to_string(),
            }));
        }
        Ok(Self { key })
    }

    /// Any of the accepted forms: PEM `PUBLIC KEY`, DER SPKI, TPM2B_PUBLIC, TPMT_PUBLIC.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if let Some(der) = pem_public_key(bytes) {
            return Self::from_spki(&der);
        }
        if bytes.first() == Some(&0x30) {
            if let Ok(k) = Self::from_spki(bytes) {
                return Ok(k);
            }
        }
        Self::from_tpm_public(bytes)
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key.key_type()
    }

    /// The normalised key.
    pub fn key(&self) -> &KeyInfo {
        &self.key
    }

    /// Whether both are the same public key (RSA `n`/`e` whatever the SPKI OID, or curve + point).
    pub fn same_key(&self, other: &Self) -> bool {
        same(&self.key, &other.key)
    }
}

fn same(a: &KeyInfo, b: &KeyInfo) -> bool {
    match (a, b) {
        (
            KeyInfo::Rsa {
                modulus: m1,
                exponent: e1,
                ..
            },
            KeyInfo::Rsa {
                modulus: m2,
                exponent: e2,
                ..
            },
        ) => {
            der::strip_zeros(m1) == der::strip_zeros(m2)
                && der::strip_zeros(e1) == der::strip_zeros(e2)
        }
        (
            KeyInfo::Ecc {
                curve: c1,
                x: x1,
                y: y1,
            },
            KeyInfo::Ecc {
                curve: c2,
                x: x2,
                y: y2,
            },
        ) => {
            c1 == c2
                && der::strip_zeros(x1) == der::strip_zeros(x2)
                && der::strip_zeros(y1) == der::strip_zeros(y2)
        }
        _ => false,
    }
}

fn pem_public_key(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN PUBLIC KEY-----")? + "-----BEGIN PUBLIC KEY-----".len();
    let end = start + text[start..].find("-----END PUBLIC KEY-----")?;
    let fake = format!(
        "-----BEGIN CERTIFICATE-----{}-----END CERTIFICATE-----",
        &text[start..end]
    );
    container::pem_blocks(fake.as_bytes()).ok()?.pop()
}

/// Ok when `cert`'s key is the presented EK: same RSA modulus and exponent (rsaEncryption and
/// id-RSAES-OAEP alike), or same curve and point.
pub fn check_key_match(cert: &Certificate, ek: &EkPublic) -> Result<()> {
    let same = same(&cert.key, &ek.key);
    if same {
        Ok(())
    } else {
        Err(Error::KeyMismatch {
            cert: Box::new(cert.key.clone()),
            ek: Box::new(ek.key.clone()),
        })
    }
}

#[cfg(test)]
mod typed_error_tests {
    use super::EkPublic;
    use crate::error::{EkPublicError, Error};

    #[test]
    fn an_unreadable_tpm_public_area_keeps_the_tpm_parser_error_as_source() {
        let err = EkPublic::from_tpm_public(&[0x00, 0x01]).err();
        assert!(
            matches!(err, Some(Error::EkPublic(EkPublicError::Tpm(_)))),
            "{err:?}"
        );
        let source = err.as_ref().and_then(std::error::Error::source);
        assert!(source.is_some_and(|s| s.source().is_some()));
    }
}
