//! [`RingP256Signer`]: a P-256 signing key handed to ring (feature `ring`), for the signers that
//! sign under load (the service's token signer, simulated AKs): measured 8x faster than
//! RustCrypto's P-256 (19 µs against 153 µs per signature on the project's 2-core machine).

use std::sync::Arc;

use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// The same key as a `p256::ecdsa::SigningKey`, signing with ring. ring draws each signature's
/// nonce from the operating system (its `SystemRandom`; its API takes no other source), so
/// signatures are not deterministic: only an I/O edge (a service, a test kit) should use it.
#[derive(Clone)]
pub struct RingP256Signer(Arc<EcdsaKeyPair>);

impl core::fmt::Debug for RingP256Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RingP256Signer").finish_non_exhaustive()
    }
}

impl RingP256Signer {
    /// ring's key pair for `key`; `None` if ring refuses it (it accepts every valid P-256 key).
    pub fn new(key: &p256::ecdsa::SigningKey) -> Option<RingP256Signer> {
        let public = key.verifying_key().to_encoded_point(false);
        EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.to_bytes(),
            public.as_bytes(),
            &ring::rand::SystemRandom::new(),
        )
        .ok()
        .map(|pair| RingP256Signer(Arc::new(pair)))
    }

    /// ECDSA P-256 over SHA-256 of `message`; `None` if ring fails (out of OS randomness).
    pub fn sign(&self, message: &[u8]) -> Option<p256::ecdsa::Signature> {
        let sig = self
            .0
            .sign(&ring::rand::SystemRandom::new(), message)
            .ok()?;
        p256::ecdsa::Signature::from_slice(sig.as_ref()).ok()
    }
}
