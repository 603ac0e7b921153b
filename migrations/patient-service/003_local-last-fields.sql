-- Up Migration

-- The fields the latest local change of a patient made (so the fields its write-back writes),
-- beside local_changed_fields (all the local changes the legacy has not been seen to hold).
-- While the legacy holds the record, the legacy's copy of a write-back (its echo through CDC)
-- that holds these fields as the service does is the copy of the latest write-back, and ends
-- the pending state; an echo that does not is of an older write-back, and must not undo the
-- changes made since (cdc/writeback-echoes.ts). NULL (rows changed before this version): the
-- pending fields stand for them.
ALTER TABLE patient ADD COLUMN local_last_fields TEXT[];

-- Down Migration
ALTER TABLE patient DROP COLUMN local_last_fields;
