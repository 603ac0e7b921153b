-- Up Migration

-- In the legacy database, written by the Ficus legacy writer (write-back) in the same
-- transaction as the legacy rows it changes: per service, topic and key, the outbox position of
-- the last change applied. A change at or before it is a redelivery and changes nothing, so a
-- job applied twice (at-least-once queues, a crash between commit and acknowledgement) cannot
-- overwrite a later edit made on the legacy screens. Not in the CDC publication: never captured.
CREATE TABLE ficus_writeback_positions (
  service     TEXT NOT NULL,
  topic       TEXT NOT NULL,
  key         TEXT NOT NULL,
  position    TEXT COLLATE "C" NOT NULL,
  applied_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (service, topic, key)
);

-- Down Migration
DROP TABLE ficus_writeback_positions;
