-- Up Migration

-- Which records (patients) were compared, so the flip gate can ask for breadth as well as
-- volume: reading one good patient 450 times must not outweigh one patient who differs. One row
-- per rule, target and key, whatever the traffic: the minute the key was last compared against
-- that target and the last minute it differed. A window's distinct keys are those compared in
-- it, its mismatched keys those that differed in it; instances merge by GREATEST, so their
-- flushes add up in any order. Rows not compared for the kept 7 days are pruned.
--
-- `key` is 64 bits of an HMAC-SHA-256 under the secret below, never the key itself (an MRN).
CREATE TABLE parity_keys (
  rule           TEXT NOT NULL,
  target         TEXT NOT NULL,
  key            BIGINT NOT NULL,
  last_compared  TIMESTAMPTZ NOT NULL,
  last_mismatch  TIMESTAMPTZ,
  PRIMARY KEY (rule, target, key)
);
CREATE INDEX parity_keys_recent ON parity_keys (rule, last_compared);
CREATE INDEX parity_keys_prune ON parity_keys (last_compared);

-- Drawn once, shared by every instance (they must hash a key alike): an MRN has too few values
-- for a plain hash to hide it.
CREATE TABLE parity_key_secret (
  id      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
  secret  TEXT NOT NULL
);
INSERT INTO parity_key_secret (secret) VALUES (gen_random_uuid()::text || gen_random_uuid()::text);

-- Down Migration
DROP TABLE parity_key_secret;
DROP TABLE parity_keys;
