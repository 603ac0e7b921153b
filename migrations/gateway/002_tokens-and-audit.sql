-- Up Migration

-- Bearer tokens of the admin API. Only a scrypt hash of each token is kept; `lookup` (the
-- first 16 hex digits of the token's SHA-256) finds the row without revealing the token.
CREATE TABLE api_tokens (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  lookup        TEXT NOT NULL UNIQUE,
  hash          TEXT NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  created_by    TEXT NOT NULL,
  revoked_at    TIMESTAMPTZ,
  revoked_by    TEXT,
  last_used_at  TIMESTAMPTZ
);

-- Every write to the control plane, refused ones included: who, when, what, why, from where.
CREATE TABLE audit_log (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  actor       TEXT NOT NULL,
  role        TEXT,
  auth        TEXT NOT NULL,
  source_ip   TEXT,
  user_agent  TEXT,
  action      TEXT NOT NULL,
  target      TEXT,
  reason      TEXT,
  outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'denied', 'conflict', 'error')),
  status      INTEGER NOT NULL,
  version     BIGINT,
  detail      JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Down Migration
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE api_tokens;
