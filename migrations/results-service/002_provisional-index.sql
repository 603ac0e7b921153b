-- Up Migration

-- The look at provisional results (RESULTS_SERVICE_PROVISIONAL_CHECK_MS) every few seconds finds
-- them by this: a handful of rows at any time, among all the results.
CREATE INDEX lab_result_provisional_ix ON lab_result (updated_at, mrn) WHERE provisional;

-- Down Migration
DROP INDEX lab_result_provisional_ix;
