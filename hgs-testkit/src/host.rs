//! A simulated host (feature `host`): a software EK and AK (derived from the host's name) over a
//! synthetic Windows boot log, answering challenges the way TPM2_ActivateCredential and TPM2_Quote
//! would. The service's tests and load bench attest a fleet of them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hgs_attest::{ChallengeMessage, Evidence, QuoteEvidence};
use hgs_tcglog::EventLog;
use hgs_tpm::Public;
use hgs_tpm::{SoftAk, SoftEk};
use sha2::{Digest, Sha256};

use crate::synthetic::WindowsBoot;

/// The CI policy digest the [`healthy`] boot measures (SHA-256 of no real policy).
pub const CI_DIGEST: [u8; 32] = [0x5a; 32];

/// The healthy boot every test registers its baseline and CI policy from.
pub fn healthy() -> WindowsBoot {
    WindowsBoot {
        si_policy: Some(("SiPolicy.p7b".into(), 0x000B, CI_DIGEST.to_vec())),
        ..WindowsBoot::default()
    }
}

/// A software host: an EK and an AK (derived from its name), and the log of one boot — with the
/// PCR values that boot left, replayed once (a TPM holds them; it does not recompute them per
/// quote).
pub struct SimulatedHost {
    /// The host name it registers and attests under.
    pub name: String,
    /// Its software EK.
    pub ek: SoftEk,
    /// Its software AK (signing with ring).
    pub ak: SoftAk,
    /// The log of its boot.
    pub log: Vec<u8>,
    pcrs: hgs_tcglog::PcrBanks,
}

/// A 32-byte key seed derived from a host name and a purpose (`"ek"`, `"ak"`).
pub fn seed(name: &str, what: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(name)
        .chain_update([0])
        .chain_update(what)
        .finalize()
        .into()
}

impl SimulatedHost {
    /// The host `name` after `boot`; panics only on an unbuildable key (a bug, not input).
    pub fn new(name: &str, boot: &WindowsBoot) -> SimulatedHost {
        let log = boot.build();
        SimulatedHost {
            name: name.into(),
            ek: SoftEk::from_seed(&seed(name, "ek")).unwrap(),
            // ring signs several times faster than RustCrypto: the load generator shares the
            // server's cores.
            ak: SoftAk::from_seed(&seed(name, "ak"))
                .unwrap()
                .with_ring()
                .unwrap(),
            pcrs: hgs_tcglog::replay(&EventLog::parse(&log).unwrap()).unwrap(),
            log,
        }
    }

    /// What TPM2_ActivateCredential then TPM2_Quote (one per bank) would give, with the log.
    pub fn answer(&self, msg: &ChallengeMessage) -> Evidence {
        let nonce = self.activate(msg);
        self.quote(msg, &nonce)
    }

    /// [`SimulatedHost::answer`] with a decryption key bound in: `key_public` (a TPMT_PUBLIC,
    /// e.g. `hgs_tpm::decrypt_key_public`) certified by the AK with the challenge's nonce, as
    /// TPM2_Certify would.
    pub fn answer_binding(&self, msg: &ChallengeMessage, key_public: &[u8]) -> Evidence {
        let nonce = self.activate(msg);
        let mut evidence = self.quote(msg, &nonce);
        let (attest, signature) = self.ak.certify(&nonce, key_public).unwrap();
        evidence.bound_key = Some(hgs_attest::BoundKeyEvidence {
            public: key_public.to_vec(),
            attest,
            signature,
        });
        evidence
    }

    /// The nonce TPM2_ActivateCredential recovers from the challenge.
    fn activate(&self, msg: &ChallengeMessage) -> Vec<u8> {
        let ak_name = Public::parse(self.ak.public()).unwrap().name().unwrap();
        self.ek
            .activate_credential(&ak_name, &msg.credential_blob, &msg.encrypted_secret)
            .unwrap()
            .to_vec()
    }

    fn quote(&self, msg: &ChallengeMessage, nonce: &[u8]) -> Evidence {
        let replayed = &self.pcrs;
        let quotes = msg
            .banks
            .iter()
            .map(|b| {
                let alg = *b;
                let (attest, signature) = self
                    .ak
                    .quote(nonce, &[(*b, msg.pcrs)], |_, p| {
                        Some(
                            replayed
                                .get(alg, p)
                                .map_or_else(|| vec![0; b.digest_len()], <[u8]>::to_vec),
                        )
                    })
                    .unwrap();
                QuoteEvidence {
                    bank: Some(*b),
                    pcrs: msg.pcrs.to_vec(),
                    attest,
                    signature,
                }
            })
            .collect();
        Evidence {
            format: hgs_attest::EVIDENCE_FORMAT.into(),
            challenge_id: msg.id.clone(),
            ak_public: self.ak.public().to_vec(),
            quotes,
            pcr_values: Default::default(),
            event_log: self.log.clone(),
            bound_key: None,
        }
    }

    /// The admin API body registering this host (v1, forced: no EK certificate).
    pub fn registration(&self) -> serde_json::Value {
        serde_json::json!({
            "ekpub": hgs_tpm::hex::encode(self.ek.public()),
            "policy_version": "v1",
            "force": true,
        })
    }

    /// The `POST /v1/challenges` body for this host and its AK.
    pub fn challenge_body(&self) -> serde_json::Value {
        serde_json::json!({ "host": self.name, "ak_public": hgs_tpm::hex::encode(self.ak.public()) })
    }
}
