//! Any bytes as every TPM structure hgs-tpm parses; what parses must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = hgs_tpm::Public::parse(data) {
        let _ = p.key();
        let _ = p.name();
        assert_eq!(p.encode_tpmt(), p.bytes);
    }
    if let Ok(a) = hgs_tpm::Attest::parse(data) {
        assert_eq!(a.encode(), a.bytes);
    }
    if let Ok(s) = hgs_tpm::Signature::parse(data) {
        assert_eq!(s.encode(), data);
    }
    let _ = hgs_tpm::PcrSelection::parse(data);
});
