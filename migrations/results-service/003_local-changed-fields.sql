-- Up Migration

-- Which fields of a result the service changed itself (an ORU the legacy did not get, written
-- back) that the legacy has not yet been seen to hold, so that a legacy change arriving through
-- CDC is merged field by field (service-kit's cdc/field-merge.ts) instead of replacing the whole
-- row: the ORU's value, status and flag would vanish from results-service until the write-back
-- came back. As patient-service/002: local_fields_at is the local_changed_at those fields belong
-- to; a later local change that does not say which fields it made leaves them unknown, and the
-- row falls back to the whole-row rule by commit time.
ALTER TABLE lab_result ADD COLUMN local_changed_fields TEXT[];
ALTER TABLE lab_result ADD COLUMN local_fields_at TIMESTAMPTZ;

-- Down Migration
ALTER TABLE lab_result DROP COLUMN local_fields_at;
ALTER TABLE lab_result DROP COLUMN local_changed_fields;
