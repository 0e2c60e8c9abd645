//! A key protector (`New-HgsKeyProtector -Owner -Guardian`): a random transport key, wrapped
//! (JWE) to each guardian, the document MACed under the transport key.

use core::fmt;

use hgs_keys::{BoundKey, JweError, KeyUnwrap};
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::guardian::{Guardian, GuardianFingerprint};

/// The `format` of every key protector document.
pub const KEY_PROTECTOR_FORMAT: &str = "hgs-key-protector/1";

/// Most wrappings (owner included) a key protector holds.
///
/// HGS protects a VM to its owner and to one guardian per fabric it may run on (a datacenter, a
/// disaster-recovery site): a handful. 32 leaves room and bounds what [`KeyProtector::parse`]
/// allocates and what a holder's key is asked to try.
pub const MAX_WRAPPINGS: usize = 32;

/// Longest wrapping JWE accepted, in bytes. Ours are about 560 bytes (RSA-OAEP-256: a 342
/// character encrypted key) and 400 (ECDH-ES+A256KW, its `epk` in the header) for a 32-byte key;
/// 2 KiB leaves room for another producer's header parameters.
pub const MAX_WRAPPING_JWE_LEN: usize = 2 * 1024;

/// Longest key protector document [`KeyProtector::parse`] looks at, in bytes; longer input is
/// refused before it is decoded. It covers [`MAX_WRAPPINGS`] wrappings of
/// [`MAX_WRAPPING_JWE_LEN`] with their members (checked at compile time).
pub const MAX_KEY_PROTECTOR_LEN: usize = 96 * 1024;

/// Octets of the transport key.
pub const TRANSPORT_KEY_LEN: usize = 32;

/// Octets of a key protector's id.
pub const KEY_PROTECTOR_ID_LEN: usize = 16;

/// A wrapping's JSON members besides its JWE: `{"guardian":"<64 hex>","role":"guardian","jwe":""},`.
const WRAPPING_OVERHEAD: usize = 128;

const _: () = assert!(
    MAX_KEY_PROTECTOR_LEN >= MAX_WRAPPINGS * (MAX_WRAPPING_JWE_LEN + WRAPPING_OVERHEAD) + 1024
);

/// Domain separation of the MAC key derived from the transport key.
const MAC_KEY_LABEL: &[u8] = b"hgs-key-protector/1 document MAC key";

type HmacSha256 = Hmac<Sha256>;

/// The key a key protector protects: 256 random bits. In HGS it is the key that the VM's
/// virtual TPM state is encrypted under; the protector gives it to whoever holds a guardian's
/// private key, and a key service gives it to a guarded host that passed attestation.
///
/// Wiped on drop; its `Debug` shows nothing of it. Read it with [`TransportKey::as_bytes`].
pub struct TransportKey(Zeroizing<[u8; TRANSPORT_KEY_LEN]>);

impl TransportKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> TransportKey {
        let mut key = Zeroizing::new([0u8; TRANSPORT_KEY_LEN]);
        rng.fill_bytes(key.as_mut_slice());
        TransportKey(key)
    }

    /// A key from its bytes (e.g. the plaintext of the JWE [`KeyProtector::rewrap_to`] made, on
    /// the host).
    pub fn from_bytes(bytes: [u8; TRANSPORT_KEY_LEN]) -> TransportKey {
        TransportKey(Zeroizing::new(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; TRANSPORT_KEY_LEN] {
        &self.0
    }

    /// The document MAC key: HMAC-SHA-256 of a fixed label under the transport key, so the
    /// transport key itself keys nothing but what it protects. `None` never happens (HMAC takes
    /// keys of any length); callers fail closed on it.
    fn mac_key(&self) -> Option<Zeroizing<[u8; 32]>> {
        let mut m = <HmacSha256 as Mac>::new_from_slice(self.0.as_slice()).ok()?;
        m.update(MAC_KEY_LABEL);
        Some(Zeroizing::new(m.finalize().into_bytes().into()))
    }
}

impl fmt::Debug for TransportKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TransportKey(..)")
    }
}

/// What a wrapping's guardian may do: the owner is the one guardian that cannot be revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `owner`: the VM's owner (`-Owner`), exactly one per key protector.
    Owner,
    /// `guardian`: a fabric the VM may run on (`-Guardian`).
    Guardian,
}

impl Role {
    /// `owner` or `guardian`, as in the document.
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Guardian => "guardian",
        }
    }

    fn code(self) -> u8 {
        match self {
            Role::Owner => 1,
            Role::Guardian => 2,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The transport key wrapped to one guardian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapping {
    guardian: GuardianFingerprint,
    role: Role,
    jwe: String,
}

impl Wrapping {
    /// The guardian's certificate fingerprint.
    pub fn guardian(&self) -> &GuardianFingerprint {
        &self.guardian
    }

    /// Its role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The compact JWE of the transport key to the guardian's key.
    pub fn jwe(&self) -> &str {
        &self.jwe
    }
}

/// Why a key protector cannot be made, read, opened or changed. Every reason is its own
/// variant; none holds key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtectorError {
    /// The document is longer than [`MAX_KEY_PROTECTOR_LEN`]; nothing was decoded.
    #[error("the key protector is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The document is not a JSON object.
    #[error("a key protector is a JSON object")]
    NotObject,
    /// The document is not valid JSON for a key protector (syntax, a member of the wrong type,
    /// an unknown or duplicate member).
    #[error("the key protector is not valid JSON for a key protector: {0}")]
    Json(#[source] serde_json::Error),
    /// `format` is not [`KEY_PROTECTOR_FORMAT`].
    #[error("format {found:?} is not {KEY_PROTECTOR_FORMAT:?}")]
    Format {
        /// The format found (at most 64 characters of it).
        found: String,
    },
    /// `id` is not canonical base64url of 16 octets.
    #[error("the id is not canonical unpadded base64url of 16 octets")]
    Id,
    /// `mac` is not canonical base64url of 32 octets.
    #[error("the mac is not canonical unpadded base64url of 32 octets")]
    MacEncoding,
    /// A wrapping's `guardian` is not 64 lower-case hex digits.
    #[error("wrapping {index}: the guardian is not a fingerprint (64 lower-case hex digits)")]
    Fingerprint {
        /// The wrapping's position.
        index: usize,
    },
    /// A wrapping's `role` is neither `owner` nor `guardian`.
    #[error("wrapping {index}: role {role:?} is neither owner nor guardian")]
    UnknownRole {
        /// The wrapping's position.
        index: usize,
        /// The role found (at most 64 characters of it).
        role: String,
    },
    /// A wrapping's JWE is longer than [`MAX_WRAPPING_JWE_LEN`].
    #[error("wrapping {index}: the JWE is {len} bytes, more than the {max} accepted")]
    WrappingTooLong {
        /// The wrapping's position.
        index: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No wrapping at all.
    #[error("the key protector has no wrapping")]
    NoWrappings,
    /// More wrappings than [`MAX_WRAPPINGS`] (when read, or after a grant).
    #[error("{count} wrappings, more than the {max} accepted")]
    TooManyWrappings {
        /// Wrappings found (or that a grant would make).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Two wrappings for one guardian (when read, made or granted).
    #[error("guardian {guardian} has more than one wrapping")]
    DuplicateGuardian {
        /// The guardian.
        guardian: GuardianFingerprint,
    },
    /// No wrapping has the owner role.
    #[error("the key protector has no owner")]
    NoOwner,
    /// More than one wrapping has the owner role.
    #[error("the key protector has {count} owners, not one")]
    SeveralOwners {
        /// Owner wrappings found.
        count: usize,
    },
    /// No wrapping is for this guardian.
    #[error("no wrapping is for guardian {guardian}")]
    NoWrapping {
        /// The guardian asked about.
        guardian: GuardianFingerprint,
    },
    /// The wrapping listed under this guardian was encrypted to another key: a wrapping was
    /// moved or substituted, or the guardian's certificate does not match the key opening it.
    #[error("the wrapping for guardian {guardian} is encrypted to key {kid:?}, not to its key {expected:?}")]
    WrongRecipient {
        /// The guardian.
        guardian: GuardianFingerprint,
        /// The JWE's `kid`.
        kid: String,
        /// The guardian key's thumbprint.
        expected: String,
    },
    /// The wrapping does not decrypt (its reason is the source; `Unwrap` there carries the
    /// key's own error). For the holder's diagnostics only.
    #[error("the wrapping for guardian {guardian} does not decrypt")]
    Decrypt {
        /// The guardian.
        guardian: GuardianFingerprint,
        /// Why.
        #[source]
        source: JweError,
    },
    /// A wrapping decrypted to something other than a 32-octet key.
    #[error("the wrapping for guardian {guardian} holds {len} octets, not a 32-octet key")]
    TransportKeyLength {
        /// The guardian.
        guardian: GuardianFingerprint,
        /// The plaintext's length.
        len: usize,
    },
    /// The document's MAC does not verify under the transport key it yielded (or was given):
    /// the document was changed by someone who does not hold that key (a wrapping swapped for
    /// one of another key, a wrapping removed or added, the id or a role changed), or the key
    /// belongs to another protector.
    #[error("the key protector's MAC does not verify under its transport key")]
    Integrity,
    /// The owner's wrapping cannot be revoked.
    #[error("the owner {guardian} cannot be revoked")]
    RevokeOwner {
        /// The owner.
        guardian: GuardianFingerprint,
    },
    /// Wrapping the transport key failed (`hgs_keys::encrypt`; its reason is the source).
    #[error("wrapping the transport key failed")]
    Encrypt(#[source] JweError),
}

/// A key protector: the transport key wrapped to an owner and to guardians, MACed.
///
/// # Document
///
/// ```json
/// {
///   "format": "hgs-key-protector/1",
///   "id": "<16 random octets, base64url>",
///   "wrappings": [
///     {"guardian": "<SHA-256 of the certificate, hex>", "role": "owner", "jwe": "<compact JWE>"},
///     {"guardian": "...", "role": "guardian", "jwe": "..."}
///   ],
///   "mac": "<HMAC-SHA-256, base64url>"
/// }
/// ```
///
/// Each `jwe` is `hgs_keys::encrypt` of the 32-octet transport key to that guardian's key
/// (RSA-OAEP-256 or ECDH-ES+A256KW, A256GCM; its `kid` is the key's thumbprint). `mac` is
/// HMAC-SHA-256, keyed by HMAC-SHA-256(transport key, `"hgs-key-protector/1 document MAC
/// key"`), over an unambiguous binary encoding of the format, the id and every wrapping in order
/// (fingerprint, role, length-prefixed JWE). Unknown and duplicate members are refused.
///
/// # What is protected, and what is not
///
/// - **Confidentiality**: only a holder of a listed guardian's private key can recover the
///   transport key (and a key service, through [`rewrap_to`](KeyProtector::rewrap_to), only
///   gives it to a host whose token it accepted).
/// - **Consistency** (the MAC): [`unwrap`](KeyProtector::unwrap) checks the MAC under the key it
///   recovered, so anyone *without* the transport key cannot swap one wrapping for a JWE of
///   another key (anyone can encrypt to a guardian's public key), drop or add a wrapping, change
///   a role or the id, without [`ProtectorError::Integrity`]. Each holder who opens the
///   protector sees the document the transport key's holders made.
/// - **Not origin**: the MAC is keyed by the transport key, so every guardian holder can make a
///   valid document, and anyone can make a *whole new* protector with a key of their own (with
///   [`KeyProtector::new`]) for the same guardians. Nothing here says *who* made a protector.
///   HGS signs key protectors with the owner guardian's signing key; this document has no
///   signature (a [`Guardian`] is an encryption key only). A substituted protector yields a key
///   that opens none of the VM's existing state, so the data stays confidential, but an embedder
///   that must know a protector is the owner's needs to sign the bytes of
///   [`to_bytes`](KeyProtector::to_bytes) with an owner key beside it, or to keep it where only the owner can
///   write.
/// - **Revocation is not retroactive**: [`revoke`](KeyProtector::revoke) removes a wrapping,
///   but the revoked guardian may have kept the transport key or an older document. To lock it
///   out, make a new protector (a new transport key) and re-encrypt what the old key protected.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyProtector {
    id: [u8; KEY_PROTECTOR_ID_LEN],
    wrappings: Vec<Wrapping>,
    mac: [u8; 32],
}

impl fmt::Debug for KeyProtector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyProtector")
            .field("id", &crate::b64::encode(&self.id))
            .field(
                "wrappings",
                &self
                    .wrappings
                    .iter()
                    .map(|w| (w.role.name(), w.guardian))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(64).collect()
}

fn wrap(
    transport: &TransportKey,
    guardian: &Guardian,
    role: Role,
    rng: &mut impl CryptoRngCore,
) -> Result<Wrapping, ProtectorError> {
    let jwe = hgs_keys::encrypt(guardian.key(), transport.as_bytes(), rng)
        .map_err(ProtectorError::Encrypt)?;
    Ok(Wrapping {
        guardian: *guardian.fingerprint(),
        role,
        jwe,
    })
}

impl KeyProtector {
    /// A new transport key from `rng`, wrapped to `owner` and each of `guardians`, under a new
    /// random id. Returns the protector and the key (to encrypt the VM's state under).
    ///
    /// A guardian listed twice (or the owner listed among the guardians) is
    /// [`ProtectorError::DuplicateGuardian`]; more than [`MAX_WRAPPINGS`] in all is
    /// [`ProtectorError::TooManyWrappings`].
    pub fn new(
        owner: &Guardian,
        guardians: &[Guardian],
        rng: &mut impl CryptoRngCore,
    ) -> Result<(KeyProtector, TransportKey), ProtectorError> {
        let count = guardians.len().saturating_add(1);
        if count > MAX_WRAPPINGS {
            return Err(ProtectorError::TooManyWrappings {
                count,
                max: MAX_WRAPPINGS,
            });
        }
        let transport = TransportKey::generate(rng);
        let mut id = [0u8; KEY_PROTECTOR_ID_LEN];
        rng.fill_bytes(&mut id);
        let mut wrappings = vec![wrap(&transport, owner, Role::Owner, rng)?];
        for g in guardians {
            if wrappings.iter().any(|w| w.guardian == *g.fingerprint()) {
                return Err(ProtectorError::DuplicateGuardian {
                    guardian: *g.fingerprint(),
                });
            }
            wrappings.push(wrap(&transport, g, Role::Guardian, rng)?);
        }
        let mut kp = KeyProtector {
            id,
            wrappings,
            mac: [0; 32],
        };
        kp.mac = kp.compute_mac(&transport)?;
        Ok((kp, transport))
    }

    /// Reads a document (see the type's docs), checking its shape and budgets: at most
    /// [`MAX_KEY_PROTECTOR_LEN`] bytes, 1 to [`MAX_WRAPPINGS`] wrappings of at most
    /// [`MAX_WRAPPING_JWE_LEN`] each, one per guardian, exactly one owner. The MAC and the JWEs
    /// can only be checked with a key: [`unwrap`](KeyProtector::unwrap) does.
    pub fn parse(bytes: &[u8]) -> Result<KeyProtector, ProtectorError> {
        if bytes.len() > MAX_KEY_PROTECTOR_LEN {
            return Err(ProtectorError::TooLong {
                len: bytes.len(),
                max: MAX_KEY_PROTECTOR_LEN,
            });
        }
        if !bytes.trim_ascii_start().starts_with(b"{") {
            return Err(ProtectorError::NotObject);
        }
        let doc: DocIn = serde_json::from_slice(bytes).map_err(ProtectorError::Json)?;
        if doc.format != KEY_PROTECTOR_FORMAT {
            return Err(ProtectorError::Format {
                found: excerpt(&doc.format),
            });
        }
        let id = crate::b64::decode(&doc.id)
            .and_then(|v| <[u8; KEY_PROTECTOR_ID_LEN]>::try_from(v).ok())
            .ok_or(ProtectorError::Id)?;
        let mac = crate::b64::decode(&doc.mac)
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or(ProtectorError::MacEncoding)?;
        let WrappingsIn { read: raw, count } = doc.wrappings;
        if count > MAX_WRAPPINGS {
            return Err(ProtectorError::TooManyWrappings {
                count,
                max: MAX_WRAPPINGS,
            });
        }
        let mut wrappings: Vec<Wrapping> = Vec::with_capacity(raw.len());
        for (index, w) in raw.into_iter().enumerate() {
            let guardian: GuardianFingerprint = w
                .guardian
                .parse()
                .map_err(|_| ProtectorError::Fingerprint { index })?;
            let role = match w.role.as_str() {
                "owner" => Role::Owner,
                "guardian" => Role::Guardian,
                other => {
                    return Err(ProtectorError::UnknownRole {
                        index,
                        role: excerpt(other),
                    })
                }
            };
            if w.jwe.len() > MAX_WRAPPING_JWE_LEN {
                return Err(ProtectorError::WrappingTooLong {
                    index,
                    len: w.jwe.len(),
                    max: MAX_WRAPPING_JWE_LEN,
                });
            }
            if wrappings.iter().any(|x| x.guardian == guardian) {
                return Err(ProtectorError::DuplicateGuardian { guardian });
            }
            wrappings.push(Wrapping {
                guardian,
                role,
                jwe: w.jwe,
            });
        }
        if wrappings.is_empty() {
            return Err(ProtectorError::NoWrappings);
        }
        match wrappings.iter().filter(|w| w.role == Role::Owner).count() {
            0 => return Err(ProtectorError::NoOwner),
            1 => {}
            count => return Err(ProtectorError::SeveralOwners { count }),
        }
        Ok(KeyProtector { id, wrappings, mac })
    }

    /// The document, as [`parse`](KeyProtector::parse) reads it (compact JSON, members in the
    /// order of the type's docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let doc = DocOut {
            format: KEY_PROTECTOR_FORMAT,
            id: crate::b64::encode(&self.id),
            wrappings: self
                .wrappings
                .iter()
                .map(|w| WrappingOut {
                    guardian: w.guardian,
                    role: w.role.name(),
                    jwe: &w.jwe,
                })
                .collect(),
            mac: crate::b64::encode(&self.mac),
        };
        // Strings, fingerprints and a list of them: serializing cannot fail.
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    /// The protector's id (16 random octets, fixed at creation).
    pub fn id(&self) -> &[u8; KEY_PROTECTOR_ID_LEN] {
        &self.id
    }

    /// The wrappings, owner first as made (in document order when read).
    pub fn wrappings(&self) -> &[Wrapping] {
        &self.wrappings
    }

    /// The owner's fingerprint.
    pub fn owner(&self) -> &GuardianFingerprint {
        // `parse` and `new` guarantee one owner; the first wrapping is a fallback never taken.
        self.wrappings
            .iter()
            .find(|w| w.role == Role::Owner)
            .or_else(|| self.wrappings.first())
            .map(|w| &w.guardian)
            .unwrap_or(&ZERO_FINGERPRINT)
    }

    /// Opens the protector as `guardian`, whose private key `key` holds: finds the wrapping for
    /// the guardian's fingerprint, decrypts it (`hgs_keys::decrypt`, the private operation done
    /// by `key`, e.g. in a TPM or an HSM), and checks the document's MAC under the key
    /// recovered.
    ///
    /// [`ProtectorError::NoWrapping`] if no wrapping is for the guardian;
    /// [`ProtectorError::WrongRecipient`] if it was encrypted to another key (checked before
    /// `key` is asked anything); [`ProtectorError::Decrypt`] if it does not decrypt;
    /// [`ProtectorError::Integrity`] if the MAC does not verify.
    pub fn unwrap(
        &self,
        guardian: &Guardian,
        key: &mut impl KeyUnwrap,
    ) -> Result<TransportKey, ProtectorError> {
        let fp = *guardian.fingerprint();
        let w = self
            .wrappings
            .iter()
            .find(|w| w.guardian == fp)
            .ok_or(ProtectorError::NoWrapping { guardian: fp })?;
        let plaintext = Zeroizing::new(hgs_keys::decrypt(&w.jwe, guardian.key(), key).map_err(
            |e| match e {
                JweError::WrongRecipient { kid, expected } => ProtectorError::WrongRecipient {
                    guardian: fp,
                    kid,
                    expected,
                },
                source => ProtectorError::Decrypt {
                    guardian: fp,
                    source,
                },
            },
        )?);
        if plaintext.len() != TRANSPORT_KEY_LEN {
            return Err(ProtectorError::TransportKeyLength {
                guardian: fp,
                len: plaintext.len(),
            });
        }
        // Copied straight into the wiped buffer: no stray copy of the key on the stack.
        let mut key = Zeroizing::new([0u8; TRANSPORT_KEY_LEN]);
        key.copy_from_slice(&plaintext);
        let transport = TransportKey(key);
        self.verify_mac(&transport)?;
        Ok(transport)
    }

    /// Wraps the transport key to `new` as a guardian, `holder` (a guardian already listed,
    /// whose private key `holder_key` holds) opening the protector first; the MAC is
    /// recomputed. In HGS terms: the owner (or a guardian) authorizes another fabric.
    ///
    /// `new` already listed is [`ProtectorError::DuplicateGuardian`]; the protector is
    /// unchanged on any error.
    pub fn grant(
        &mut self,
        holder: &Guardian,
        holder_key: &mut impl KeyUnwrap,
        new: &Guardian,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), ProtectorError> {
        let transport = self.unwrap(holder, holder_key)?;
        if self
            .wrappings
            .iter()
            .any(|w| w.guardian == *new.fingerprint())
        {
            return Err(ProtectorError::DuplicateGuardian {
                guardian: *new.fingerprint(),
            });
        }
        let count = self.wrappings.len() + 1;
        if count > MAX_WRAPPINGS {
            return Err(ProtectorError::TooManyWrappings {
                count,
                max: MAX_WRAPPINGS,
            });
        }
        let mut changed = self.clone();
        changed
            .wrappings
            .push(wrap(&transport, new, Role::Guardian, rng)?);
        changed.mac = changed.compute_mac(&transport)?;
        *self = changed;
        Ok(())
    }

    /// Removes the wrapping for `guardian`, `holder` (whose private key `holder_key` holds)
    /// opening the protector first; the MAC is recomputed. The owner cannot be revoked
    /// ([`ProtectorError::RevokeOwner`]); a guardian without a wrapping is
    /// [`ProtectorError::NoWrapping`]. Not retroactive: see the type's docs.
    pub fn revoke(
        &mut self,
        holder: &Guardian,
        holder_key: &mut impl KeyUnwrap,
        guardian: &GuardianFingerprint,
    ) -> Result<(), ProtectorError> {
        let transport = self.unwrap(holder, holder_key)?;
        let index = self
            .wrappings
            .iter()
            .position(|w| w.guardian == *guardian)
            .ok_or(ProtectorError::NoWrapping {
                guardian: *guardian,
            })?;
        if self.wrappings[index].role == Role::Owner {
            return Err(ProtectorError::RevokeOwner {
                guardian: *guardian,
            });
        }
        let mut changed = self.clone();
        changed.wrappings.remove(index);
        changed.mac = changed.compute_mac(&transport)?;
        *self = changed;
        Ok(())
    }

    /// The JWE a key service returns to a guarded host: the transport key, encrypted to
    /// `host_key` (the `cnf` key of the host's accepted token, `Release::key`). `transport`
    /// must be this protector's key ([`ProtectorError::Integrity`] otherwise), so a service
    /// cannot hand out another protector's key by mistake. The host decrypts it with
    /// `hgs_keys::decrypt` in its TPM and reads the 32 octets with
    /// [`TransportKey::from_bytes`].
    pub fn rewrap_to(
        &self,
        transport: &TransportKey,
        host_key: &BoundKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<String, ProtectorError> {
        self.verify_mac(transport)?;
        hgs_keys::encrypt(host_key, transport.as_bytes(), rng).map_err(ProtectorError::Encrypt)
    }

    /// Whether `transport` is this protector's key: its MAC verifies under it.
    pub fn verify_mac(&self, transport: &TransportKey) -> Result<(), ProtectorError> {
        self.mac_state(transport)
            .ok_or(ProtectorError::Integrity)?
            .verify_slice(&self.mac)
            .map_err(|_| ProtectorError::Integrity)
    }

    fn compute_mac(&self, transport: &TransportKey) -> Result<[u8; 32], ProtectorError> {
        let m = self.mac_state(transport).ok_or(ProtectorError::Integrity)?;
        Ok(m.finalize().into_bytes().into())
    }

    /// HMAC over `len(format) || format || id || count || (fingerprint || role || len(jwe) ||
    /// jwe)*`, lengths as 4-octet big-endian.
    fn mac_state(&self, transport: &TransportKey) -> Option<HmacSha256> {
        let key = transport.mac_key()?;
        let mut m = <HmacSha256 as Mac>::new_from_slice(key.as_slice()).ok()?;
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
        m.update(&len(KEY_PROTECTOR_FORMAT.len()));
        m.update(KEY_PROTECTOR_FORMAT.as_bytes());
        m.update(&self.id);
        m.update(&len(self.wrappings.len()));
        for w in &self.wrappings {
            m.update(w.guardian.as_bytes());
            m.update(&[w.role.code()]);
            m.update(&len(w.jwe.len()));
            m.update(w.jwe.as_bytes());
        }
        Some(m)
    }
}

static ZERO_FINGERPRINT: GuardianFingerprint = GuardianFingerprint::from_bytes([0; 32]);

// ---- Wire forms.

#[derive(Serialize)]
struct DocOut<'a> {
    format: &'static str,
    id: String,
    wrappings: Vec<WrappingOut<'a>>,
    mac: String,
}

#[derive(Serialize)]
struct WrappingOut<'a> {
    guardian: GuardianFingerprint,
    role: &'static str,
    jwe: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocIn {
    format: String,
    id: String,
    wrappings: WrappingsIn,
    mac: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrappingIn {
    guardian: String,
    role: String,
    jwe: String,
}

/// The wrappings, read one at a time: past [`MAX_WRAPPINGS`] the rest are only counted (and
/// syntax-checked), not kept.
struct WrappingsIn {
    read: Vec<WrappingIn>,
    count: usize,
}

impl<'de> Deserialize<'de> for WrappingsIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = WrappingsIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of wrappings")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<WrappingsIn, A::Error> {
                let mut read = Vec::new();
                while read.len() < MAX_WRAPPINGS {
                    match seq.next_element::<WrappingIn>()? {
                        Some(w) => read.push(w),
                        None => {
                            let count = read.len();
                            return Ok(WrappingsIn { read, count });
                        }
                    }
                }
                let mut count = read.len();
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(WrappingsIn { read, count })
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_key_debug_shows_nothing() {
        let k = TransportKey::from_bytes([0x5a; 32]);
        assert_eq!(format!("{k:?}"), "TransportKey(..)");
    }

    #[test]
    fn budget_covers_the_largest_document() {
        let per = MAX_WRAPPING_JWE_LEN + WRAPPING_OVERHEAD;
        assert!(MAX_WRAPPINGS * per + 1024 <= MAX_KEY_PROTECTOR_LEN);
        // The overhead really covers a wrapping's members.
        let w = format!(
            r#"{{"guardian":"{}","role":"guardian","jwe":""}},"#,
            "a".repeat(64)
        );
        assert!(w.len() <= WRAPPING_OVERHEAD, "{}", w.len());
    }
}
