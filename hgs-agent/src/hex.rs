//! Hex as the host's documents and the `hgs` program accept it: [`hgs_tpm::hex`] with surrounding whitespace ignored (files
//! written by editors end in a newline).

/// Lower-case hex of `bytes` ([`hgs_tpm::hex::encode`]).
pub use hgs_tpm::hex::encode as hex;

/// Decodes hex of either case, surrounding whitespace ignored; `None` if malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    hgs_tpm::hex::decode(s.trim())
}
