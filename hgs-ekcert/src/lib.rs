//! TPM endorsement-key (EK) certificates: parsing, and validation against the TPM vendor roots and
//! intermediates an administrator installed (as HGS does with `TrustedTPM_RootCA` /
//! `TrustedTPM_IntermediateCA`), vendor quirks and all. No I/O, no clock: time is a parameter.
//!
//! | file | concern |
//! |---|---|
//! | `der.rs` | tolerant DER walker (exact bytes kept, nothing re-encoded) |
//! | `container.rs` | PEM, TCG NV stored-certificate header, NV padding |
//! | `cert.rs` | the certificate reader: TBS bytes, names, validity, key, extensions |
//! | `name.rs` | Names: raw and normalised comparison (unsorted SET OF tolerated) |
//! | `tcg.rs` | TCG EK Credential Profile fields, vendor IDs, "is this an EK certificate" |
//! | `signature.rs` | signature algorithms, verification over the exact TBS via `hgs_tpm` |
//! | `trust_store.rs` | anchors and intermediates |
//! | `path.rs` | chain building with a budget |
//! | `ekpub.rs` | the presented EK public (TPM2B_PUBLIC / TPMT_PUBLIC / SPKI) vs the certificate key |
//! | `verify.rs` | the entry point and its result |
//! | `cab.rs` | Microsoft cabinet reader (MSZIP), bounded |
//! | `authenticode.rs` | the cabinet's Authenticode signature, to a pinned Microsoft root |
//! | `package.rs` | `TrustedTpm.cab`: signature, then `VENDOR/RootCA` and `VENDOR/IntermediateCA` |
//! | `error.rs` | one variant per reason, and the quirks |
//!
//! ```
//! use hgs_ekcert::{verify_chain, Options, TrustStore, UnixTime};
//! let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/ekcert");
//! let read = |p: &str| std::fs::read(format!("{corpus}/{p}")).unwrap();
//! let mut store = TrustStore::new();
//! store.add_anchor(&read("roots/STM/GlobalSign_Trusted_Platform_Module_Root_CA_f27bf02c.der")).unwrap();
//! store.add_intermediate(&read("roots/STM/STM_TPM_EK_Root_CA_f8e37a86.der")).unwrap();
//! store.add_intermediate(&read("roots/STM/STM_TPM_EK_Intermediate_CA_05_870fc181.der")).unwrap();
//! let at = UnixTime::parse_rfc3339("2026-11-22T00:00:00Z").unwrap();
//! // The raw NV blob: DER followed by 0xFF padding to 1600 bytes.
//! let ok = verify_chain(&read("leaves/stm-rsa2048-ekca05-ffpadded.der"), &store, None, &Options::at(at)).unwrap();
//! assert_eq!(ok.manufacturer.as_deref(), Some("STM"));
//! assert_eq!(ok.chain.len(), 4);
//! ```
//!
//! The public surface is the items re-exported here (every module is private). `cab_testing`
//! (hidden) builds small synthetic cabinets for this crate's integration tests.
#![forbid(unsafe_code)]
#![deny(unreachable_pub, missing_debug_implementations, missing_docs)]
// Input-derived numbers are converted with checks, never an `as` that truncates.
#![cfg_attr(not(test), deny(clippy::cast_possible_truncation))]

mod authenticode;
mod cab;
mod cert;
mod container;
mod der;
mod ekpub;
mod error;
mod name;
mod package;
mod path;
mod signature;
mod tcg;
mod time;
mod trust_store;
mod verify;

pub use authenticode::{
    signed_ranges, verify_cabinet, AuthenticodeError, CabinetSignature, EKU_CODE_SIGNING,
    EKU_TIME_STAMPING, MAX_SIGNATURE_CERTIFICATES, MICROSOFT_CODE_SIGNING_ROOT,
    MICROSOFT_TIMESTAMP_ROOT,
};
#[doc(hidden)]
pub use cab::testing as cab_testing;
pub use cab::{
    cabinet_layout, read_cabinet, CabError, CabFile, CabLayout, Cabinet, MAX_CAB_FILES,
    MAX_CAB_FOLDERS, MAX_CAB_UNCOMPRESSED,
};
pub use cert::{BasicConstraints, Certificate, Curve, Extensions, KeyInfo, KeyType, KeyUsage};
pub use container::certificates_in;
pub use ekpub::{check_key_match, EkPublic};
pub use error::{EkPublicError, Error, NotEk, Quirk, Result};
pub use name::{Attribute, Name};
pub use package::{
    read_trusted_tpm_cab, PackageCertificate, PackageError, SignaturePolicy, TrustedTpmPackage,
};
pub use path::{find_chain, Budget};
pub use signature::{Hash, SignatureAlgorithm, SignatureBackend};
pub use tcg::{
    check_ek_profile, parse_hex_id, vendor_from_id, TpmInfo, TpmSpec, OID_AIK_CERTIFICATE_EKU,
    OID_EK_CERTIFICATE_EKU, OID_TPM_MANUFACTURER, OID_TPM_MODEL, OID_TPM_SPECIFICATION,
    OID_TPM_VERSION,
};
pub use time::UnixTime;
pub use trust_store::TrustStore;
pub use verify::{
    verify_certificate, verify_chain, ChainLink, Options, QuirkPolicy, Role, Verified,
};
