-- Up Migration

-- results-service's own database: laboratory results, one row per observation (the current
-- version), and every version a correction, a final result or a withdrawal replaced. Codes
-- use the "C" collation; timestamps are TIMESTAMP(0), local hospital time (the database's
-- TimeZone must be the hospital's). The conflict rule's bookkeeping columns are those of
-- patient-service (migrations/patient-service/001).

-- Ids the service assigns itself (a result it learns from HL7 before the legacy's CDC, or
-- takes as system of record) start far above the legacy's RESULT_ID.
CREATE SEQUENCE lab_result_id_seq START WITH 1000000000000;

CREATE TABLE lab_result (
  -- the legacy's RESULT_ID once known (CDC), else a service id (provisional while the legacy is the system of record)
  id                   BIGINT PRIMARY KEY,
  provisional          BOOLEAN NOT NULL DEFAULT false,
  mrn                  VARCHAR(10) COLLATE "C" NOT NULL,
  -- the stay (patient-service's encounter id, the legacy's ADM_ID); null for a clinic draw
  encounter_id         BIGINT,
  order_number         TEXT COLLATE "C" NOT NULL,
  test_code            TEXT COLLATE "C" NOT NULL,
  test_name            TEXT NOT NULL,
  -- as the laboratory printed it
  value                TEXT,
  units                TEXT,
  reference_range      TEXT,
  -- H L HH LL (numeric), A N (text), null when normal
  abnormal_flag        TEXT CHECK (abnormal_flag IN ('H', 'L', 'HH', 'LL', 'A', 'N')),
  -- F final, P preliminary, C corrected
  status               CHAR(1) NOT NULL CHECK (status IN ('F', 'P', 'C')),
  collected_at         TIMESTAMP(0) NOT NULL,
  resulted_at          TIMESTAMP(0),
  updated_at           TIMESTAMP(0) NOT NULL DEFAULT LOCALTIMESTAMP(0),
  committed_position   TEXT COLLATE "C",
  committed_at         TIMESTAMP(0),
  committed_source_at  TIMESTAMPTZ,
  hl7_time             TIMESTAMP(0),
  hl7_seq              BIGINT,
  local_changed_at     TIMESTAMPTZ
);

CREATE INDEX lab_result_patient_ix ON lab_result (mrn, collected_at DESC, id DESC);
CREATE INDEX lab_result_order_ix ON lab_result (order_number, test_code);

-- the versions a result had before it was replaced (a correction, the final after a
-- preliminary, a legacy change) or withdrawn (OBX-11 D/W, a delete in the legacy)
CREATE TABLE lab_result_version (
  id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  result_id        BIGINT NOT NULL,
  value            TEXT,
  units            TEXT,
  reference_range  TEXT,
  abnormal_flag    TEXT,
  status           CHAR(1) NOT NULL,
  resulted_at      TIMESTAMP(0),
  updated_at       TIMESTAMP(0) NOT NULL,
  replaced_at      TIMESTAMP(0) NOT NULL DEFAULT LOCALTIMESTAMP(0),
  -- hl7:ORU^R01, cdc, withdrawn
  replaced_by      TEXT NOT NULL
);
CREATE INDEX lab_result_version_result_ix ON lab_result_version (result_id, id);

-- Down Migration
DROP TABLE lab_result_version;
DROP TABLE lab_result;
DROP SEQUENCE lab_result_id_seq;
