-- Up Migration

-- Change-data capture (Ficus CDC, logical replication with pgoutput) reads these tables. With
-- REPLICA IDENTITY FULL every update and delete carries the whole old row, so change events
-- have a complete "before" and the topic's key even where it is not the primary key
-- (PATIENT_MASTER is keyed by PAT_MRN in the topics, by PAT_ID here), and an unchanged large
-- value of an update can be filled from the old row. The publication and the replication slot
-- belong to the CDC reader, which creates them from its mapping.
ALTER TABLE PATIENT_MASTER REPLICA IDENTITY FULL;
ALTER TABLE WARD REPLICA IDENTITY FULL;
ALTER TABLE ADMISSION REPLICA IDENTITY FULL;
ALTER TABLE LAB_RESULT REPLICA IDENTITY FULL;
ALTER TABLE PATIENT_MERGE REPLICA IDENTITY FULL;

-- Down Migration
ALTER TABLE PATIENT_MERGE REPLICA IDENTITY DEFAULT;
ALTER TABLE LAB_RESULT REPLICA IDENTITY DEFAULT;
ALTER TABLE ADMISSION REPLICA IDENTITY DEFAULT;
ALTER TABLE WARD REPLICA IDENTITY DEFAULT;
ALTER TABLE PATIENT_MASTER REPLICA IDENTITY DEFAULT;
