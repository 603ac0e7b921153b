-- Up Migration

-- The purge of ficus_hl7_applied (SERVICE_DEDUP_RETENTION_DAYS) finds the old rows by this.
CREATE INDEX ficus_hl7_applied_at_ix ON ficus_hl7_applied (applied_at);

-- Down Migration
DROP INDEX ficus_hl7_applied_at_ix;
