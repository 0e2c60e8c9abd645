//! Any bytes as an EK certificate (DER, PEM, NV blob): parse, read every field, then build a chain
//! against a fixed store (the STM and Nuvoton roots/intermediates of the corpus, embedded) and
//! against a store made of the input itself (self-issued / loop handling). Must never panic, and
//! path building stays within its budget.
#![no_main]

use hgs_ekcert::{verify_chain, Budget, Certificate, Options, TrustStore, UnixTime};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

macro_rules! corpus {
    ($p:literal) => {
        include_bytes!(concat!("../../../shared/corpus/ekcert/roots/", $p)).as_slice()
    };
}

fn store() -> &'static TrustStore {
    static S: OnceLock<TrustStore> = OnceLock::new();
    S.get_or_init(|| {
        let (s, _) = TrustStore::from_certificates(
            [corpus!("STM/GlobalSign_Trusted_Platform_Module_Root_CA_f27bf02c.der")],
            [
                corpus!("STM/STM_TPM_EK_Root_CA_f8e37a86.der"),
                corpus!("STM/STM_TPM_EK_Intermediate_CA_05_870fc181.der"),
            ],
        );
        s
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(cert) = Certificate::from_bytes(data) else {
        return;
    };
    let _ = (cert.subject.to_string(), cert.issuer.to_string(), cert.serial_hex());
    let _ = hgs_ekcert::check_ek_profile(&cert);
    let _ = cert.is_self_signed();
    let mut opts = Options::at(UnixTime(1_800_000_000));
    opts.allow_expired = true;
    opts.budget = Budget { max_signature_checks: 8, max_depth: 4 };
    if let Ok(v) = verify_chain(data, store(), None, &opts) {
        assert!(v.signature_checks <= 8);
    }
    let mut own = TrustStore::new();
    own.add_intermediate_cert(cert.clone());
    own.add_anchor_cert(cert);
    let _ = verify_chain(data, &own, None, &opts);
});
