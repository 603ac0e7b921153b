-- Up Migration

-- When the legacy last deleted one of each patient's stays, as its CDC said (the delete's commit
-- time, local). A deleted stay leaves no row to hold its legacy state, and while the legacy holds
-- the record an HL7 copy that names its stay by state, or a stay the service no longer has, is
-- judged against all the patient's stays (hl7/stay-by-state.ts): the legacy's A11 seen first
-- must make the service's copy of that A11 stale, not HL7 204. One row per patient, no purge.
CREATE TABLE legacy_stay_deletes (
  mrn         VARCHAR(10) COLLATE "C" PRIMARY KEY,
  deleted_at  TIMESTAMP(0) NOT NULL
);

-- Down Migration
DROP TABLE legacy_stay_deletes;
