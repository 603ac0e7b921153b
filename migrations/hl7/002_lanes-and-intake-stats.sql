-- Up Migration

-- A delivery round reads every lane (target, partition) from its own oldest pending delivery,
-- so that a lane held by a retry never hides the work of the others however long it waits.
CREATE INDEX hl7_deliveries_lane ON hl7_deliveries (target, partition, id) WHERE status = 'pending';
DROP INDEX hl7_deliveries_pending;

-- deliveries made since a time, per target (GET /api/hl7/stats)
CREATE INDEX hl7_deliveries_delivered ON hl7_deliveries (delivered_at, target) WHERE status = 'delivered';

-- What the listener answered, counted per minute: every ACK sent (commit, original and
-- application ACKs; resends and refusals included) and every message refused, whether or not
-- an ACK was due. Refused frames are kept in hl7_rejects only at a bounded rate, and a message
-- that could not be stored is nowhere else, so the counts live here. Added to by each adapter
-- instance every few seconds; no patient data.
CREATE TABLE hl7_intake_stats (
  minute    TIMESTAMPTZ NOT NULL,
  -- the ACK code sent, or '' when the message's MSH-15/MSH-16 asked for none
  ack_code  TEXT NOT NULL,
  -- accepted, duplicate, rejected, store-error, application
  outcome   TEXT NOT NULL,
  count     BIGINT NOT NULL,
  PRIMARY KEY (minute, ack_code, outcome)
);

-- Down Migration
DROP TABLE hl7_intake_stats;
DROP INDEX hl7_deliveries_delivered;
CREATE INDEX hl7_deliveries_pending ON hl7_deliveries (target, id) WHERE status = 'pending';
DROP INDEX hl7_deliveries_lane;
