-- Up Migration

-- patient-service's own database: demographics, identifiers, wards, encounters with their
-- transfers, merges, and the MRNs it hands out. Names and codes use the "C" collation, so
-- sorting is byte order, as the legacy contract sorts. Timestamps are TIMESTAMP(0), local
-- hospital time (the database's TimeZone must be the hospital's, as the legacy's is).
--
-- Every row fed by more than one channel carries the conflict rule's bookkeeping:
--   committed_position  CDC source position of the legacy state last applied
--   committed_at        the legacy's lastUpdated of that state
--   committed_source_at when the legacy committed it (the change's source commit time)
--   hl7_time, hl7_seq   MSH-7 (local) and receive order of the last HL7 message applied
--   local_changed_at    last change made here while the service is the system of record

CREATE TABLE ward (
  code                VARCHAR(20) COLLATE "C" PRIMARY KEY,
  description         TEXT NOT NULL,
  committed_position  TEXT COLLATE "C"
);

-- where HL7 puts a stay whose point of care is no ward (the legacy has the same code)
INSERT INTO ward (code, description) VALUES ('UNK', 'UNKNOWN WARD (HL7 INBOUND)');

-- a sending system's point-of-care code (upper case) to a ward; a code that is a ward needs none
CREATE TABLE ward_alias (
  point_of_care  VARCHAR(40) COLLATE "C" PRIMARY KEY,
  ward_code      VARCHAR(20) COLLATE "C" NOT NULL REFERENCES ward (code)
);

CREATE TABLE patient (
  mrn                 VARCHAR(10) COLLATE "C" PRIMARY KEY,
  family_name         TEXT COLLATE "C" NOT NULL,
  given_name          TEXT COLLATE "C" NOT NULL,
  middle_name         TEXT COLLATE "C",
  birth_date          DATE NOT NULL,
  -- administrative sex: M, F, U (HL7 table 0001 as the hospital keeps it)
  sex                 CHAR(1) NOT NULL CHECK (sex IN ('M', 'F', 'U')),
  address_line        TEXT,
  city                TEXT,
  state               TEXT,
  postal_code         TEXT,
  phone               TEXT,
  -- S single, M married, D divorced, W widowed, A separated, U unknown
  marital_status      CHAR(1) CHECK (marital_status IN ('S', 'M', 'D', 'W', 'A', 'U')),
  active              BOOLEAN NOT NULL DEFAULT true,
  created_at          TIMESTAMP(0) NOT NULL DEFAULT LOCALTIMESTAMP(0),
  updated_at          TIMESTAMP(0) NOT NULL DEFAULT LOCALTIMESTAMP(0),
  updated_by          TEXT NOT NULL,
  committed_position  TEXT COLLATE "C",
  committed_at        TIMESTAMP(0),
  committed_source_at TIMESTAMPTZ,
  hl7_time            TIMESTAMP(0),
  hl7_seq             BIGINT,
  local_changed_at    TIMESTAMPTZ
);

-- the patient list's order and its prefix searches (LIKE 'ABC%' in the "C" collation)
CREATE INDEX patient_name_ix ON patient (family_name, given_name, mrn);
CREATE INDEX patient_birth_ix ON patient (birth_date);

-- identifiers other than the MRN (PID-3 repetitions: other facilities' MRNs, insurance ids…)
CREATE TABLE patient_identifier (
  mrn        VARCHAR(10) COLLATE "C" NOT NULL REFERENCES patient (mrn) ON DELETE CASCADE ON UPDATE CASCADE,
  -- PID-3.4, the assigning authority (namespace id), '' when none
  authority  TEXT NOT NULL DEFAULT '',
  -- PID-3.5, the identifier type (MR, PI, SS, …), '' when none
  type_code  TEXT NOT NULL DEFAULT '',
  value      TEXT NOT NULL,
  PRIMARY KEY (mrn, authority, type_code, value)
);
CREATE INDEX patient_identifier_value_ix ON patient_identifier (value);

-- Ids the service assigns itself (a stay it learns from HL7 before the legacy's CDC, or
-- creates as system of record) start far above the legacy's identity columns.
CREATE SEQUENCE encounter_id_seq START WITH 1000000000;

CREATE TABLE encounter (
  -- the legacy's ADM_ID once known (CDC), else a service id (provisional while the legacy is the system of record)
  id                     BIGINT PRIMARY KEY,
  provisional            BOOLEAN NOT NULL DEFAULT false,
  mrn                    VARCHAR(10) COLLATE "C" NOT NULL,
  -- E emergency, I inpatient, O outpatient, D day case
  encounter_class        CHAR(1) NOT NULL CHECK (encounter_class IN ('E', 'I', 'O', 'D')),
  ward_code              VARCHAR(20) COLLATE "C" NOT NULL,
  bed                    TEXT,
  attending_doctor_id    TEXT,
  admitted_at            TIMESTAMP(0) NOT NULL,
  discharged_at          TIMESTAMP(0),
  discharge_disposition  TEXT,
  visit_number           VARCHAR(20) COLLATE "C",
  updated_at             TIMESTAMP(0) NOT NULL DEFAULT LOCALTIMESTAMP(0),
  committed_position     TEXT COLLATE "C",
  committed_at           TIMESTAMP(0),
  committed_source_at    TIMESTAMPTZ,
  hl7_time               TIMESTAMP(0),
  hl7_seq                BIGINT,
  local_changed_at       TIMESTAMPTZ
);

CREATE INDEX encounter_patient_ix ON encounter (mrn, admitted_at DESC, id DESC);
CREATE UNIQUE INDEX encounter_visit_number_uk ON encounter (visit_number) WHERE visit_number IS NOT NULL;

-- every move of a stay (HL7 A02, a PV1 of another event, a legacy screen seen through CDC):
-- the legacy keeps only the current ward and bed, the service keeps the way there
CREATE TABLE encounter_transfer (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  encounter_id    BIGINT NOT NULL REFERENCES encounter (id) ON DELETE CASCADE ON UPDATE CASCADE,
  from_ward_code  VARCHAR(20) COLLATE "C",
  from_bed        TEXT,
  to_ward_code    VARCHAR(20) COLLATE "C" NOT NULL,
  to_bed          TEXT,
  transferred_at  TIMESTAMP(0) NOT NULL,
  -- hl7:ADT^A02, hl7:ADT^A08, cdc
  source          TEXT NOT NULL
);
CREATE INDEX encounter_transfer_encounter_ix ON encounter_transfer (encounter_id, transferred_at);

CREATE SEQUENCE patient_merge_id_seq START WITH 1000000000;

-- one row per merge (ADT^A40): the merged-away record stays, inactive, and later references
-- to its MRN mean the survivor
CREATE TABLE patient_merge (
  id                  BIGINT PRIMARY KEY,
  provisional         BOOLEAN NOT NULL DEFAULT false,
  survivor_mrn        VARCHAR(10) COLLATE "C" NOT NULL,
  merged_mrn          VARCHAR(10) COLLATE "C" NOT NULL,
  encounter_count     INTEGER NOT NULL,
  result_count        INTEGER,
  sending_facility    TEXT COLLATE "C",
  control_id          TEXT COLLATE "C",
  merged_at           TIMESTAMP(0) NOT NULL DEFAULT LOCALTIMESTAMP(0),
  committed_position  TEXT COLLATE "C",
  CONSTRAINT patient_merge_two_patients_ck CHECK (survivor_mrn <> merged_mrn)
);
CREATE INDEX patient_merge_merged_ix ON patient_merge (merged_mrn, merged_at DESC, id DESC);
CREATE INDEX patient_merge_message_ix ON patient_merge (sending_facility, control_id);

-- MRN assignment (POST /api/patients as system of record): from a block of its own, never
-- below the highest MRN of the block the service has seen (its own, HL7's, the legacy's)
CREATE TABLE mrn_block (
  singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
  next_mrn   BIGINT NOT NULL
);

-- Down Migration
DROP TABLE mrn_block;
DROP TABLE patient_merge;
DROP SEQUENCE patient_merge_id_seq;
DROP TABLE encounter_transfer;
DROP TABLE encounter;
DROP SEQUENCE encounter_id_seq;
DROP TABLE patient_identifier;
DROP TABLE patient;
DROP TABLE ward_alias;
DROP TABLE ward;
