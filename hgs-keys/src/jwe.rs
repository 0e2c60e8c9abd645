//! Compact JWE (RFC 7516) to a [`BoundKey`]: RSA-OAEP-256 or ECDH-ES+A256KW key management,
//! A256GCM content encryption.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit};
use rand_core::CryptoRngCore;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::b64;
use crate::error::{JweError, JwkError, Segment};
use crate::jwk::{BoundKey, JwkIn, P256Public, RSA_MODULUS_LEN};
use crate::kdf::concat_kdf_sha256;
use crate::unwrap::KeyUnwrap;

/// `alg` for RSA keys: RSA-OAEP with SHA-256 and MGF1-SHA-256 (RFC 7518 §4.3).
pub const ALG_RSA_OAEP_256: &str = "RSA-OAEP-256";

/// `alg` for P-256 keys: ECDH-ES with an ephemeral key, Concat KDF, AES-256 key wrap (RFC 7518
/// §4.6).
pub const ALG_ECDH_ES_A256KW: &str = "ECDH-ES+A256KW";

/// The only `enc`: AES-256-GCM (RFC 7518 §5.3).
pub const ENC_A256GCM: &str = "A256GCM";

/// Largest plaintext [`encrypt`] accepts and ciphertext [`decrypt`] looks at, in bytes.
///
/// What the service releases to a host is keys and small configuration (a VM's disk key, a key
/// protector: well under 4 KiB); 64 KiB leaves room and bounds what one JWE makes either side
/// allocate.
pub const MAX_PLAINTEXT: usize = 64 * 1024;

/// Largest protected header [`decrypt`] decodes, in bytes. Ours are under 300 bytes (the P-256
/// one with its `epk`); 4 KiB leaves room for another producer's extra parameters.
pub const MAX_HEADER_LEN: usize = 4 * 1024;

/// Longest compact JWE [`decrypt`] looks at, in bytes; longer input is refused before any
/// decoding. It covers a [`MAX_HEADER_LEN`] header, a 256-octet encrypted key and a
/// [`MAX_PLAINTEXT`] ciphertext (checked at compile time).
pub const MAX_JWE_LEN: usize = 96 * 1024;

const CEK_LEN: usize = 32;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// An A256KW-wrapped 256-bit key: the key plus one 64-bit integrity block.
const WRAPPED_CEK_LEN: usize = CEK_LEN + 8;

const _: () = assert!(
    MAX_JWE_LEN
        >= b64::encoded_len(MAX_HEADER_LEN)
            + b64::encoded_len(RSA_MODULUS_LEN)
            + b64::encoded_len(IV_LEN)
            + b64::encoded_len(MAX_PLAINTEXT)
            + b64::encoded_len(TAG_LEN)
            + 4
);

/// The two key management algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    RsaOaep256,
    EcdhEsA256Kw,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::RsaOaep256 => ALG_RSA_OAEP_256,
            Alg::EcdhEsA256Kw => ALG_ECDH_ES_A256KW,
        }
    }
}

/// Encrypts `plaintext` to `to` as a compact JWE.
///
/// The protected header is `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"<thumbprint>"}` for an
/// RSA key and `{"alg":"ECDH-ES+A256KW","enc":"A256GCM","kid":"<thumbprint>","epk":{...}}` for a
/// P-256 key, `kid` being the key's RFC 7638 thumbprint ([`BoundKey::thumbprint`]). The content
/// key, the IV and (P-256) the ephemeral key come from `rng`; the AAD is the ASCII of the encoded
/// header. Plaintexts longer than [`MAX_PLAINTEXT`] are refused.
pub fn encrypt(
    to: &BoundKey,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<String, JweError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(JweError::PlaintextTooLong {
            len: plaintext.len(),
            max: MAX_PLAINTEXT,
        });
    }
    let mut cek = Zeroizing::new([0u8; CEK_LEN]);
    rng.fill_bytes(cek.as_mut_slice());
    let mut iv = [0u8; IV_LEN];
    rng.fill_bytes(&mut iv);
    let kid = to.thumbprint();

    let (header, encrypted_key) = match to {
        BoundKey::Rsa(k) => {
            let encrypted_key = k
                .to_rsa()
                .encrypt(rng, rsa::Oaep::new::<sha2::Sha256>(), cek.as_slice())
                .map_err(|_| JweError::EncryptFailed { step: "RSA-OAEP" })?;
            let header =
                format!(r#"{{"alg":"{ALG_RSA_OAEP_256}","enc":"{ENC_A256GCM}","kid":"{kid}"}}"#);
            (header, encrypted_key)
        }
        BoundKey::P256(k) => {
            let ephemeral = p256::ecdh::EphemeralSecret::random(rng);
            let epk = P256Public::from_point(ephemeral.public_key())
                .map_err(|_| JweError::EncryptFailed { step: "ECDH-ES" })?;
            let shared = ephemeral.diffie_hellman(k.point());
            let kek = concat_kdf_sha256(
                shared.raw_secret_bytes(),
                ALG_ECDH_ES_A256KW.as_bytes(),
                b"",
                b"",
                256,
            );
            let mut wrapped = vec![0u8; WRAPPED_CEK_LEN];
            aes_kw::KekAes256::from(*kek)
                .wrap(cek.as_slice(), &mut wrapped)
                .map_err(|_| JweError::EncryptFailed { step: "AES-KW" })?;
            let header = format!(
                r#"{{"alg":"{ALG_ECDH_ES_A256KW}","enc":"{ENC_A256GCM}","kid":"{kid}","epk":{{{}}}}}"#,
                epk.jwk_members()
            );
            (header, wrapped)
        }
    };

    let header = b64::encode(header.as_bytes());
    let mut ciphertext = plaintext.to_vec();
    let tag = Aes256Gcm::new(&(*cek).into())
        .encrypt_in_place_detached(&iv.into(), header.as_bytes(), &mut ciphertext)
        .map_err(|_| JweError::EncryptFailed { step: "AES-GCM" })?;
    Ok(format!(
        "{header}.{}.{}.{}.{}",
        b64::encode(&encrypted_key),
        b64::encode(&iv),
        b64::encode(&ciphertext),
        b64::encode(&tag)
    ))
}

/// Decrypts a compact JWE addressed to `key`, whose private operation `unwrap` performs (in the
/// TPM on a host; `SoftRsaKey`/`SoftP256Key` of feature `soft` in tests).
///
/// Refused, each with its own [`JweError`], before `unwrap` is asked anything: input longer than
/// [`MAX_JWE_LEN`] or a header longer than [`MAX_HEADER_LEN`]; not five segments of canonical
/// unpadded base64url; a header that is not a JSON object or repeats a parameter; `alg` other than
/// RSA-OAEP-256 / ECDH-ES+A256KW or for the other key type; `enc` other than A256GCM; any `zip`
/// or `crit`; a `kid` that is not `key`'s thumbprint ([`JweError::WrongRecipient`]; a JWE without
/// `kid` is accepted); a missing or invalid `epk` (not P-256, not on the curve, private members);
/// wrong sizes of the encrypted key, IV or tag; a ciphertext longer than [`MAX_PLAINTEXT`].
/// Unknown header parameters are ignored (RFC 7516 §4); `apu`/`apv`, when present, enter the
/// Concat KDF as RFC 7518 §4.6.2 says.
///
/// Then `unwrap` recovers the content key (RSA) or the shared secret (P-256), and the AES-GCM
/// tag is checked over the header, IV and ciphertext: a mismatch is
/// [`JweError::Authentication`], and no plaintext is returned.
///
/// Which error a JWE got is for the recipient's diagnostics only: a service that reported it to
/// whoever sent the JWE would hand them a padding oracle (RFC 7516 §11.5).
pub fn decrypt(
    compact: &str,
    key: &BoundKey,
    unwrap: &mut impl KeyUnwrap,
) -> Result<Vec<u8>, JweError> {
    let jwe = Parsed::parse(compact, key)?;

    let cek: Zeroizing<[u8; CEK_LEN]> = match &jwe.agreement {
        Agreement::Rsa => {
            let cek = Zeroizing::new(
                unwrap
                    .rsa_oaep_decrypt(&jwe.encrypted_key)
                    .map_err(|e| JweError::Unwrap(Box::new(e)))?,
            );
            let cek = <[u8; CEK_LEN]>::try_from(cek.as_slice())
                .map_err(|_| JweError::CekLength { len: cek.len() })?;
            Zeroizing::new(cek)
        }
        Agreement::Ecdh { epk, apu, apv } => {
            let z = Zeroizing::new(
                unwrap
                    .ecdh_z(epk.x(), epk.y())
                    .map_err(|e| JweError::Unwrap(Box::new(e)))?,
            );
            let kek = concat_kdf_sha256(z.as_slice(), ALG_ECDH_ES_A256KW.as_bytes(), apu, apv, 256);
            let mut cek = Zeroizing::new([0u8; CEK_LEN]);
            aes_kw::KekAes256::from(*kek)
                .unwrap(&jwe.encrypted_key, cek.as_mut_slice())
                .map_err(|_| JweError::KeyUnwrapIntegrity)?;
            cek
        }
    };

    let mut plaintext = jwe.ciphertext;
    Aes256Gcm::new(&(*cek).into())
        .decrypt_in_place_detached(
            &jwe.iv.into(),
            jwe.header.as_bytes(),
            &mut plaintext,
            &jwe.tag.into(),
        )
        .map_err(|_| JweError::Authentication)?;
    Ok(plaintext)
}

// ---- Parsing.

/// The protected header as read: unknown parameters ignored, duplicates of these refused
/// (serde's derive), `zip` and `crit` noted when present with any value.
#[derive(Deserialize)]
struct HeaderIn {
    alg: Option<String>,
    enc: Option<String>,
    kid: Option<String>,
    epk: Option<JwkIn>,
    apu: Option<String>,
    apv: Option<String>,
    #[serde(default, deserialize_with = "present")]
    zip: bool,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// How the content key is recovered.
enum Agreement {
    Rsa,
    Ecdh {
        epk: P256Public,
        apu: Vec<u8>,
        apv: Vec<u8>,
    },
}

/// A JWE that passed every check that needs no private key.
struct Parsed<'a> {
    /// The encoded header, the AAD.
    header: &'a str,
    agreement: Agreement,
    encrypted_key: Vec<u8>,
    iv: [u8; IV_LEN],
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
}

fn segment(s: &str, segment: Segment) -> Result<Vec<u8>, JweError> {
    b64::decode(s).ok_or(JweError::Base64 { segment })
}

fn party_info(value: Option<&str>, name: &'static str) -> Result<Vec<u8>, JweError> {
    match value {
        None => Ok(Vec::new()),
        Some(s) => b64::decode(s).ok_or(JweError::PartyInfo { name }),
    }
}

impl<'a> Parsed<'a> {
    fn parse(compact: &'a str, key: &BoundKey) -> Result<Parsed<'a>, JweError> {
        if compact.len() > MAX_JWE_LEN {
            return Err(JweError::TooLong {
                len: compact.len(),
                max: MAX_JWE_LEN,
            });
        }
        let mut parts = compact.splitn(6, '.');
        let mut next = || parts.next();
        let (Some(header), Some(ek), Some(iv), Some(ct), Some(tag), None) =
            (next(), next(), next(), next(), next(), next())
        else {
            return Err(JweError::Segments {
                found: compact.splitn(7, '.').count().min(6),
            });
        };

        if header.len() > b64::encoded_len(MAX_HEADER_LEN) {
            return Err(JweError::HeaderTooLong {
                len: header.len() / 4 * 3,
                max: MAX_HEADER_LEN,
            });
        }
        let header_json = segment(header, Segment::Header)?;
        if !header_json.trim_ascii_start().starts_with(b"{") {
            return Err(JweError::HeaderNotObject);
        }
        let h: HeaderIn = serde_json::from_slice(&header_json).map_err(JweError::Header)?;

        let alg = match h.alg.as_deref() {
            None => return Err(JweError::MissingHeader { name: "alg" }),
            Some(ALG_RSA_OAEP_256) => Alg::RsaOaep256,
            Some(ALG_ECDH_ES_A256KW) => Alg::EcdhEsA256Kw,
            Some(other) => return Err(JweError::Algorithm { alg: other.into() }),
        };
        match h.enc.as_deref() {
            None => return Err(JweError::MissingHeader { name: "enc" }),
            Some(ENC_A256GCM) => {}
            Some(other) => return Err(JweError::Encryption { enc: other.into() }),
        }
        if h.zip {
            return Err(JweError::Compressed);
        }
        if h.crit {
            return Err(JweError::Critical);
        }
        if let Some(kid) = h.kid {
            let expected = key.thumbprint();
            if kid != expected {
                return Err(JweError::WrongRecipient { kid, expected });
            }
        }

        let (agreement, expected_key_len) = match (alg, key) {
            (Alg::RsaOaep256, BoundKey::Rsa(_)) => (Agreement::Rsa, RSA_MODULUS_LEN),
            (Alg::EcdhEsA256Kw, BoundKey::P256(_)) => {
                let epk = h.epk.ok_or(JweError::MissingHeader { name: "epk" })?;
                let epk = match epk.into_key().map_err(JweError::EphemeralKey)? {
                    BoundKey::P256(p) => p,
                    BoundKey::Rsa(_) => {
                        return Err(JweError::EphemeralKey(JwkError::KeyType {
                            kty: "RSA".into(),
                        }))
                    }
                };
                let apu = party_info(h.apu.as_deref(), "apu")?;
                let apv = party_info(h.apv.as_deref(), "apv")?;
                (Agreement::Ecdh { epk, apu, apv }, WRAPPED_CEK_LEN)
            }
            (alg, key) => {
                return Err(JweError::KeyMismatch {
                    alg: alg.name(),
                    key: key.key_type(),
                })
            }
        };

        let encrypted_key = segment(ek, Segment::EncryptedKey)?;
        if encrypted_key.len() != expected_key_len {
            return Err(JweError::EncryptedKeyLength {
                len: encrypted_key.len(),
                expected: expected_key_len,
            });
        }
        let iv = segment(iv, Segment::Iv)?;
        let iv = <[u8; IV_LEN]>::try_from(iv.as_slice())
            .map_err(|_| JweError::IvLength { len: iv.len() })?;
        let ciphertext = segment(ct, Segment::Ciphertext)?;
        if ciphertext.len() > MAX_PLAINTEXT {
            return Err(JweError::CiphertextTooLong {
                len: ciphertext.len(),
                max: MAX_PLAINTEXT,
            });
        }
        let tag = segment(tag, Segment::Tag)?;
        let tag = <[u8; TAG_LEN]>::try_from(tag.as_slice())
            .map_err(|_| JweError::TagLength { len: tag.len() })?;

        Ok(Parsed {
            header,
            agreement,
            encrypted_key,
            iv,
            ciphertext,
            tag,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 3394 §4.6: wrap 256 bits of key data with a 256-bit KEK.
    #[test]
    fn rfc3394_4_6_aes256_key_wrap() {
        let kek: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        let key_data = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD,
            0xEE, 0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
            0x0C, 0x0D, 0x0E, 0x0F,
        ];
        let expected = [
            0x28, 0xC9, 0xF4, 0x04, 0xC4, 0xB8, 0x10, 0xF4, 0xCB, 0xCC, 0xB3, 0x5C, 0xFB, 0x87,
            0xF8, 0x26, 0x3F, 0x57, 0x86, 0xE2, 0xD8, 0x0E, 0xD3, 0x26, 0xCB, 0xC7, 0xF0, 0xE7,
            0x1A, 0x99, 0xF4, 0x3B, 0xFB, 0x98, 0x8B, 0x9B, 0x7A, 0x02, 0xDD, 0x21,
        ];
        let kw = aes_kw::KekAes256::from(kek);
        let mut wrapped = [0u8; WRAPPED_CEK_LEN];
        kw.wrap(&key_data, &mut wrapped).unwrap();
        assert_eq!(wrapped, expected);
        let mut unwrapped = [0u8; CEK_LEN];
        kw.unwrap(&expected, &mut unwrapped).unwrap();
        assert_eq!(unwrapped, key_data);
        let mut tampered = expected;
        tampered[39] ^= 1;
        assert!(kw.unwrap(&tampered, &mut unwrapped).is_err());
    }

    /// RFC 7516 Appendix A.1: A256GCM content encryption with the given CEK, IV and AAD (the
    /// encoded header `{"alg":"RSA-OAEP","enc":"A256GCM"}`) gives the ciphertext and tag there.
    #[test]
    fn rfc7516_a1_content_encryption() {
        let cek: [u8; 32] = [
            177, 161, 244, 128, 84, 143, 225, 115, 63, 180, 3, 255, 107, 154, 212, 246, 138, 7,
            110, 91, 112, 46, 34, 105, 47, 130, 203, 46, 122, 234, 64, 252,
        ];
        let iv: [u8; 12] = [227, 197, 117, 252, 2, 219, 233, 68, 180, 225, 77, 219];
        let header = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ";
        assert_eq!(
            b64::decode(header).unwrap(),
            br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#
        );
        let mut buf = b"The true sign of intelligence is not knowledge but imagination.".to_vec();
        let tag = Aes256Gcm::new(&cek.into())
            .encrypt_in_place_detached(&iv.into(), header.as_bytes(), &mut buf)
            .unwrap();
        assert_eq!(b64::encode(&iv), "48V1_ALb6US04U3b");
        assert_eq!(
            b64::encode(&buf),
            "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A"
        );
        assert_eq!(b64::encode(&tag), "XFBoMYUZodetZdvTiFvSkQ");
    }

    #[test]
    fn budget_covers_the_largest_jwe_we_make() {
        let largest = b64::encoded_len(MAX_HEADER_LEN)
            + b64::encoded_len(RSA_MODULUS_LEN)
            + b64::encoded_len(IV_LEN)
            + b64::encoded_len(MAX_PLAINTEXT)
            + b64::encoded_len(TAG_LEN)
            + 4;
        assert!(largest <= MAX_JWE_LEN, "{largest}");
    }
}
