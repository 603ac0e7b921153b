-- Up Migration

-- A merge (a message with MRG) travels in its survivor's lane, but must not reach a target
-- before the earlier messages of the patient it merges away, which travel in that patient's
-- lane: after_partition names that lane, and the dispatcher holds the merge until nothing older
-- is pending there. NULL: no other lane to wait for.
ALTER TABLE hl7_deliveries ADD COLUMN after_partition INTEGER;

-- Down Migration
ALTER TABLE hl7_deliveries DROP COLUMN after_partition;
