//! The private half of decryption, supplied by the caller: the host's TPM, or a software key.

/// The private-key operation of a JWE recipient, performed wherever the key lives.
///
/// [`decrypt`](crate::decrypt) checks everything it can first (header, sizes, the recipient's
/// `kid`, the ephemeral key on the curve), then calls exactly one of these, the one for the
/// [`BoundKey`](crate::BoundKey) it was given, at most once per JWE. A TPM-backed implementation
/// maps them to TPM2_RSA_Decrypt and TPM2_ECDH_ZGen on the certified decryption key; an
/// implementation for one key type returns its own "wrong key type" error from the other.
///
/// Errors are kept, not stringified: they come back as the source of
/// [`JweError::Unwrap`](crate::JweError::Unwrap) and downcast to `Self::Error`.
///
/// Implementations should wipe their own copies of the outputs: they are the content key (RSA)
/// and the shared secret it derives from (ECDH).
pub trait KeyUnwrap {
    /// Why the operation failed (a TPM response code, a missing handle, ...).
    type Error: std::error::Error + Send + Sync + 'static;

    /// RSA-OAEP decryption with SHA-256 as both the hash and the MGF1 hash and an empty label
    /// (JWE `RSA-OAEP-256`; TPM2_RSA_Decrypt with scheme TPM_ALG_OAEP, hash TPM_ALG_SHA256, an
    /// empty label) of `encrypted_key`, 256 octets for the 2048-bit key. Returns the message
    /// (the content encryption key; `decrypt` refuses anything but 32 octets).
    fn rsa_oaep_decrypt(&mut self, encrypted_key: &[u8]) -> Result<Vec<u8>, Self::Error>;

    /// The P-256 ECDH shared secret Z with the sender's ephemeral public key (`epk_x`, `epk_y`,
    /// big-endian, already checked to be on the curve): the x coordinate of `d * epk`
    /// (TPM2_ECDH_ZGen returns that point; Z is its x).
    fn ecdh_z(&mut self, epk_x: &[u8; 32], epk_y: &[u8; 32]) -> Result<[u8; 32], Self::Error>;
}

impl<T: KeyUnwrap + ?Sized> KeyUnwrap for &mut T {
    type Error = T::Error;

    fn rsa_oaep_decrypt(&mut self, encrypted_key: &[u8]) -> Result<Vec<u8>, Self::Error> {
        (**self).rsa_oaep_decrypt(encrypted_key)
    }

    fn ecdh_z(&mut self, epk_x: &[u8; 32], epk_y: &[u8; 32]) -> Result<[u8; 32], Self::Error> {
        (**self).ecdh_z(epk_x, epk_y)
    }
}
