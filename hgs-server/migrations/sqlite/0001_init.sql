-- Registrations (JSON bodies of the hgs-policy types, keyed by name), challenges, last verdicts,
-- and the server's token signing key.
CREATE TABLE hosts (
    name TEXT PRIMARY KEY NOT NULL,
    ek_fingerprint TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE baselines (name TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL);
CREATE TABLE ci_policies (name TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL);
-- One row per Hgs_* policy whose state an administrator set; absent rows take the default.
CREATE TABLE policy_states (policy TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL);
-- consumed_at is set exactly once, by the UPDATE ... WHERE consumed_at IS NULL RETURNING that
-- hands the challenge to one attestation.
CREATE TABLE challenges (
    id TEXT PRIMARY KEY NOT NULL,
    host TEXT NOT NULL,
    body TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX challenges_expires_at ON challenges (expires_at);
CREATE TABLE verdicts (
    host TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    token_expires_at BIGINT
);
CREATE TABLE server_keys (name TEXT PRIMARY KEY NOT NULL, secret TEXT NOT NULL);
