-- Up Migration

-- The fields the latest local change of a result made (an ORU the legacy did not get, so the
-- fields its write-back writes), beside local_changed_fields (all the local changes the legacy
-- has not been seen to hold), as patient-service/003. While the legacy holds the record, the
-- legacy's copy of a write-back (its echo through CDC) that holds these fields as the service
-- does is the copy of the latest write-back, and ends the pending state; an echo that does not
-- is of an older write-back, and must not put back the value and status an ORU changed since
-- (cdc/writeback-echoes.ts). NULL (results changed before this version, or only created): the
-- pending fields stand for them.
ALTER TABLE lab_result ADD COLUMN local_last_fields TEXT[];

-- Down Migration
ALTER TABLE lab_result DROP COLUMN local_last_fields;
