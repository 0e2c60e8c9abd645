-- The key protection service. Values and private keys are sealed (AES-256-GCM under the master
-- key, keys/master.rs): no column holds a secret in plaintext.
CREATE TABLE kps_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    -- hgs_kps::ReleasePolicy as JSON; bound into the seal of the value.
    policy TEXT NOT NULL,
    value_len BIGINT NOT NULL,
    sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The service's guardians: the certificate (PEM, public) and the PKCS#8 private key, sealed.
CREATE TABLE kps_guardians (
    name TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    certificate TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- deny-issued-before, key-protector-policy.
CREATE TABLE kps_settings (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
-- Every release and refusal; bounded by age and count (api/keys.rs purges).
CREATE TABLE kps_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    host TEXT,
    kind TEXT NOT NULL,
    object TEXT NOT NULL,
    token_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX kps_audit_at ON kps_audit (at);
