-- Up Migration

-- The tables every extracted service keeps beside its own (run by migrateServiceKit, with its
-- own history table, in the service's database).

-- One row per HL7 message applied (or found stale), written in the same transaction as its
-- effect: a job delivered again finds its row and changes nothing. Refused messages leave no
-- row (nothing of them was applied); they are dead letters of the queue.
CREATE TABLE ficus_hl7_applied (
  sending_facility  TEXT COLLATE "C" NOT NULL,
  control_id        TEXT COLLATE "C" NOT NULL,
  message_type      TEXT NOT NULL,
  trigger_event     TEXT NOT NULL,
  -- the HL7 adapter's message id (its receive order)
  message_id        BIGINT NOT NULL,
  -- applied, or stale: older than the rows it names, so not applied (see the conflict rule)
  outcome           TEXT NOT NULL DEFAULT 'applied' CHECK (outcome IN ('applied', 'stale')),
  applied_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (sending_facility, control_id)
);

-- CDC changes not applied because the service, as system of record, changed the row later:
-- kept whole for review (this is the service's own database, where patient data lives anyway).
CREATE TABLE ficus_change_conflicts (
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recorded_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  topic        TEXT NOT NULL,
  key          TEXT NOT NULL,
  source       TEXT NOT NULL,
  position     TEXT COLLATE "C" NOT NULL,
  commit_time  TIMESTAMPTZ,
  op           TEXT NOT NULL,
  change       JSONB NOT NULL,
  reason       TEXT NOT NULL,
  resolved_at  TIMESTAMPTZ
);

CREATE INDEX ficus_change_conflicts_open_ix ON ficus_change_conflicts (recorded_at) WHERE resolved_at IS NULL;

-- Down Migration
DROP TABLE ficus_change_conflicts;
DROP TABLE ficus_hl7_applied;
