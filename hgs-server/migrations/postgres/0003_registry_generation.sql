-- A counter bumped in the same transaction as every write to baselines, CI policies and policy
-- states: a server caches those (parsed) per generation and re-reads them only when it moves,
-- whichever replica wrote.
CREATE TABLE registry_generation (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO registry_generation (id, generation) VALUES (1, 0);
