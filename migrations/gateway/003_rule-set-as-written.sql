-- Up Migration

-- Keep each rule set exactly as written (key order included): jsonb sorts keys, which makes
-- an exported version read differently from the files it came from.
ALTER TABLE rule_versions ALTER COLUMN rule_set TYPE json USING rule_set::json;

-- Down Migration
ALTER TABLE rule_versions ALTER COLUMN rule_set TYPE jsonb USING rule_set::jsonb;
