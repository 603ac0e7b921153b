-- Up Migration

-- The dispatcher reads the pending deliveries of messages of several patients (a merge, a
-- multi-patient ORU: after_partitions), whose lanes wait with them. Without this index the read
-- visits every pending delivery of the target, which costs with a backlog (130 ms for 200,000
-- pending, read again whenever a round reaches deliveries newer than the last read).
CREATE INDEX hl7_deliveries_multi_lane ON hl7_deliveries (target, id) WHERE status = 'pending' AND after_partitions IS NOT NULL;

-- Down Migration
DROP INDEX hl7_deliveries_multi_lane;
