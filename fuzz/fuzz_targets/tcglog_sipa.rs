//! Any bytes as SIPA payloads (EV_EVENT_TAG data): the walker, SI policy and VSM IDK decoders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut n = 0usize;
    let _ = hgs_tcglog::sipa::walk(data, 0, |r| {
        n += 1;
        let _ = r.as_uint();
        let _ = hgs_tcglog::sipa::SiPolicy::parse(r.data, 0);
        let _ = hgs_tcglog::sipa::VsmIdk::parse(r.data, 0);
    });
    assert!(n <= data.len() / 8 + 1);
});
