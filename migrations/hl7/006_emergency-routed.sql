-- Up Migration

-- A message routed by the emergency override file (break glass: its rule held in legacy whatever
-- the rule store served): its mode is what it went by (legacy), this says why. A constant
-- default: no table rewrite.
ALTER TABLE hl7_messages ADD COLUMN emergency BOOLEAN NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE hl7_messages DROP COLUMN emergency;
