-- Up Migration

-- Which fields of a patient the service changed itself (API writes while it is the system of
-- record) that the legacy has not yet been seen to hold, so that a legacy change arriving
-- through CDC is merged field by field (service-kit's cdc/field-merge.ts) instead of replacing
-- the whole row. local_fields_at is the local_changed_at those fields belong to: a later local
-- change that does not say which fields it made (an HL7 message) leaves them unknown, and the
-- row falls back to the whole-row rule by commit time.
ALTER TABLE patient ADD COLUMN local_changed_fields TEXT[];
ALTER TABLE patient ADD COLUMN local_fields_at TIMESTAMPTZ;

-- Down Migration
ALTER TABLE patient DROP COLUMN local_fields_at;
ALTER TABLE patient DROP COLUMN local_changed_fields;
