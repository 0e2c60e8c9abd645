//! The verifier side of TPM2_MakeCredential: implemented in hgs-tpm with the TPM structures
//! (KDFa, KDFe, the AES-CFB / HMAC credential blob); re-exported here, where challenges are made
//! ([`crate::new_challenge`]) and the ECDH backend is chosen ([`EcdhBackend`], by
//! [`crate::ChallengeRequest::ecdh`]).

pub use hgs_tpm::{
    check_ak_attributes, kdfa, kdfe, make_credential, make_credential_with, Credential,
    CredentialError, EcdhBackend,
};
