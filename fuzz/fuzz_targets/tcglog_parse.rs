//! Any bytes through every hgs-tcglog entry point: parse, iterate, decode, digest-check, claims,
//! replay.
//! Must never panic, hang or allocate from an unchecked length.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(log) = hgs_tcglog::EventLog::parse(data) else { return };
    for event in log.events() {
        let Ok(event) = event else { break };
        let _ = hgs_tcglog::uefi::decode(&event);
        let _ = hgs_tcglog::check_event(&event);
        if let Ok(hgs_tcglog::uefi::Decoded::Variable(v)) = hgs_tcglog::uefi::decode(&event) {
            let _ = v.signature_lists(event.index);
        }
    }
    let _ = log.read_lenient();
    if let Ok(r) = hgs_tcglog::ReferenceLog::new(log) {
        let _ = hgs_tcglog::BootClaims::from_reference(&r);
    }
    if let Ok(pcrs) = hgs_tcglog::replay(&log) {
        for alg in pcrs.banks().to_vec() {
            let _ = pcrs.composite_digest(alg, &[0, 1, 2, 3, 4, 5, 6, 7], alg);
        }
    }
});
