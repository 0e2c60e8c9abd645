//! Any bytes as a CI policy file (signed or unsigned). What parses must re-encode (builder) to
//! bytes that parse to the same policy. Byte-exact re-encoding is checked on every real policy in
//! the corpus tests; here inputs may be non-canonical (e.g. zero-length fields placed oddly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = hgs_cipolicy::CiPolicy::parse(data) {
        let _ = p.summary();
        if p.policy().app_settings == 0 {
            let bytes = hgs_cipolicy::builder::encode(p.policy());
            let again = hgs_cipolicy::BinaryPolicy::parse(&bytes).expect("re-encoded policy parses");
            assert_eq!(&again, p.policy());
        }
    }
});
