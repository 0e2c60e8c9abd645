//! The Concat KDF of ECDH-ES (RFC 7518 §4.6.2, NIST SP 800-56A §5.8.1) with SHA-256.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// `datalen || data`, the length as a 32-bit big-endian integer.
fn length_prefixed(hash: &mut Sha256, data: &[u8]) {
    // Callers pass the algorithm name and `apu`/`apv` from a header bounded by MAX_HEADER_LEN,
    // far below 2^32.
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    hash.update(len.to_be_bytes());
    hash.update(data);
}

/// The first 256 bits of Concat KDF output for shared secret `z`: the key for `keydatalen_bits`
/// up to 256 is its first `keydatalen_bits / 8` octets (one SHA-256 round, counter 1).
///
/// OtherInfo is AlgorithmID || PartyUInfo || PartyVInfo (each length-prefixed) ||
/// SuppPubInfo (`keydatalen_bits`, 32-bit big-endian); SuppPrivInfo is empty.
pub(crate) fn concat_kdf_sha256(
    z: &[u8],
    algorithm_id: &[u8],
    apu: &[u8],
    apv: &[u8],
    keydatalen_bits: u32,
) -> Zeroizing<[u8; 32]> {
    let mut hash = Sha256::new();
    hash.update(1u32.to_be_bytes());
    hash.update(z);
    length_prefixed(&mut hash, algorithm_id);
    length_prefixed(&mut hash, apu);
    length_prefixed(&mut hash, apv);
    hash.update(keydatalen_bits.to_be_bytes());
    Zeroizing::new(hash.finalize().into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::b64;
    use p256::elliptic_curve::sec1::FromEncodedPoint;

    fn d(s: &str) -> Vec<u8> {
        b64::decode(s).unwrap()
    }

    /// RFC 7518 Appendix C: ECDH-ES key agreement of Alice's ephemeral key with Bob's key for
    /// A128GCM, apu "Alice", apv "Bob": Z and the derived 128-bit key.
    #[test]
    fn rfc7518_appendix_c() {
        let bob_d = d("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw");
        let alice_x = d("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0");
        let alice_y = d("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps");
        let bob = p256::SecretKey::from_slice(&bob_d).unwrap();
        let alice =
            p256::PublicKey::from_encoded_point(&p256::EncodedPoint::from_affine_coordinates(
                alice_x.as_slice().into(),
                alice_y.as_slice().into(),
                false,
            ))
            .unwrap();
        let shared = p256::ecdh::diffie_hellman(bob.to_nonzero_scalar(), alice.as_affine());
        let z = shared.raw_secret_bytes();
        assert_eq!(
            z.as_slice(),
            [
                158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
                110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196
            ]
        );
        assert_eq!(d("QWxpY2U"), b"Alice");
        assert_eq!(d("Qm9i"), b"Bob");
        let key = concat_kdf_sha256(z, b"A128GCM", b"Alice", b"Bob", 128);
        assert_eq!(b64::encode(&key[..16]), "VqqN6vgjbSBcIijNcacQGg");
    }
}
