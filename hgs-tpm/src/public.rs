//! TPMT_PUBLIC / TPM2B_PUBLIC: a TPM object's public area, its key, its attributes and its name.

use std::borrow::Cow;

use crate::alg::*;
use crate::error::{Error, Result};
use crate::reader::{Reader, Writer, MAX_TPM2B};

/// Object attributes (TPMA_OBJECT), with a named accessor for each bit the verifier checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    /// fixedTPM: the object cannot be duplicated out of this TPM.
    pub const FIXED_TPM: u32 = 1 << 1;
    /// stClear.
    pub const ST_CLEAR: u32 = 1 << 2;
    /// fixedParent: the object cannot be duplicated to another parent.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// sensitiveDataOrigin: the TPM generated the private part.
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// userWithAuth.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// adminWithPolicy.
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    /// noDA.
    pub const NO_DA: u32 = 1 << 10;
    /// encryptedDuplication.
    pub const ENCRYPTED_DUPLICATION: u32 = 1 << 11;
    /// restricted: signs only TPM-generated structures (or decrypts only TPM-formatted blobs).
    pub const RESTRICTED: u32 = 1 << 16;
    /// decrypt.
    pub const DECRYPT: u32 = 1 << 17;
    /// sign / encrypt.
    pub const SIGN_ENCRYPT: u32 = 1 << 18;

    fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
    /// fixedTPM set.
    pub fn fixed_tpm(self) -> bool {
        self.has(Self::FIXED_TPM)
    }
    /// fixedParent set.
    pub fn fixed_parent(self) -> bool {
        self.has(Self::FIXED_PARENT)
    }
    /// sensitiveDataOrigin set.
    pub fn sensitive_data_origin(self) -> bool {
        self.has(Self::SENSITIVE_DATA_ORIGIN)
    }
    /// userWithAuth set.
    pub fn user_with_auth(self) -> bool {
        self.has(Self::USER_WITH_AUTH)
    }
    /// adminWithPolicy set.
    pub fn admin_with_policy(self) -> bool {
        self.has(Self::ADMIN_WITH_POLICY)
    }
    /// restricted set.
    pub fn restricted(self) -> bool {
        self.has(Self::RESTRICTED)
    }
    /// decrypt set.
    pub fn decrypt(self) -> bool {
        self.has(Self::DECRYPT)
    }
    /// sign (encrypt for symmetric objects) set.
    pub fn sign(self) -> bool {
        self.has(Self::SIGN_ENCRYPT)
    }
}

/// TPMT_SYM_DEF_OBJECT: the symmetric algorithm of a storage / EK parent (`None` = TPM_ALG_NULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SymDef {
    /// Algorithm (e.g. TPM_ALG_AES).
    pub algorithm: u16,
    /// Key size in bits.
    pub key_bits: u16,
    /// Mode (e.g. TPM_ALG_CFB).
    pub mode: u16,
}

/// A scheme field: algorithm plus its hash (0 where the scheme has none). ECDAA's count is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scheme {
    /// Scheme algorithm (TPM_ALG_NULL when none).
    pub scheme: u16,
    /// Hash algorithm of the scheme (TPM_ALG_NULL when none).
    pub hash: u16,
    /// ECDAA count, or the XOR scheme's KDF; 0 otherwise.
    pub extra: u16,
}

impl Scheme {
    const NULL: Scheme = Scheme {
        scheme: TPM_ALG_NULL,
        hash: TPM_ALG_NULL,
        extra: 0,
    };
}

/// ECC curves (TPM_ECC_CURVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EccCurve {
    /// NIST P-256 (TPM_ECC_NIST_P256 = 0x0003).
    NistP256,
    /// NIST P-384 (TPM_ECC_NIST_P384 = 0x0004).
    NistP384,
    /// NIST P-521 (0x0005).
    NistP521,
    /// BN P-256 (0x0010).
    BnP256,
    /// SM2 P-256 (0x0020).
    Sm2P256,
    /// Any other curve identifier.
    Other(u16),
}

impl EccCurve {
    /// From TPM_ECC_CURVE.
    pub fn from_id(id: u16) -> Self {
        match id {
            0x0003 => Self::NistP256,
            0x0004 => Self::NistP384,
            0x0005 => Self::NistP521,
            0x0010 => Self::BnP256,
            0x0020 => Self::Sm2P256,
            other => Self::Other(other),
        }
    }
    /// TPM_ECC_CURVE value.
    pub fn id(self) -> u16 {
        match self {
            Self::NistP256 => 0x0003,
            Self::NistP384 => 0x0004,
            Self::NistP521 => 0x0005,
            Self::BnP256 => 0x0010,
            Self::Sm2P256 => 0x0020,
            Self::Other(id) => id,
        }
    }
    /// Coordinate size in bytes where known.
    pub fn coordinate_len(self) -> Option<usize> {
        match self {
            Self::NistP256 | Self::BnP256 | Self::Sm2P256 => Some(32),
            Self::NistP384 => Some(48),
            Self::NistP521 => Some(66),
            Self::Other(_) => None,
        }
    }
}

/// Type-specific parameters (TPMU_PUBLIC_PARMS).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Parameters {
    /// TPMS_RSA_PARMS.
    Rsa {
        /// Symmetric algorithm for storage keys / EKs.
        symmetric: Option<SymDef>,
        /// Signing or encryption scheme.
        scheme: Scheme,
        /// Modulus size in bits.
        key_bits: u16,
        /// Public exponent as encoded (0 means 65537).
        exponent: u32,
    },
    /// TPMS_ECC_PARMS.
    Ecc {
        /// Symmetric algorithm for storage keys / EKs.
        symmetric: Option<SymDef>,
        /// Signing or key-exchange scheme.
        scheme: Scheme,
        /// Curve.
        curve: EccCurve,
        /// KDF scheme.
        kdf: Scheme,
    },
    /// TPMS_KEYEDHASH_PARMS.
    KeyedHash {
        /// HMAC / XOR scheme.
        scheme: Scheme,
    },
    /// TPMS_SYMCIPHER_PARMS.
    SymCipher {
        /// The cipher.
        symmetric: Option<SymDef>,
    },
}

/// The public key of an asymmetric object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PublicKey {
    /// RSA: big-endian modulus and the public exponent.
    Rsa {
        /// Modulus, big-endian, as the TPM stored it.
        modulus: Vec<u8>,
        /// Public exponent (65537 when the TPM encoded 0).
        exponent: u32,
    },
    /// ECC: curve and affine coordinates, big-endian, as the TPM stored them.
    Ecc {
        /// Curve.
        curve: EccCurve,
        /// X coordinate.
        x: Vec<u8>,
        /// Y coordinate.
        y: Vec<u8>,
    },
}

impl PublicKey {
    /// Short description, e.g. `RSA-2048`, `ECC-P256`.
    pub fn describe(&self) -> String {
        match self {
            PublicKey::Rsa { modulus, .. } => {
                let lead = modulus.iter().take_while(|b| **b == 0).count();
                format!("RSA-{}", (modulus.len() - lead) * 8)
            }
            PublicKey::Ecc { curve, .. } => match curve {
                EccCurve::NistP256 => "ECC-P256".into(),
                EccCurve::NistP384 => "ECC-P384".into(),
                EccCurve::NistP521 => "ECC-P521".into(),
                other => format!("ECC-curve-0x{:04x}", other.id()),
            },
        }
    }
}

/// A parsed TPMT_PUBLIC that borrows its variable fields from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public<'a> {
    /// The exact TPMT_PUBLIC bytes (without a TPM2B size prefix): what the name is computed over.
    pub bytes: &'a [u8],
    /// Whether the input carried a TPM2B_PUBLIC size prefix.
    pub had_size_prefix: bool,
    /// Object type (TPM_ALG_RSA, TPM_ALG_ECC, TPM_ALG_KEYEDHASH, TPM_ALG_SYMCIPHER).
    pub object_type: u16,
    /// Name algorithm (TPM_ALG_ID of a hash).
    pub name_alg: u16,
    /// Object attributes.
    pub attributes: ObjectAttributes,
    /// Authorization policy digest (empty when none).
    pub auth_policy: &'a [u8],
    /// Type-specific parameters.
    pub parameters: Parameters,
    /// The unique field: RSA modulus, ECC point (x, y), or a digest for keyed-hash / symcipher.
    pub unique: Unique<'a>,
}

/// TPMU_PUBLIC_ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unique<'a> {
    /// RSA modulus.
    Rsa(&'a [u8]),
    /// ECC point.
    Ecc {
        /// X coordinate.
        x: &'a [u8],
        /// Y coordinate.
        y: &'a [u8],
    },
    /// Keyed-hash or symcipher unique digest.
    Digest(&'a [u8]),
}

fn read_symdef(r: &mut Reader<'_>) -> Result<Option<SymDef>> {
    let algorithm = r.u16()?;
    if algorithm == TPM_ALG_NULL {
        return Ok(None);
    }
    let key_bits = r.u16()?;
    let mode = r.u16()?;
    Ok(Some(SymDef {
        algorithm,
        key_bits,
        mode,
    }))
}

fn write_symdef(w: &mut Writer, s: &Option<SymDef>) {
    match s {
        None => w.u16(TPM_ALG_NULL),
        Some(s) => {
            w.u16(s.algorithm);
            w.u16(s.key_bits);
            w.u16(s.mode);
        }
    }
}

/// Reads a signing/encryption/KDF scheme: every non-NULL scheme is followed by a hash algorithm;
/// ECDAA adds a u16 count and XOR a u16 KDF.
fn read_scheme(r: &mut Reader<'_>) -> Result<Scheme> {
    let scheme = r.u16()?;
    if scheme == TPM_ALG_NULL {
        return Ok(Scheme::NULL);
    }
    let hash = r.u16()?;
    let extra = if scheme == TPM_ALG_ECDAA || scheme == TPM_ALG_XOR {
        r.u16()?
    } else {
        0
    };
    Ok(Scheme {
        scheme,
        hash,
        extra,
    })
}

fn write_scheme(w: &mut Writer, s: &Scheme) {
    w.u16(s.scheme);
    if s.scheme == TPM_ALG_NULL {
        return;
    }
    w.u16(s.hash);
    if s.scheme == TPM_ALG_ECDAA || s.scheme == TPM_ALG_XOR {
        w.u16(s.extra);
    }
}

impl<'a> Public<'a> {
    /// Parses a TPM2B_PUBLIC or a bare TPMT_PUBLIC (as Windows' PCP exports an AK).
    ///
    /// Detection: when the first two bytes equal the length of the rest and the rest parses as a
    /// TPMT_PUBLIC that fills it exactly, the input is a TPM2B_PUBLIC; otherwise it must be a bare
    /// TPMT_PUBLIC that fills the input exactly. Both forms are strict: trailing bytes are errors.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        if input.len() >= 2 {
            let declared = usize::from(u16::from_be_bytes([input[0], input[1]]));
            if declared == input.len() - 2 {
                if let Ok(mut p) = Self::parse_tpmt(&input[2..]) {
                    p.had_size_prefix = true;
                    return Ok(p);
                }
            }
        }
        Self::parse_tpmt(input)
    }

    /// Parses exactly one bare TPMT_PUBLIC filling `input`.
    pub fn parse_tpmt(input: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(input, "TPMT_PUBLIC");
        let type_at = r.offset();
        let object_type = r.u16()?;
        let name_alg_at = r.offset();
        let name_alg = r.u16()?;
        if HashAlg::from_tpm_alg_id(name_alg).is_none() && name_alg != TPM_ALG_SM3_256 {
            return Err(Error::UnsupportedAlgorithm {
                field: Cow::Borrowed("nameAlg"),
                offset: name_alg_at,
                alg: name_alg,
            });
        }
        let attributes = ObjectAttributes(r.u32()?);
        let auth_policy = r.tpm2b("authPolicy", 64)?;
        let (parameters, unique) = match object_type {
            TPM_ALG_RSA => {
                let symmetric = read_symdef(&mut r)?;
                let scheme = read_scheme(&mut r)?;
                let key_bits = r.u16()?;
                let exponent = r.u32()?;
                let modulus = r.tpm2b("unique.rsa", 512)?;
                (
                    Parameters::Rsa {
                        symmetric,
                        scheme,
                        key_bits,
                        exponent,
                    },
                    Unique::Rsa(modulus),
                )
            }
            TPM_ALG_ECC => {
                let symmetric = read_symdef(&mut r)?;
                let scheme = read_scheme(&mut r)?;
                let curve = EccCurve::from_id(r.u16()?);
                let kdf = read_scheme(&mut r)?;
                let x = r.tpm2b("unique.ecc.x", 128)?;
                let y = r.tpm2b("unique.ecc.y", 128)?;
                (
                    Parameters::Ecc {
                        symmetric,
                        scheme,
                        curve,
                        kdf,
                    },
                    Unique::Ecc { x, y },
                )
            }
            TPM_ALG_KEYEDHASH => {
                let scheme = read_scheme(&mut r)?;
                let d = r.tpm2b("unique.keyedHash", 64)?;
                (Parameters::KeyedHash { scheme }, Unique::Digest(d))
            }
            TPM_ALG_SYMCIPHER => {
                let symmetric = read_symdef(&mut r)?;
                let d = r.tpm2b("unique.sym", 64)?;
                (Parameters::SymCipher { symmetric }, Unique::Digest(d))
            }
            other => {
                return Err(Error::UnsupportedAlgorithm {
                    field: Cow::Borrowed("type"),
                    offset: type_at,
                    alg: other,
                })
            }
        };
        r.finish()?;
        Ok(Public {
            bytes: input,
            had_size_prefix: false,
            object_type,
            name_alg,
            attributes,
            auth_policy,
            parameters,
            unique,
        })
    }

    /// The asymmetric public key, or an error for keyed-hash / symcipher objects.
    pub fn key(&self) -> Result<PublicKey> {
        match (&self.parameters, &self.unique) {
            (Parameters::Rsa { exponent, .. }, Unique::Rsa(m)) => Ok(PublicKey::Rsa {
                modulus: m.to_vec(),
                exponent: if *exponent == 0 { 65537 } else { *exponent },
            }),
            (Parameters::Ecc { curve, .. }, Unique::Ecc { x, y }) => Ok(PublicKey::Ecc {
                curve: *curve,
                x: x.to_vec(),
                y: y.to_vec(),
            }),
            _ => Err(Error::UnusableKey(Cow::Borrowed(
                "not an asymmetric (RSA or ECC) object",
            ))),
        }
    }

    /// The object's name: nameAlg (2 bytes, big-endian) followed by H_nameAlg(TPMT_PUBLIC).
    pub fn name(&self) -> Result<Vec<u8>> {
        let alg = HashAlg::from_tpm_alg_id(self.name_alg).ok_or(Error::UnsupportedAlgorithm {
            field: Cow::Borrowed("nameAlg"),
            offset: 2,
            alg: self.name_alg,
        })?;
        let mut name = self.name_alg.to_be_bytes().to_vec();
        name.extend_from_slice(&alg.hash(self.bytes));
        Ok(name)
    }

    /// Re-encodes this public area as a bare TPMT_PUBLIC (equal to [`Public::bytes`] for parsed input).
    pub fn encode_tpmt(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u16(self.object_type);
        w.u16(self.name_alg);
        w.u32(self.attributes.0);
        w.tpm2b(self.auth_policy);
        match &self.parameters {
            Parameters::Rsa {
                symmetric,
                scheme,
                key_bits,
                exponent,
            } => {
                write_symdef(&mut w, symmetric);
                write_scheme(&mut w, scheme);
                w.u16(*key_bits);
                w.u32(*exponent);
            }
            Parameters::Ecc {
                symmetric,
                scheme,
                curve,
                kdf,
            } => {
                write_symdef(&mut w, symmetric);
                write_scheme(&mut w, scheme);
                w.u16(curve.id());
                write_scheme(&mut w, kdf);
            }
            Parameters::KeyedHash { scheme } => write_scheme(&mut w, scheme),
            Parameters::SymCipher { symmetric } => write_symdef(&mut w, symmetric),
        }
        match &self.unique {
            Unique::Rsa(m) => w.tpm2b(m),
            Unique::Ecc { x, y } => {
                w.tpm2b(x);
                w.tpm2b(y);
            }
            Unique::Digest(d) => w.tpm2b(d),
        }
        w.buf
    }

    /// Encodes as TPM2B_PUBLIC (size prefix + TPMT_PUBLIC).
    pub fn encode_tpm2b(&self) -> Vec<u8> {
        let inner = self.encode_tpmt();
        let mut w = Writer::default();
        w.tpm2b(&inner);
        w.buf
    }
}

/// The largest TPM2B this crate reads, re-exported for callers sizing buffers.
pub const MAX_BUFFER: usize = MAX_TPM2B;
