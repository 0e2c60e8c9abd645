-- Installed TPM vendor roots and intermediates (hgs_policy::store::TrustedCertificate as JSON),
-- keyed by the SHA-256 of their DER.
CREATE TABLE trusted_certificates (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    body TEXT NOT NULL
);
