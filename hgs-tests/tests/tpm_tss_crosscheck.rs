//! Our parsers against tpm2-tss's own unmarshalling (through tss-esapi) on real structures: the
//! Windows AK public area, its quote and its signature (bundled evidence, Apache-2.0, see
//! examples/data/ga_windows_gcp_shielded_vm/README.md). Field by field, and tss re-marshalling
//! gives back the exact bytes our parser keeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tss_esapi::structures::{
    Attest as TssAttest, AttestInfo, Public as TssPublic, Signature as TssSignature,
};
use tss_esapi::traits::{Marshall, UnMarshall};

fn data(f: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../examples/data/ga_windows_gcp_shielded_vm/{f}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn ak_public_agrees_with_tpm2_tss() {
    let bytes = data("ak_public.bin");
    let ours = hgs_tpm::Public::parse(&bytes).unwrap();
    let tss = TssPublic::unmarshall(&bytes).unwrap();
    assert_eq!(tss.marshall().unwrap(), ours.bytes);
    let attrs: u32 = tss.object_attributes().into();
    assert_eq!(attrs, ours.attributes.0);
    assert_eq!(u16::from(tss.name_hashing_algorithm()), ours.name_alg);
    match (&tss, ours.key().unwrap()) {
        (
            TssPublic::Rsa {
                unique, parameters, ..
            },
            hgs_tpm::PublicKey::Rsa { modulus, exponent },
        ) => {
            assert_eq!(unique.value(), modulus.as_slice());
            assert_eq!(u16::from(parameters.key_bits()), 2048);
            let e = parameters.exponent().value();
            assert_eq!(if e == 0 { 65537 } else { e }, exponent);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn quote_agrees_with_tpm2_tss() {
    let bytes = data("quote_attest.bin");
    let ours = hgs_tpm::Attest::parse(&bytes).unwrap();
    let tss = TssAttest::unmarshall(&bytes).unwrap();
    assert_eq!(tss.marshall().unwrap(), bytes);
    assert_eq!(tss.qualified_signer().value(), ours.qualified_signer);
    assert_eq!(tss.extra_data().value(), ours.extra_data);
    assert_eq!(tss.clock_info().clock(), ours.clock_info.clock);
    assert_eq!(tss.clock_info().reset_count(), ours.clock_info.reset_count);
    assert_eq!(
        tss.clock_info().restart_count(),
        ours.clock_info.restart_count
    );
    assert_eq!(tss.clock_info().safe(), ours.clock_info.safe);
    assert_eq!(tss.firmware_version(), ours.firmware_version);
    let AttestInfo::Quote { info } = tss.attested() else {
        panic!("tss: not a quote")
    };
    let hgs_tpm::Attested::Quote {
        selection,
        pcr_digest,
    } = &ours.attested
    else {
        panic!("ours: not a quote")
    };
    assert_eq!(info.pcr_digest().value(), *pcr_digest);
    let tss_sel = info.pcr_selection().get_selections();
    assert_eq!(tss_sel.len(), selection.banks.len());
    for (t, o) in tss_sel.iter().zip(&selection.banks) {
        assert_eq!(u16::from(t.hashing_algorithm()), o.hash);
        let mut pcrs: Vec<u32> = t
            .selected()
            .iter()
            .map(|s| u32::from(*s).trailing_zeros())
            .collect();
        pcrs.sort_unstable();
        assert_eq!(pcrs, o.pcrs());
    }
}

#[test]
fn signature_agrees_with_tpm2_tss() {
    let bytes = data("quote_sig.bin");
    let ours = hgs_tpm::Signature::parse(&bytes).unwrap();
    let tss = TssSignature::unmarshall(&bytes).unwrap();
    assert_eq!(tss.marshall().unwrap(), bytes);
    match (&tss, &ours) {
        (TssSignature::RsaSsa(s), hgs_tpm::Signature::RsaSsa { hash, sig }) => {
            assert_eq!(u16::from(s.hashing_algorithm()), *hash);
            assert_eq!(s.signature().value(), *sig);
        }
        other => panic!("{other:?}"),
    }
}
