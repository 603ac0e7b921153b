-- Up Migration

-- The positions of deleted rows (tombstones) are purged after a retention (purgeTombstones);
-- the live rows' positions are kept for as long as the rows exist.
CREATE INDEX ficus_change_positions_tombstones_ix ON ficus_change_positions (applied_at) WHERE deleted;

-- Down Migration
DROP INDEX ficus_change_positions_tombstones_ix;
