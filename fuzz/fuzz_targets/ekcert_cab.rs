//! Any bytes as a `TrustedTpm.cab`: the cabinet reader (bounded by MAX_CAB_*), the Authenticode
//! parser and check (PKCS#7, timestamp, chain to the pinned roots) and the package reader must
//! never panic, and what they return stays within the bounds. Seeds: a small synthetic cabinet
//! carrying the real cabinet's signature (`hgs-tests/tests/data/cab`).
#![no_main]

use hgs_ekcert::{
    read_cabinet, read_trusted_tpm_cab, verify_cabinet, SignaturePolicy, UnixTime, MAX_CAB_FILES,
    MAX_CAB_UNCOMPRESSED,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = UnixTime(1_800_000_000);
    if let Ok(c) = read_cabinet(data) {
        assert!(c.files.len() <= MAX_CAB_FILES);
        assert!(c.files.iter().map(|f| f.data.len()).sum::<usize>() <= MAX_CAB_UNCOMPRESSED);
    }
    let _ = verify_cabinet(data, now);
    if let Ok(p) = read_trusted_tpm_cab(data, now, SignaturePolicy::AllowUnsigned) {
        assert!(p.anchors.len() + p.intermediates.len() + p.skipped.len() <= 64 * MAX_CAB_FILES);
    }
});
