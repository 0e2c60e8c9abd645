//! hgs-kps on arbitrary input: key protector documents and guardian certificates must be
//! refused with a typed error (never a panic, a hang or an unbounded allocation), and no
//! document other than the fixture's opens.
//!
//! Mode byte 0: the rest is a key protector document (what parses must re-parse from its
//! `to_bytes` to the same protector; it is opened as the owner and as the guardian). 1: the rest
//! overwrites bytes of the fixture's valid document from the offset its first two bytes give;
//! whatever still opens must be the fixture protector, with the fixture's transport key (the
//! MAC). 2: the rest is a guardian certificate (DER, then PEM text). 3: the rest overwrites
//! bytes of the fixture owner certificate.
#![no_main]

use hgs_keys::SoftP256Key;
use hgs_kps::{Guardian, GuardianFingerprint, KeyProtector, TransportKey};
use libfuzzer_sys::fuzz_target;
use rand_core::{CryptoRng, RngCore};
use std::sync::OnceLock;

/// The README's fixture guardians (hgs-kps/tests/data/README.md: fixed test scalars).
const OWNER_DER: &[u8] = include_bytes!("../../hgs-kps/tests/data/owner-p256.der");
const FABRIC_PEM: &str = include_str!("../../hgs-kps/tests/data/fabric-p256.pem");

/// Deterministic randomness (splitmix64), so a crash reproduces; never for real keys.
struct FixedRng(u64);

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedRng {}

struct Fixture {
    owner: Guardian,
    owner_key: SoftP256Key,
    fabric: Guardian,
    fabric_key: SoftP256Key,
    protector: KeyProtector,
    document: Vec<u8>,
    transport: TransportKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let owner = Guardian::from_certificate_der(OWNER_DER).expect("fixture owner");
        let fabric = Guardian::from_pem(FABRIC_PEM).expect("fixture fabric");
        let owner_key = SoftP256Key::from_scalar_bytes(&[0x11; 32]).expect("fixed key");
        let fabric_key = SoftP256Key::from_scalar_bytes(&[0x22; 32]).expect("fixed key");
        let (protector, transport) =
            KeyProtector::new(&owner, std::slice::from_ref(&fabric), &mut FixedRng(42))
                .expect("protector");
        let document = protector.to_bytes();
        Fixture {
            owner,
            owner_key,
            fabric,
            fabric_key,
            protector,
            document,
            transport,
        }
    })
}

fn overwrite(base: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let (offset, patch) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => return None,
    };
    let mut bytes = base.to_vec();
    let start = offset % (bytes.len() + 1);
    let end = (start + patch.len()).min(bytes.len());
    bytes[start..end].copy_from_slice(&patch[..end - start]);
    bytes.extend_from_slice(&patch[end - start..]);
    Some(bytes)
}

/// Parses and opens `bytes` as both guardians; returns whether any opened, asserting what
/// opens is the fixture.
fn open(bytes: &[u8], f: &Fixture) {
    let Ok(kp) = KeyProtector::parse(bytes) else {
        return;
    };
    let again = KeyProtector::parse(&kp.to_bytes()).expect("to_bytes re-parses");
    assert_eq!(again, kp);
    let mut owner_key = f.owner_key.clone();
    let mut fabric_key = f.fabric_key.clone();
    for opened in [
        kp.unwrap(&f.owner, &mut owner_key),
        kp.unwrap(&f.fabric, &mut fabric_key),
    ] {
        if let Ok(key) = opened {
            assert_eq!(key.as_bytes(), f.transport.as_bytes(), "opened to another key");
            assert_eq!(kp, f.protector, "a changed document opened");
        }
    }
}

fn guardian(bytes: &[u8]) {
    if let Ok(g) = Guardian::from_certificate_der(bytes) {
        assert_eq!(g.fingerprint(), &GuardianFingerprint::of_certificate(bytes));
        assert_eq!(g.certificate_der(), bytes);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = Guardian::from_pem(text);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match mode % 4 {
        0 => open(rest, f),
        1 => {
            if let Some(doc) = overwrite(&f.document, rest) {
                open(&doc, f);
            }
        }
        2 => guardian(rest),
        _ => {
            if let Some(cert) = overwrite(OWNER_DER, rest) {
                guardian(&cert);
            }
        }
    }
});
