-- Up Migration

-- Where each row of each topic stands: the source position of the last change applied to it.
-- A consumer applies a change only when it is later than this (older or equal ones are
-- duplicates, from an at-least-once queue or a re-read after a crash, and are skipped). Kept
-- for deleted rows too, so that a late, older change cannot bring a deleted row back.
-- Positions are fixed-width hexadecimal text of one source: "C" collation, byte order.
CREATE TABLE ficus_change_positions (
  topic       TEXT NOT NULL,
  key         TEXT NOT NULL,
  source      TEXT NOT NULL,
  position    TEXT COLLATE "C" NOT NULL,
  deleted     BOOLEAN NOT NULL DEFAULT false,
  applied_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (topic, key)
);

-- Down Migration
DROP TABLE ficus_change_positions;
