-- Up Migration

-- Every change of the routing rules is a new, immutable version: the whole rule set as it
-- stands after the change, who made it, when, why, and what the change was. The current
-- rules are the highest version. A rollback is a new version whose rules equal an older one.
CREATE TABLE rule_versions (
  version      BIGINT PRIMARY KEY CHECK (version > 0),
  rule_set     JSONB NOT NULL,
  author       TEXT NOT NULL,
  reason       TEXT NOT NULL CHECK (length(reason) > 0),
  change       JSONB NOT NULL,
  created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Versions are never updated or deleted: history is evidence.
CREATE FUNCTION rule_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rule versions are immutable (% of version %)', TG_OP, OLD.version;
END;
$$;
CREATE TRIGGER rule_versions_no_update BEFORE UPDATE OR DELETE ON rule_versions
  FOR EACH ROW EXECUTE FUNCTION rule_versions_immutable();

-- Down Migration
DROP TABLE rule_versions;
DROP FUNCTION rule_versions_immutable();
