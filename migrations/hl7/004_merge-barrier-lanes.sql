-- Up Migration

-- A merge may name several patients in other lanes: an A40 with several PID/MRG pairs merges
-- several records at once, each merged-away patient (MRG-1) and each further survivor (PID-3)
-- with its own lane. after_partitions names all of them; the dispatcher holds the merge until
-- nothing older is pending in any. after_partition (the first) stays, for a rollback of the
-- adapter to a version that reads it.
ALTER TABLE hl7_deliveries ADD COLUMN after_partitions INTEGER[];
UPDATE hl7_deliveries SET after_partitions = ARRAY[after_partition] WHERE after_partition IS NOT NULL AND status = 'pending';

-- Down Migration
ALTER TABLE hl7_deliveries DROP COLUMN after_partitions;
