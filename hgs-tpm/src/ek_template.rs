//! The TCG EK Credential Profile's default EK templates (L-1: RSA 2048, L-2: ECC P-256), what
//! `tpm2_createek` and Windows create by default. An SPKI carries only an EK's key; these rebuild
//! its TPM2B_PUBLIC (and so its name, which TPM2_MakeCredential binds to) from that key.

use crate::alg::{
    TPM_ALG_AES, TPM_ALG_CFB, TPM_ALG_ECC, TPM_ALG_NULL, TPM_ALG_RSA, TPM_ALG_SHA256,
};
use crate::public::{EccCurve, ObjectAttributes, Parameters, Public, Scheme, SymDef, Unique};

/// The default EK authPolicy, PolicySecret(TPM_RH_ENDORSEMENT), shared by templates L-1 and L-2.
pub const EK_AUTH_POLICY: [u8; 32] = [
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
];

/// The default EK attributes: fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy |
/// restricted | decrypt.
pub const EK_ATTRIBUTES: ObjectAttributes = ObjectAttributes(
    ObjectAttributes::FIXED_TPM
        | ObjectAttributes::FIXED_PARENT
        | ObjectAttributes::SENSITIVE_DATA_ORIGIN
        | ObjectAttributes::ADMIN_WITH_POLICY
        | ObjectAttributes::RESTRICTED
        | ObjectAttributes::DECRYPT,
);

const NULL_SCHEME: Scheme = Scheme {
    scheme: TPM_ALG_NULL,
    hash: TPM_ALG_NULL,
    extra: 0,
};

const AES_128_CFB: SymDef = SymDef {
    algorithm: TPM_ALG_AES,
    key_bits: 128,
    mode: TPM_ALG_CFB,
};

fn ek_public(object_type: u16, parameters: Parameters, unique: Unique<'_>) -> Vec<u8> {
    Public {
        bytes: &[],
        had_size_prefix: true,
        object_type,
        name_alg: TPM_ALG_SHA256,
        attributes: EK_ATTRIBUTES,
        auth_policy: &EK_AUTH_POLICY,
        parameters,
        unique,
    }
    .encode_tpm2b()
}

/// The TPM2B_PUBLIC of a template L-1 EK (RSA 2048, exponent 65537) with this modulus.
pub fn ek_rsa2048_public(modulus: &[u8]) -> Vec<u8> {
    ek_public(
        TPM_ALG_RSA,
        Parameters::Rsa {
            symmetric: Some(AES_128_CFB),
            scheme: NULL_SCHEME,
            key_bits: 2048,
            exponent: 0,
        },
        Unique::Rsa(modulus),
    )
}

/// The TPM2B_PUBLIC of a template L-2 EK (ECC P-256) with this point.
pub fn ek_p256_public(x: &[u8], y: &[u8]) -> Vec<u8> {
    ek_public(
        TPM_ALG_ECC,
        Parameters::Ecc {
            symmetric: Some(AES_128_CFB),
            scheme: NULL_SCHEME,
            curve: EccCurve::NistP256,
            kdf: NULL_SCHEME,
        },
        Unique::Ecc { x, y },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_back_with_the_ek_attributes_policy_and_key() {
        let modulus = [0xa5u8; 256];
        let rsa = ek_rsa2048_public(&modulus);
        let p = Public::parse(&rsa).unwrap();
        assert_eq!(p.object_type, TPM_ALG_RSA);
        assert_eq!(p.attributes, EK_ATTRIBUTES);
        assert_eq!(EK_ATTRIBUTES.0, 0x0003_00b2);
        assert_eq!(p.auth_policy, EK_AUTH_POLICY);
        assert_eq!(p.unique, Unique::Rsa(&modulus));

        let (x, y) = ([1u8; 32], [2u8; 32]);
        let ecc = ek_p256_public(&x, &y);
        let p = Public::parse(&ecc).unwrap();
        assert_eq!(p.object_type, TPM_ALG_ECC);
        assert_eq!(p.attributes, EK_ATTRIBUTES);
        assert_eq!(p.unique, Unique::Ecc { x: &x, y: &y });
        assert!(matches!(
            p.parameters,
            Parameters::Ecc {
                symmetric: Some(AES_128_CFB),
                curve: EccCurve::NistP256,
                ..
            }
        ));
    }
}
