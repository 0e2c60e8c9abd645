//! Host-side TPM operations over `tss-esapi` (feature `tpm`).
//!
//! One concept per file: [`agent`] (the challenge → quote round trip), [`answer`] (a verifier's
//! challenge document answered, and the agent's saved AK), [`platform`] (the platform identifier
//! read from the TPM), [`ek`] (endorsement keys and their NV certificates), [`ak`] (the
//! attestation key and its saved state), [`credential`] (TPM2_ActivateCredential), [`quote`]
//! (PCR banks, PCR values, TPM2_Quote), [`pcr`] (PCR extension, used to replay a log into a
//! software TPM), [`bound_key`] (a decryption key certified by the AK with TPM2_Certify, and
//! TPM2_RSA_Decrypt / TPM2_ECDH_ZGen with it), [`key_state`] (the bound key saved in the state
//! directory), [`unwrap`] (`hgs_keys::KeyUnwrap` in the TPM: a released JWE decrypted there).
//!
//! Every transient object and session created here is flushed before the function returns, on
//! success and on error: with the `swtpm:` or `device:/dev/tpm0` TCTI there is no resource
//! manager and leaked handles exhaust the TPM's three object slots.

pub mod agent;
pub mod ak;
pub mod answer;
pub mod bound_key;
pub mod credential;
pub mod ek;
pub mod key_state;
pub mod pcr;
pub mod platform;
pub mod quote;
pub mod unwrap;

use std::str::FromStr;

use tss_esapi::handles::ObjectHandle;
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::Context;

/// TCTI used when neither `--tcti`, `TPM2TOOLS_TCTI` nor `TCTI` is set: the kernel resource manager.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";

/// The TCTI to use: `explicit` if given, else `TPM2TOOLS_TCTI`, else `TCTI`, else [`DEFAULT_TCTI`].
pub fn resolve_tcti(explicit: Option<&str>) -> String {
    if let Some(t) = explicit {
        return t.to_string();
    }
    for var in ["TPM2TOOLS_TCTI", "TCTI"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    DEFAULT_TCTI.to_string()
}

/// Errors from TPM operations. TPM response codes keep their TSS text and raw value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    /// The TPM or the TSS returned an error for `op`.
    #[error("{op}: {text}")]
    Tss {
        /// The operation (TPM command or step) that failed.
        op: String,
        /// The TSS / TPM response-code text, with the raw code.
        text: String,
    },
    /// The TPM answered something we cannot use.
    #[error("{op}: {message}")]
    Unexpected {
        /// The operation.
        op: String,
        /// What was wrong.
        message: String,
    },
}

/// Turns a `tss_esapi::Error` into a [`TpmError`] naming the operation, with the RC text and value.
pub fn tss_err(op: impl Into<String>) -> impl FnOnce(tss_esapi::Error) -> TpmError {
    let op = op.into();
    move |e| {
        let text = match &e {
            tss_esapi::Error::Tss2Error(rc) => {
                let raw = match rc {
                    tss_esapi::constants::response_code::Tss2ResponseCode::Success => String::new(),
                    tss_esapi::constants::response_code::Tss2ResponseCode::FormatZero(z) => {
                        format!(" [{z}]")
                    }
                    tss_esapi::constants::response_code::Tss2ResponseCode::FormatOne(o) => {
                        format!(" [{o}]")
                    }
                };
                format!("TPM error: {rc}{raw}")
            }
            tss_esapi::Error::WrapperError(w) => format!("tss-esapi: {w}"),
        };
        TpmError::Tss { op, text }
    }
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, TpmError>;

/// An open connection to a TPM.
pub struct Tpm {
    ctx: Context,
    tcti: String,
}

impl std::fmt::Debug for Tpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tpm").field("tcti", &self.tcti).finish()
    }
}

impl Tpm {
    /// Connects through `tcti` (e.g. `device:/dev/tpmrm0`, `swtpm:host=127.0.0.1,port=2321`,
    /// `tabrmd`).
    pub fn open(tcti: &str) -> Result<Tpm> {
        let conf = TctiNameConf::from_str(tcti).map_err(tss_err(format!("parse TCTI {tcti:?}")))?;
        let ctx = Context::new(conf).map_err(tss_err(format!("connect to TPM via {tcti:?}")))?;
        Ok(Tpm {
            ctx,
            tcti: tcti.to_string(),
        })
    }

    /// The TCTI string this connection uses.
    pub fn tcti(&self) -> &str {
        &self.tcti
    }

    /// The underlying ESAPI context (for operations not wrapped here).
    pub fn context(&mut self) -> &mut Context {
        &mut self.ctx
    }

    /// Flushes a transient object or session, ignoring errors (used on cleanup paths where the
    /// original error matters more).
    pub(crate) fn flush_quietly(&mut self, handle: ObjectHandle) {
        let _ = self.ctx.flush_context(handle);
    }
}
