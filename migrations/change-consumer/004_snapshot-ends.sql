-- Up Migration

-- A re-snapshot (CDC_RESNAPSHOT) brings every row a source has at its position P, then a
-- snapshot end on every partition of each topic. Which partitions have reached a topic's end:
-- once all have, every row of the topic from that source whose last change is older than P is
-- one the source no longer has, and the service withdraws it (snapshot-ends.ts).
CREATE TABLE ficus_snapshot_end_partitions (
  topic       TEXT NOT NULL,
  source      TEXT NOT NULL,
  position    TEXT COLLATE "C" NOT NULL,
  partition   INTEGER NOT NULL,
  reached_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (topic, source, position, partition)
);

-- What became of each complete snapshot of a topic: withdrawn (done, counts kept), or held (it
-- would have withdrawn more than SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT of the topic's rows:
-- nothing withdrawn, waiting for a person). Counts only, never keys.
CREATE TABLE ficus_snapshot_ends (
  topic         TEXT NOT NULL,
  source        TEXT NOT NULL,
  position      TEXT COLLATE "C" NOT NULL,
  partitions    INTEGER NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('withdrawn', 'held')),
  -- rows of the topic from the source, not deleted, when the snapshot was complete
  topic_rows    INTEGER NOT NULL,
  -- rows older than the snapshot and not in it: withdrawn, or (held) that would have been
  withdrawn     INTEGER NOT NULL,
  -- rows older than the snapshot kept because a change of the service's own waits to be written back
  kept          INTEGER NOT NULL,
  -- rows older than the snapshot kept because their snapshot event was refused (a dead letter)
  refused       INTEGER NOT NULL DEFAULT 0,
  max_percent   NUMERIC NOT NULL,
  decided_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (topic, source, position)
);
CREATE INDEX ficus_snapshot_ends_held_ix ON ficus_snapshot_ends (topic) WHERE state = 'held';

-- Keys whose snapshot event the service's database refused (dead-lettered): the source has them,
-- so they are never withdrawn for that snapshot, whatever position they hold.
CREATE TABLE ficus_snapshot_refusals (
  topic     TEXT NOT NULL,
  source    TEXT NOT NULL,
  position  TEXT COLLATE "C" NOT NULL,
  key       TEXT NOT NULL,
  PRIMARY KEY (topic, source, position, key)
);

-- Down Migration
DROP TABLE ficus_snapshot_refusals;
DROP TABLE ficus_snapshot_ends;
DROP TABLE ficus_snapshot_end_partitions;
