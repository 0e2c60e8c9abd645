//! Baseline capture (`hgs baseline capture`, the counterpart of
//! `Get-HgsAttestationBaselinePolicy`): a host's own TCG log becomes a TPM baseline only when the
//! host is configured as HGS requires — Secure Boot on, an IOMMU required, VBS running, a CI
//! policy applied. The check is the library's (`hgs_policy::validate_reference`) on the
//! strict reading attestation uses (`hgs_tcglog::ReferenceLog`); the captured bytes are the log's,
//! unchanged, whatever the check says.

/// Why a log cannot be read as a reference log at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The log is empty.
    #[error("the TCG log is empty")]
    Empty,
    /// The log does not parse, or reads with anomalies a reference log must not have.
    #[error(transparent)]
    Log(#[from] hgs_tcglog::Error),
}

/// What makes `log` unfit as an HGS TPM baseline, one typed problem each (empty = fit).
pub fn validate_capture(
    log: &[u8],
) -> Result<Vec<hgs_attest::policy::CaptureProblem>, CaptureError> {
    if log.is_empty() {
        return Err(CaptureError::Empty);
    }
    let reference = hgs_tcglog::EventLog::parse(log).and_then(hgs_tcglog::ReferenceLog::new)?;
    let claims = hgs_tcglog::BootClaims::from_reference(&reference);
    Ok(hgs_attest::policy::validate_reference(&claims))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_empty_log_is_refused_before_parsing() {
        assert!(matches!(validate_capture(&[]), Err(CaptureError::Empty)));
    }

    #[test]
    fn garbage_is_a_log_error_not_a_panic() {
        assert!(matches!(
            validate_capture(&[0xff; 64]),
            Err(CaptureError::Log(_))
        ));
    }
}
