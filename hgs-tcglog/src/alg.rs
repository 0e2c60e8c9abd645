//! Hash algorithms of PCR banks: [`hgs_tpm::HashAlg`], the one type of every hgs crate (with the
//! fixed-length PCR extend replay relies on), re-exported here.

pub use hgs_tpm::alg::MAX_DIGEST;
pub use hgs_tpm::HashAlg;
