-- Challenges are numbered per host, so that issuing one voids the host's oldest beyond a fixed
-- number (store::MAX_CHALLENGES_PER_HOST): the table is bounded by the fleet, not by requests.
ALTER TABLE challenges ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX challenges_host_seq ON challenges (host, seq);
