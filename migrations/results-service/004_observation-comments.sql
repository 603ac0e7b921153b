-- Up Migration

-- The laboratory's comments on a result: the NTE segments after its OBX ("Corrected: decimal
-- place error", "Specimen slightly hemolysed & lipemic"), one element per NTE, as a reader
-- sees them (FT line breaks as newlines). The legacy keeps no comments (LAB_RESULT has no such
-- column, its API no such field), so they are the service's own: served in FHIR
-- Observation.note, never written back, and left alone by the legacy's changes through CDC.
-- A version keeps the comments it had.
ALTER TABLE lab_result ADD COLUMN comments TEXT[];
ALTER TABLE lab_result_version ADD COLUMN comments TEXT[];

-- Down Migration
ALTER TABLE lab_result_version DROP COLUMN comments;
ALTER TABLE lab_result DROP COLUMN comments;
