-- Up Migration

-- A conflict reviewed by an operator (ficus conflicts resolve): who marked it and why, beside
-- resolved_at (there since 001, never set before). The row stays: the change and the review are
-- the record of what the legacy system had and what became of it.
ALTER TABLE ficus_change_conflicts ADD COLUMN resolved_by TEXT, ADD COLUMN resolution_note TEXT;

-- The review list, newest first, one topic at a time, among those not resolved yet.
CREATE INDEX ficus_change_conflicts_open_topic_ix ON ficus_change_conflicts (topic, id) WHERE resolved_at IS NULL;

-- Down Migration
DROP INDEX ficus_change_conflicts_open_topic_ix;
ALTER TABLE ficus_change_conflicts DROP COLUMN resolution_note, DROP COLUMN resolved_by;
