-- Up Migration

-- Per service, topic and key, what the legacy writer last wrote to each field of the row (topic
-- field names, envelope values). A write-back whose before image leaves a field out (the
-- service still waits to see an earlier write-back of it land, which may never have) writes the
-- field only where the legacy still holds what the writer last wrote there, or the writer never
-- wrote it: a legacy screen's edit made since stays. Rows claimed before this migration keep
-- NULL (nothing known: such a field is left as it is, as before) until their next write-back;
-- from then on a field the writer wrote only before the migration counts as never written.
-- New rows start empty.
ALTER TABLE ficus_writeback_positions ADD COLUMN written JSONB;
ALTER TABLE ficus_writeback_positions ALTER COLUMN written SET DEFAULT '{}';

-- Down Migration
ALTER TABLE ficus_writeback_positions DROP COLUMN written;
