//! TPM2_ActivateCredential: recover the verifier's secret, proving the AK lives in the same TPM
//! as the EK.

use std::convert::TryFrom;

use tss_esapi::attributes::SessionAttributesBuilder;
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{AuthHandle, KeyHandle, ObjectHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{EncryptedSecret, IdObject, SymmetricDefinition};

use super::{tss_err, Result, Tpm, TpmError};

/// Runs TPM2_ActivateCredential with the AK (`ak`, password session) and the low-range EK (`ek`,
/// policy session satisfied by PolicySecret on the endorsement hierarchy).
///
/// `credential_blob` is the TPM2B_ID_OBJECT contents and `encrypted_secret` the
/// TPM2B_ENCRYPTED_SECRET contents produced by TPM2_MakeCredential (without the 2-byte sizes).
pub fn activate(
    tpm: &mut Tpm,
    ek: KeyHandle,
    ak: KeyHandle,
    credential_blob: &[u8],
    encrypted_secret: &[u8],
) -> Result<Vec<u8>> {
    let id_object =
        IdObject::try_from(credential_blob.to_vec()).map_err(tss_err("credential blob"))?;
    let secret = EncryptedSecret::try_from(encrypted_secret.to_vec())
        .map_err(tss_err("encrypted secret"))?;

    with_ek_policy(tpm, |tpm, session| {
        let digest = tpm
            .context()
            .execute_with_sessions((Some(AuthSession::Password), Some(session), None), |ctx| {
                ctx.activate_credential(ak, ek, id_object, secret)
            })
            .map_err(tss_err("TPM2_ActivateCredential"))?;
        Ok(digest.value().to_vec())
    })
}

/// Runs `f` with a policy session satisfying the low-range EK's authPolicy
/// (PolicySecret(TPM_RH_ENDORSEMENT)), as TPM2_Create and TPM2_Load under the EK need; flushes
/// the session after.
pub(super) fn with_ek_policy<T>(
    tpm: &mut Tpm,
    f: impl FnOnce(&mut Tpm, AuthSession) -> Result<T>,
) -> Result<T> {
    let session = tpm
        .context()
        .start_auth_session(
            None,
            None,
            None,
            SessionType::Policy,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(tss_err("TPM2_StartAuthSession (policy)"))?
        .ok_or_else(|| TpmError::Unexpected {
            op: "TPM2_StartAuthSession (policy)".into(),
            message: "no session returned".into(),
        })?;
    let result = (|| {
        let (attrs, mask) = SessionAttributesBuilder::new()
            .with_decrypt(true)
            .with_encrypt(true)
            .build();
        tpm.context()
            .tr_sess_set_attributes(session, attrs, mask)
            .map_err(tss_err("TR_SetAttributes"))?;
        let policy = PolicySession::try_from(session).map_err(tss_err("policy session"))?;
        tpm.context()
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.policy_secret(
                    policy,
                    AuthHandle::Endorsement,
                    Default::default(),
                    Default::default(),
                    Default::default(),
                    None,
                )
            })
            .map_err(tss_err("TPM2_PolicySecret (endorsement)"))?;
        f(tpm, session)
    })();
    tpm.flush_quietly(ObjectHandle::from(SessionHandle::from(session)));
    result
}
