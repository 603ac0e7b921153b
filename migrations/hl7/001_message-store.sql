-- Up Migration

-- Every HL7 message the adapter accepted, as received (the frame's bytes), with the header
-- fields it is routed, ordered and found by. A message is accepted once per (sending
-- facility, control id): a resend is recognised and answered, never processed again.
CREATE TABLE hl7_messages (
  id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at           TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  sending_application   TEXT NOT NULL,
  sending_facility      TEXT NOT NULL,
  receiving_application TEXT NOT NULL,
  receiving_facility    TEXT NOT NULL,
  control_id            TEXT NOT NULL,
  message_type          TEXT NOT NULL,
  trigger_event         TEXT NOT NULL,
  version               TEXT NOT NULL,
  processing_id         TEXT NOT NULL,
  accept_ack_type       TEXT NOT NULL,
  application_ack_type  TEXT NOT NULL,
  -- PID-3 (id and assigning authority): the key that keeps one patient's messages in order
  patient_key           TEXT,
  charset               TEXT NOT NULL,
  raw                   BYTEA NOT NULL,
  peer                  TEXT,
  rule_id               TEXT NOT NULL,
  mode                  TEXT NOT NULL,
  ack_code              TEXT NOT NULL,
  CONSTRAINT hl7_messages_once UNIQUE (sending_facility, control_id)
);
CREATE INDEX hl7_messages_received ON hl7_messages (received_at);
CREATE INDEX hl7_messages_type ON hl7_messages (message_type, trigger_event, received_at);

-- What each message still has to reach: the legacy inbound, a new service's queue. Written in
-- the transaction that stores the message, so nothing accepted is forgotten; delivered in id
-- order within a partition (a hash of the patient key), so one patient's messages keep their order.
CREATE TABLE hl7_deliveries (
  id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id       BIGINT NOT NULL REFERENCES hl7_messages (id),
  target           TEXT NOT NULL,
  partition        INTEGER NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  delivered_at     TIMESTAMPTZ,
  answer           TEXT,
  replay_reason    TEXT,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX hl7_deliveries_pending ON hl7_deliveries (target, id) WHERE status = 'pending';
CREATE INDEX hl7_deliveries_message ON hl7_deliveries (message_id);
CREATE INDEX hl7_deliveries_dead ON hl7_deliveries (target, id) WHERE status = 'dead';

-- Frames that were not HL7 the adapter could accept (answered AR/CR), kept for diagnosis.
CREATE TABLE hl7_rejects (
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  peer         TEXT,
  error_code   INTEGER NOT NULL,
  error_text   TEXT NOT NULL,
  control_id   TEXT,
  raw          BYTEA NOT NULL
);
CREATE INDEX hl7_rejects_received ON hl7_rejects (received_at);

-- Down Migration
DROP TABLE hl7_rejects;
DROP TABLE hl7_deliveries;
DROP TABLE hl7_messages;
