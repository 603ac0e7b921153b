-- Up Migration

-- The CDC deployable's own state (database ficus_cdc unless CDC_STATE_DATABASE_URL says
-- otherwise): per configured source, where its snapshot stands, so that a crash during the
-- snapshot restarts it instead of skipping it, and (SQL Server) the last LSN whose changes are
-- enqueued. PostgreSQL sources keep their stream position in the replication slot itself.
CREATE TABLE cdc_sources (
  name                 TEXT PRIMARY KEY,
  kind                 TEXT NOT NULL CHECK (kind IN ('postgres', 'mssql')),
  slot                 TEXT,
  -- pending: no snapshot yet (or one was interrupted: it is taken again); done: taken and
  -- enqueued in full; skipped: CDC_SNAPSHOT=false, the stream starts at the slot's creation
  snapshot_state       TEXT NOT NULL DEFAULT 'pending' CHECK (snapshot_state IN ('pending', 'done', 'skipped')),
  snapshot_position    TEXT,
  snapshot_rows        BIGINT,
  snapshot_started_at  TIMESTAMPTZ,
  snapshot_done_at     TIMESTAMPTZ,
  position             TEXT COLLATE "C",
  updated_at           TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Down Migration
DROP TABLE cdc_sources;
