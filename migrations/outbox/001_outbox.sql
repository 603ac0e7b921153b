-- Up Migration

-- The transactional outbox of a new service: the service writes its change events here in the
-- same transaction as its own rows (writeOutboxEvent of @ficus/contracts/queues), and the
-- outbox relay publishes them, in id order, to the write-back queues (writeback.<service>.p<n>)
-- and marks them published. At-least-once: a crash between the enqueue and the mark publishes
-- a row again, which the legacy writer recognises by its position (the id) and skips.
CREATE TABLE ficus_outbox (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic         TEXT NOT NULL,
  op            TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete')),
  key           JSONB NOT NULL,
  before        JSONB,
  after         JSONB,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  published_at  TIMESTAMPTZ,
  CONSTRAINT ficus_outbox_row_ck CHECK ((op = 'delete') = (after IS NULL))
);

-- the relay reads the unpublished rows, oldest first
CREATE INDEX ficus_outbox_unpublished_ix ON ficus_outbox (id) WHERE published_at IS NULL;

-- Down Migration
DROP TABLE ficus_outbox;
