#![doc = include_str!("../README.md")]
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
/// Builders of small synthetic cabinets (feature `builder`, tests only).
#[cfg(feature = "builder")]
pub use cab::testing as cab_builder;
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
