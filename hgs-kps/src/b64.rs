//! Canonical unpadded base64url (RFC 7515 §2): one accepted spelling per byte string.

use base64ct::{Base64UrlUnpadded, Encoding};

/// Unpadded base64url of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes canonical unpadded base64url: the decoding must re-encode to the input (no padding,
/// no whitespace, no non-zero trailing bits), so a changed character never decodes to the same
/// bytes. `None` otherwise.
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    let bytes = Base64UrlUnpadded::decode_vec(s).ok()?;
    (Base64UrlUnpadded::encode_string(&bytes) == s).then_some(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_canonical_spellings_decode() {
        assert_eq!(decode("AQAB").unwrap(), [1, 0, 1]);
        assert_eq!(decode("").unwrap(), b"");
        assert!(decode("AQAB=").is_none());
        assert!(decode("AQ AB").is_none());
        assert!(decode("AQ+B").is_none());
        // "AR" decodes to [0x01] with non-zero trailing bits; "AQ" is the canonical spelling.
        assert_eq!(decode("AQ").unwrap(), [1]);
        assert!(decode("AR").is_none());
    }
}
