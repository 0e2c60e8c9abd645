//! A guardian's key pair (`New-HgsGuardian`): a P-256 private key and the self-signed
//! certificate that is its public half ([`Guardian`], what `Export-HgsGuardian` hands out).
//!
//! The certificate is encoded here, by hand, with the few DER shapes it needs (the same
//! approach as `hgs-ekcert`'s reader, in reverse): X.509 v3, a random positive 128-bit serial,
//! issuer = subject = `CN=<name>`, ECDSA-with-SHA256 by the key itself, keyUsage
//! keyAgreement (critical). Nothing else reads or writes certificates in this crate, so no
//! certificate-building dependency is pulled in for one fixed shape.

use core::fmt;

use hgs_keys::{BoundKey, KeyUnwrap};
use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::guardian::{Guardian, GuardianError};

/// Longest subject common name [`GuardianKey::generate`] accepts, in bytes (X.520's
/// `ub-common-name`).
pub const MAX_GUARDIAN_CN_LEN: usize = 64;

/// Longest PKCS#8 private key [`GuardianKey::from_parts`] reads, in bytes (a P-256 PKCS#8
/// document is about 140 bytes; twice this for PEM in [`GuardianKey::from_pem`]).
pub const MAX_GUARDIAN_PKCS8_LEN: usize = 1024;

/// Latest validity end [`GuardianKey::generate`] encodes: 9999-12-31T23:59:59Z, the last
/// instant a GeneralizedTime can name (RFC 5280 4.1.2.5).
pub const MAX_GUARDIAN_NOT_AFTER: u64 = 253_402_300_799;

/// Why a guardian key pair cannot be made, read or used. Every reason is its own variant; no
/// variant holds key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardianKeyError {
    /// The common name is empty, longer than [`MAX_GUARDIAN_CN_LEN`], or holds a control
    /// character.
    #[error("the guardian's common name must be 1 to {max} bytes without control characters ({len} given)")]
    CommonName {
        /// Length given, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `not_after` is before `not_before`, or after [`MAX_GUARDIAN_NOT_AFTER`].
    #[error("the validity period {not_before}..{not_after} is empty or ends after 9999")]
    Validity {
        /// Start, Unix seconds.
        not_before: u64,
        /// End, Unix seconds.
        not_after: u64,
    },
    /// The private key input is longer than [`MAX_GUARDIAN_PKCS8_LEN`] (twice that for PEM).
    #[error("the private key is {len} bytes, more than the {max} accepted")]
    KeyTooLong {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The private key is not a PKCS#8 P-256 key (DER, or a PEM `PRIVATE KEY` block).
    #[error("the private key is not a PKCS#8 P-256 key")]
    PrivateKey,
    /// The certificate is not a usable guardian (its reason is the source).
    #[error("the guardian certificate is not usable")]
    Certificate(#[source] GuardianError),
    /// The certificate's key is not the private key's public half.
    #[error("the certificate's key is not this private key's (fingerprint {fingerprint})")]
    KeyMismatch {
        /// The certificate's fingerprint.
        fingerprint: crate::GuardianFingerprint,
    },
    /// The certificate could not be signed.
    #[error("signing the guardian certificate failed")]
    Sign,
    /// An unwrap asked for RSA-OAEP: a guardian key is P-256 (ECDH) only.
    #[error("a P-256 guardian key cannot do RSA-OAEP")]
    WrongKeyType,
    /// The ephemeral public key of an ECDH unwrap is not on P-256.
    #[error("the ephemeral public key is not on P-256")]
    Point,
}

/// A guardian's key pair: a P-256 private key and its self-signed certificate.
///
/// The private key is wiped on drop; [`Debug`](fmt::Debug) shows the certificate's subject
/// and fingerprint only. It unwraps key-protector wrappings addressed to its guardian
/// ([`KeyUnwrap`], ECDH only), so [`KeyProtector::unwrap`](crate::KeyProtector::unwrap),
/// [`grant`](crate::KeyProtector::grant) and [`revoke`](crate::KeyProtector::revoke) take it
/// directly.
#[derive(Clone)]
pub struct GuardianKey {
    secret: p256::SecretKey,
    guardian: Guardian,
}

impl fmt::Debug for GuardianKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardianKey")
            .field("name", &self.guardian.name())
            .field("fingerprint", self.guardian.fingerprint())
            .finish_non_exhaustive()
    }
}

impl GuardianKey {
    /// A fresh P-256 key from `rng` and its self-signed certificate, subject and issuer
    /// `CN=<subject_cn>`, valid from `not_before` to `not_after` (Unix seconds; UTCTime
    /// before 2050, GeneralizedTime from then on).
    pub fn generate(
        subject_cn: &str,
        not_before: u64,
        not_after: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<GuardianKey, GuardianKeyError> {
        if subject_cn.is_empty()
            || subject_cn.len() > MAX_GUARDIAN_CN_LEN
            || subject_cn.chars().any(char::is_control)
        {
            return Err(GuardianKeyError::CommonName {
                len: subject_cn.len(),
                max: MAX_GUARDIAN_CN_LEN,
            });
        }
        if not_after < not_before || not_after > MAX_GUARDIAN_NOT_AFTER {
            return Err(GuardianKeyError::Validity {
                not_before,
                not_after,
            });
        }
        let secret = p256::SecretKey::random(rng);
        let mut serial = [0u8; 16];
        rng.fill_bytes(&mut serial);
        // Positive and of full length: no leading zero octet to strip, no sign bit.
        serial[0] = (serial[0] & 0x7f) | 0x40;
        let der = self_signed_certificate(&secret, subject_cn, &serial, not_before, not_after)?;
        let guardian =
            Guardian::from_certificate_der(&der).map_err(GuardianKeyError::Certificate)?;
        Ok(GuardianKey { secret, guardian })
    }

    /// A key pair from its parts: a PKCS#8 (DER) P-256 private key and its certificate (DER),
    /// whose key must be the private key's public half.
    pub fn from_parts(
        pkcs8_der: &[u8],
        certificate_der: &[u8],
    ) -> Result<GuardianKey, GuardianKeyError> {
        if pkcs8_der.len() > MAX_GUARDIAN_PKCS8_LEN {
            return Err(GuardianKeyError::KeyTooLong {
                len: pkcs8_der.len(),
                max: MAX_GUARDIAN_PKCS8_LEN,
            });
        }
        let secret =
            p256::SecretKey::from_pkcs8_der(pkcs8_der).map_err(|_| GuardianKeyError::PrivateKey)?;
        let guardian = Guardian::from_certificate_der(certificate_der)
            .map_err(GuardianKeyError::Certificate)?;
        GuardianKey::matched(secret, guardian)
    }

    /// A key pair from PEM text: a `PRIVATE KEY` (PKCS#8) block and a `CERTIFICATE` block,
    /// as [`private_pem`](GuardianKey::private_pem) and
    /// [`certificate_pem`](GuardianKey::certificate_pem) write them.
    pub fn from_pem(
        private_pem: &str,
        certificate_pem: &str,
    ) -> Result<GuardianKey, GuardianKeyError> {
        let max = 2 * MAX_GUARDIAN_PKCS8_LEN;
        if private_pem.len() > max {
            return Err(GuardianKeyError::KeyTooLong {
                len: private_pem.len(),
                max,
            });
        }
        let secret = p256::SecretKey::from_pkcs8_pem(private_pem.trim())
            .map_err(|_| GuardianKeyError::PrivateKey)?;
        let guardian =
            Guardian::from_pem(certificate_pem).map_err(GuardianKeyError::Certificate)?;
        GuardianKey::matched(secret, guardian)
    }

    fn matched(
        secret: p256::SecretKey,
        guardian: Guardian,
    ) -> Result<GuardianKey, GuardianKeyError> {
        let point = secret.public_key().to_encoded_point(false);
        let public = BoundKey::from_p256_sec1(point.as_bytes()).map_err(|_| {
            GuardianKeyError::KeyMismatch {
                fingerprint: *guardian.fingerprint(),
            }
        })?;
        if &public != guardian.key() {
            return Err(GuardianKeyError::KeyMismatch {
                fingerprint: *guardian.fingerprint(),
            });
        }
        Ok(GuardianKey { secret, guardian })
    }

    /// The public half: the guardian certificate.
    pub fn guardian(&self) -> &Guardian {
        &self.guardian
    }

    /// The private key, PKCS#8 DER (wiped on drop).
    pub fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        match self.secret.to_pkcs8_der() {
            Ok(doc) => Zeroizing::new(doc.as_bytes().to_vec()),
            // Encoding a valid P-256 key into a fresh buffer does not fail; an empty
            // result would fail `from_parts`, never pass for a key.
            Err(_) => Zeroizing::new(Vec::new()),
        }
    }

    /// The certificate as PEM text (one `CERTIFICATE` block, LF line ends).
    pub fn certificate_pem(&self) -> String {
        pem_block("CERTIFICATE", self.guardian.certificate_der())
    }

    /// The private key as PEM text (one PKCS#8 `PRIVATE KEY` block, LF line ends; wiped on
    /// drop).
    pub fn private_pem(&self) -> Zeroizing<String> {
        match self.secret.to_pkcs8_pem(LineEnding::LF) {
            Ok(pem) => pem,
            Err(_) => Zeroizing::new(String::new()),
        }
    }
}

/// The private operation needs no mutable state, so a shared reference unwraps too: this is
/// what lets `protector.unwrap(key.guardian(), &mut &key)` borrow the guardian and the key at
/// once (see [`GuardianKey::open`] for the shorthand).
impl KeyUnwrap for &GuardianKey {
    type Error = GuardianKeyError;

    fn rsa_oaep_decrypt(&mut self, _encrypted_key: &[u8]) -> Result<Vec<u8>, GuardianKeyError> {
        Err(GuardianKeyError::WrongKeyType)
    }

    fn ecdh_z(&mut self, x: &[u8; 32], y: &[u8; 32]) -> Result<[u8; 32], GuardianKeyError> {
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(x);
        sec1[33..].copy_from_slice(y);
        // Refuses a point off the curve (and the identity).
        let epk = p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| GuardianKeyError::Point)?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), epk.as_affine());
        Ok((*shared.raw_secret_bytes()).into())
    }
}

impl KeyUnwrap for GuardianKey {
    type Error = GuardianKeyError;

    fn rsa_oaep_decrypt(&mut self, encrypted_key: &[u8]) -> Result<Vec<u8>, GuardianKeyError> {
        (&*self).rsa_oaep_decrypt(encrypted_key)
    }

    fn ecdh_z(&mut self, x: &[u8; 32], y: &[u8; 32]) -> Result<[u8; 32], GuardianKeyError> {
        (&*self).ecdh_z(x, y)
    }
}

impl GuardianKey {
    /// Opens `protector` as this guardian: [`KeyProtector::unwrap`](crate::KeyProtector::unwrap)
    /// with this key's own [`Guardian`].
    pub fn open(
        &self,
        protector: &crate::KeyProtector,
    ) -> Result<crate::TransportKey, crate::ProtectorError> {
        protector.unwrap(&self.guardian, &mut &*self)
    }
}

// --- the certificate --------------------------------------------------------------------

fn self_signed_certificate(
    secret: &p256::SecretKey,
    cn: &str,
    serial: &[u8; 16],
    not_before: u64,
    not_after: u64,
) -> Result<Vec<u8>, GuardianKeyError> {
    // ecdsa-with-SHA256 (1.2.840.10045.4.3.2), parameters absent (RFC 5758 3.2).
    let alg = tlv(
        0x30,
        &oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let name = tlv(
        0x30,
        &tlv(
            0x31,
            &tlv(
                0x30,
                &[oid(&[0x55, 0x04, 0x03]), tlv(0x0c, cn.as_bytes())].concat(),
            ),
        ),
    );
    let point = secret.public_key().to_encoded_point(false);
    let mut bits = vec![0u8];
    bits.extend_from_slice(point.as_bytes());
    let spki = tlv(
        0x30,
        &[
            tlv(
                0x30,
                &[
                    // id-ecPublicKey, prime256v1
                    oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                    oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
                ]
                .concat(),
            ),
            tlv(0x03, &bits),
        ]
        .concat(),
    );
    // keyUsage (2.5.29.15), critical, keyAgreement (bit 4: one octet 0x08, 3 unused bits).
    let key_usage = tlv(
        0x30,
        &[
            oid(&[0x55, 0x1d, 0x0f]),
            tlv(0x01, &[0xff]),
            tlv(0x04, &tlv(0x03, &[0x03, 0x08])),
        ]
        .concat(),
    );
    let tbs = tlv(
        0x30,
        &[
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, serial),
            alg.clone(),
            name.clone(),
            tlv(0x30, &[time(not_before), time(not_after)].concat()),
            name,
            spki,
            tlv(0xa3, &tlv(0x30, &key_usage)),
        ]
        .concat(),
    );
    let signer = p256::ecdsa::SigningKey::from(secret);
    let sig: p256::ecdsa::Signature = signer.try_sign(&tbs).map_err(|_| GuardianKeyError::Sign)?;
    let mut sig_bits = vec![0u8];
    sig_bits.extend_from_slice(sig.to_der().as_bytes());
    Ok(tlv(0x30, &[tbs, alg, tlv(0x03, &sig_bits)].concat()))
}

/// One DER TLV. Every body here is under 64 KiB (a name of at most 64 bytes, one P-256 key,
/// one signature), so two length octets suffice.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut out = Vec::with_capacity(n + 4);
    out.push(tag);
    match (u8::try_from(n), u16::try_from(n)) {
        (Ok(b), _) if b < 0x80 => out.push(b),
        (Ok(b), _) => out.extend_from_slice(&[0x81, b]),
        (_, Ok(w)) => {
            out.push(0x82);
            out.extend_from_slice(&w.to_be_bytes());
        }
        // Unreachable for the bounded bodies above; an empty TLV would fail to parse back.
        _ => out.push(0),
    }
    out.extend_from_slice(body);
    out
}

fn oid(encoded: &[u8]) -> Vec<u8> {
    tlv(0x06, encoded)
}

/// UTCTime (`YYMMDDHHMMSSZ`) for 1950..2049, GeneralizedTime (`YYYYMMDDHHMMSSZ`) from 2050
/// (RFC 5280 4.1.2.5). `t` is at most [`MAX_GUARDIAN_NOT_AFTER`].
fn time(t: u64) -> Vec<u8> {
    let days = t / 86_400;
    let secs = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if y < 2050 {
        let s = format!("{:02}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z", y % 100);
        tlv(0x17, s.as_bytes())
    } else {
        let s = format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z");
        tlv(0x18, s.as_bytes())
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        out.push_str(core::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2000-02-29 (leap day in a century leap year).
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(time(0), tlv(0x17, b"700101000000Z"));
        assert_eq!(time(2_524_608_000), tlv(0x18, b"20500101000000Z"));
        assert_eq!(time(MAX_GUARDIAN_NOT_AFTER), tlv(0x18, b"99991231235959Z"));
    }
}
