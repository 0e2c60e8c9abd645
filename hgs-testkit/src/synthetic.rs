//! A Windows-like boot log: UEFI Secure Boot events on PCR 7 and Windows Boot
//! Configuration Log (SIPA) records on PCRs 12–14, shaped like the real Windows Server logs in
//! `shared/corpus/tcglog`. Each security setting HGS checks is a field of [`WindowsBoot`], so tests
//! and demos can produce a healthy host or change exactly one thing.
//!
//! The log is extended into a software TPM by the end-to-end tests; it is never trusted because it
//! was built here: the verifier only trusts it after replaying it to quoted PCRs.

use hgs_tcglog::builder::{uefi_variable, LogBuilder};
use hgs_tcglog::sipa::{encode_container, encode_records, encode_si_policy, id, SiPolicy};
use hgs_tcglog::HashAlg;

const EV_SEPARATOR: u32 = 0x4;
const EV_EVENT_TAG: u32 = 0x6;
const EV_S_CRTM_VERSION: u32 = 0x8;
const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
const EV_EFI_BOOT_SERVICES_APPLICATION: u32 = 0x8000_0003;
const EV_EFI_ACTION: u32 = 0x8000_0007;
const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00E0;

/// What the synthetic host's log says. [`Default`] is a host that passes every default `Hgs_*`
/// policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsBoot {
    /// Banks of the crypto-agile log.
    pub banks: Vec<HashAlg>,
    /// UEFI SecureBoot variable = 1.
    pub secure_boot: bool,
    /// Contents of db (an opaque signature list; changing it changes the baseline).
    pub db: Vec<u8>,
    /// Contents of dbx.
    pub dbx: Vec<u8>,
    /// EV_EFI_ACTION "UEFI Debug Mode" on PCR 7.
    pub uefi_debug_mode: bool,
    /// BOOTDEBUGGING.
    pub boot_debugging: bool,
    /// OSKERNELDEBUG.
    pub kernel_debugging: bool,
    /// TRANSFER_CONTROL = 2 (resume from hibernation) instead of 1 (OS loader).
    pub resume: bool,
    /// VSM_LAUNCH_TYPE = 1.
    pub vbs: bool,
    /// VBS_HVCI_POLICY = 1.
    pub hvci: bool,
    /// VBS_IOMMU_REQUIRED = 1.
    pub iommu: bool,
    /// VSM_IDK_INFO present (a 2048-bit RSA key).
    pub vsm_idk: bool,
    /// Further VSM_IDK_INFO records after it (other keys): a log no key can be trusted from.
    pub extra_vsm_idks: u8,
    /// PAGEFILE_ENCRYPTION_ENABLED.
    pub pagefile_encrypted: bool,
    /// HIBERNATION_DISABLED.
    pub hibernation_disabled: bool,
    /// DUMPS_DISABLED.
    pub dumps_disabled: bool,
    /// BITLOCKER_UNLOCK flags (0 = not unlocked by BitLocker).
    pub bitlocker_unlock: u32,
    /// The SI policy measured: (file name, TPM_ALG_ID, digest). `None` measures none.
    pub si_policy: Option<(String, u16, Vec<u8>)>,
    /// Further SI policies measured after it (e.g. a supplemental policy), same form.
    pub extra_si_policies: Vec<(String, u16, Vec<u8>)>,
}

impl Default for WindowsBoot {
    fn default() -> Self {
        WindowsBoot {
            banks: vec![HashAlg::Sha1, HashAlg::Sha256],
            secure_boot: true,
            db: b"synthetic db: Microsoft Windows Production PCA 2011".to_vec(),
            dbx: b"synthetic dbx: revoked hashes".to_vec(),
            uefi_debug_mode: false,
            boot_debugging: false,
            kernel_debugging: false,
            resume: false,
            vbs: true,
            hvci: true,
            iommu: true,
            vsm_idk: true,
            extra_vsm_idks: 0,
            pagefile_encrypted: true,
            hibernation_disabled: true,
            dumps_disabled: true,
            bitlocker_unlock: 0,
            si_policy: Some(("SiPolicy.p7b".into(), 0x000B, vec![0x5a; 32])),
            extra_si_policies: Vec::new(),
        }
    }
}

fn b(v: bool) -> Vec<u8> {
    vec![u8::from(v)]
}

fn u32le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn u64le(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

impl WindowsBoot {
    /// Encodes the log.
    pub fn build(&self) -> Vec<u8> {
        let mut log = LogBuilder::agile(&self.banks);
        // Firmware (PCR 0) and the pre-OS separators (PCRs 0-6).
        log.event(
            0,
            EV_S_CRTM_VERSION,
            &"hgs synthetic firmware 1.0\0"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>(),
        );
        // PCR 7: Secure Boot configuration.
        let global = hgs_tcglog::uefi::EFI_GLOBAL_VARIABLE;
        let db = hgs_tcglog::uefi::EFI_IMAGE_SECURITY_DATABASE;
        for (guid, name, data) in [
            (global, "SecureBoot", b(self.secure_boot)),
            (global, "PK", b"synthetic PK".to_vec()),
            (global, "KEK", b"synthetic KEK".to_vec()),
            (db, "db", self.db.clone()),
            (db, "dbx", self.dbx.clone()),
        ] {
            log.event(
                7,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                &uefi_variable(guid, name, &data),
            );
        }
        if self.uefi_debug_mode {
            log.event(7, EV_EFI_ACTION, b"UEFI Debug Mode");
        }
        for pcr in 0..=7 {
            log.event(pcr, EV_SEPARATOR, &[0, 0, 0, 0]);
        }
        log.event(
            7,
            EV_EFI_VARIABLE_AUTHORITY,
            &uefi_variable(db, "db", b"synthetic db entry that signed bootmgfw.efi"),
        );
        log.event(
            4,
            EV_EFI_BOOT_SERVICES_APPLICATION,
            b"\\EFI\\Microsoft\\Boot\\bootmgfw.efi (synthetic image load)",
        );

        // PCR 12: the boot configuration, as bootmgr and winload measure it.
        let mut settings = vec![
            (id::BOOTCOUNTER, u64le(7)),
            (id::BOOTDEBUGGING, b(self.boot_debugging)),
            (id::OSKERNELDEBUG, b(self.kernel_debugging)),
            (id::CODEINTEGRITY, b(true)),
            (id::TESTSIGNING, b(false)),
            (id::FLIGHTSIGNING, b(false)),
            (id::SAFEMODE, b(false)),
            (id::WINPE, b(false)),
            (id::HYPERVISOR_LAUNCH_TYPE, u64le(1)),
            (id::HYPERVISOR_DEBUG, b(false)),
            (id::VSM_LAUNCH_TYPE, u64le(u64::from(self.vbs))),
            (id::VBS_SECUREBOOT_REQUIRED, b(self.secure_boot)),
            (id::VBS_IOMMU_REQUIRED, b(self.iommu)),
            (id::VBS_HVCI_POLICY, u64le(u64::from(self.hvci))),
            (id::PAGEFILE_ENCRYPTION_ENABLED, b(self.pagefile_encrypted)),
            (id::HIBERNATION_DISABLED, b(self.hibernation_disabled)),
            (id::DUMPS_DISABLED, b(self.dumps_disabled)),
            (id::DUMP_ENCRYPTION_ENABLED, b(false)),
        ];
        for (name, alg, digest) in self.si_policy.iter().chain(&self.extra_si_policies) {
            settings.push((
                id::SI_POLICY,
                encode_si_policy(&SiPolicy {
                    version: 0x000A_0000_0000_0000,
                    name: name.clone(),
                    hash_alg: *alg,
                    digest: digest.clone(),
                }),
            ));
        }
        if self.vsm_idk {
            let mut idk = Vec::new();
            for v in [1u32, 2048, 3, 256] {
                idk.extend_from_slice(&v.to_le_bytes());
            }
            idk.extend_from_slice(&[1, 0, 1]);
            idk.extend_from_slice(&[0xc5; 256]);
            settings.push((id::VSM_IDK_INFO, idk));
        }
        for i in 0..self.extra_vsm_idks {
            let mut idk = Vec::new();
            for v in [1u32, 2048, 3, 256] {
                idk.extend_from_slice(&v.to_le_bytes());
            }
            idk.extend_from_slice(&[1, 0, 1]);
            idk.extend_from_slice(&[0xc7_u8.wrapping_add(i.wrapping_mul(2)); 256]);
            settings.push((id::VSM_IDK_INFO, idk));
        }
        log.event(
            12,
            EV_EVENT_TAG,
            &encode_container(id::TRUSTBOUNDARY, &encode_records(&settings)),
        );
        log.event(
            12,
            EV_EVENT_TAG,
            &encode_records(&[(id::TRANSFER_CONTROL, u32le(if self.resume { 2 } else { 1 }))]),
        );
        // PCR 13: boot modules, PCR 14: authorities. BitLocker on PCR 13 as Windows does.
        let module = encode_records(&[
            (
                id::FILEPATH,
                "\\Windows\\system32\\winload.efi\0"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect(),
            ),
            (id::AUTHENTICODEHASH, vec![0x11; 32]),
            (id::IMAGEVALIDATED, b(true)),
        ]);
        log.event(
            13,
            EV_EVENT_TAG,
            &encode_container(id::LOADEDMODULE_AGGREGATION, &module),
        );
        log.event(
            13,
            EV_EVENT_TAG,
            &encode_records(&[(id::BITLOCKER_UNLOCK, u32le(self.bitlocker_unlock))]),
        );
        log.event(
            14,
            EV_EVENT_TAG,
            &encode_records(&[(id::NOAUTHORITY, vec![0])]),
        );
        for pcr in 12..=14 {
            log.event(pcr, EV_SEPARATOR, b"WBCL");
        }
        log.build()
    }
}

/// Quotes of `log`'s own replayed values by a software AK ([`hgs_tpm::SoftAk`]), one per
/// entry of `selection`, verified with a fixed nonce: for tests that need a
/// [`hgs_tcglog::QuotedLog`] over a synthetic log. They prove only that the log replays to what was
/// signed — which is all a `QuotedLog` claims; trusting the AK is the attestation layer's job.
pub fn self_quotes(
    log: &hgs_tcglog::EventLog<'_>,
    selection: &[(HashAlg, hgs_tpm::PcrSet)],
) -> Vec<hgs_tpm::VerifiedQuote> {
    let Ok(replayed) = hgs_tcglog::replay(log) else {
        return Vec::new();
    };
    let Ok(ak) = hgs_tpm::SoftAk::from_seed(&[7; 32]) else {
        return Vec::new();
    };
    let nonce = [0x5a; 16];
    let mut out = Vec::new();
    for &(bank, pcrs) in selection {
        let tpm_bank = bank;
        let Ok((attest, sig)) = ak.quote(&nonce, &[(tpm_bank, pcrs)], |_, p| {
            replayed.get(bank, p).map(<[u8]>::to_vec)
        }) else {
            continue;
        };
        let req = hgs_tpm::QuoteRequirements {
            freshness: hgs_tpm::Freshness::Nonce(&nonce),
            bank: tpm_bank,
            required_pcrs: pcrs,
        };
        if let Ok(q) = hgs_tpm::verify_quote(
            ak.public(),
            &attest,
            &sig,
            &req,
            &hgs_tpm::RustCryptoVerifier,
        ) {
            out.push(q);
        }
    }
    out
}
