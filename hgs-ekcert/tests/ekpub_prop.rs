//! proptest: a key encoded as TPM2B_PUBLIC, bare TPMT_PUBLIC and SPKI (rsaEncryption or the
//! RSAES-OAEP OID) is recognised as the same key; any change to modulus/exponent/point is not.
#![allow(clippy::unwrap_used)]

use hgs_ekcert::EkPublic;
use proptest::prelude::*;

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(body);
    out
}

fn int(v: &[u8]) -> Vec<u8> {
    let mut b = v
        .iter()
        .skip_while(|x| **x == 0)
        .copied()
        .collect::<Vec<_>>();
    if b.first().is_none_or(|x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    tlv(0x02, &b)
}

const RSA_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const OAEP_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07,
];

fn rsa_spki(n: &[u8], e: u32, oaep: bool) -> Vec<u8> {
    let alg = if oaep {
        tlv(0x30, OAEP_OID)
    } else {
        tlv(0x30, &[RSA_OID, &[0x05, 0x00]].concat())
    };
    let key = tlv(0x30, &[int(n), int(&e.to_be_bytes())].concat());
    let mut bits = vec![0];
    bits.extend(key);
    tlv(0x30, &[alg, tlv(0x03, &bits)].concat())
}

fn ecc_spki(p384: bool, x: &[u8], y: &[u8]) -> Vec<u8> {
    let curve: &[u8] = if p384 {
        &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]
    } else {
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
    };
    let alg = tlv(
        0x30,
        &[
            &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01][..],
            curve,
        ]
        .concat(),
    );
    let mut bits = vec![0, 4];
    bits.extend_from_slice(x);
    bits.extend_from_slice(y);
    tlv(0x30, &[alg, tlv(0x03, &bits)].concat())
}

fn tpm2b(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// TPMT_PUBLIC of an EK-like restricted decryption key (AES-128-CFB symmetric, NULL scheme).
fn tpmt(rsa: Option<(&[u8], u32)>, ecc: Option<(bool, &[u8], &[u8])>) -> Vec<u8> {
    let mut v = Vec::new();
    let ty: u16 = if rsa.is_some() { 0x0001 } else { 0x0023 };
    v.extend(ty.to_be_bytes());
    v.extend(0x000bu16.to_be_bytes());
    v.extend(0x0003_00b2u32.to_be_bytes());
    v.extend(tpm2b(&[0x11; 32]));
    v.extend([0x00, 0x06, 0x00, 0x80, 0x00, 0x43]); // AES 128 CFB
    v.extend(0x0010u16.to_be_bytes()); // scheme NULL
    if let Some((n, e)) = rsa {
        v.extend(((n.len() * 8) as u16).to_be_bytes());
        v.extend(e.to_be_bytes());
        v.extend(tpm2b(n));
    } else if let Some((p384, x, y)) = ecc {
        v.extend((if p384 { 0x0004u16 } else { 0x0003 }).to_be_bytes());
        v.extend(0x0010u16.to_be_bytes()); // kdf NULL
        v.extend(tpm2b(x));
        v.extend(tpm2b(y));
    }
    v
}

fn prefixed(t: &[u8]) -> Vec<u8> {
    tpm2b(t)
}

proptest! {
    #[test]
    fn rsa_encodings_agree(mut n in proptest::collection::vec(any::<u8>(), 256), e in prop::sample::select(vec![0u32, 3, 65537]), oaep in any::<bool>(), flip in 0usize..256) {
        n[0] |= 0x80;
        let spki_e = if e == 0 { 65537 } else { e };
        let t = tpmt(Some((&n, e)), None);
        let bare = EkPublic::from_tpm_public(&t).unwrap();
        let sized = EkPublic::from_tpm_public(&prefixed(&t)).unwrap();
        let spki = EkPublic::from_spki(&rsa_spki(&n, spki_e, oaep)).unwrap();
        prop_assert!(bare.same_key(&spki));
        prop_assert!(sized.same_key(&spki));
        prop_assert!(EkPublic::parse(&t).unwrap().same_key(&spki));
        let mut other = n.clone();
        other[flip] ^= 1;
        prop_assert!(!EkPublic::from_spki(&rsa_spki(&other, spki_e, oaep)).unwrap().same_key(&bare));
        prop_assert!(!EkPublic::from_spki(&rsa_spki(&n, spki_e + 2, oaep)).unwrap().same_key(&bare));
    }

    #[test]
    fn ecc_encodings_agree(p384 in any::<bool>(), seed in proptest::collection::vec(any::<u8>(), 96), flip in 0usize..64) {
        let len = if p384 { 48 } else { 32 };
        let (x, y) = (&seed[..len], &seed[48..48 + len]);
        let t = tpmt(None, Some((p384, x, y)));
        let tpm = EkPublic::from_tpm_public(&prefixed(&t)).unwrap();
        let spki = EkPublic::from_spki(&ecc_spki(p384, x, y)).unwrap();
        prop_assert!(tpm.same_key(&spki));
        let mut x2 = x.to_vec();
        x2[flip % len] ^= 0x80;
        prop_assert!(!EkPublic::from_spki(&ecc_spki(p384, &x2, y)).unwrap().same_key(&tpm));
        // Same coordinates on the other curve are a different key.
        let other = if p384 { ecc_spki(false, &x[..32], &y[..32]) } else { ecc_spki(true, &[x, &[0u8; 16]].concat(), &[y, &[0u8; 16]].concat()) };
        prop_assert!(!EkPublic::from_spki(&other).unwrap().same_key(&tpm));
    }
}
