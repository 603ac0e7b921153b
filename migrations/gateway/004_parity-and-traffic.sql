-- Up Migration

-- Parity between legacy and the new services, counted by every gateway instance (shadowed
-- requests) and by the HL7 adapter (records after a message in mode dual), added up here per
-- rule and minute. Instances flush their counts about every second, so a window is the sum
-- of its minutes across all instances.
CREATE TABLE parity_counts (
  rule        TEXT NOT NULL,
  minute      TIMESTAMPTZ NOT NULL,
  compared    BIGINT NOT NULL DEFAULT 0,
  mismatches  BIGINT NOT NULL DEFAULT 0,
  skipped     BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (rule, minute)
);
CREATE INDEX parity_counts_minute ON parity_counts (minute);

-- How often each field differed, per rule and minute (array indexes folded: /items/*/id).
CREATE TABLE parity_fields (
  rule    TEXT NOT NULL,
  minute  TIMESTAMPTZ NOT NULL,
  field   TEXT NOT NULL,
  count   BIGINT NOT NULL,
  PRIMARY KEY (rule, minute, field)
);

-- Since the beginning, per rule: the minutes above are pruned after a while, these are not.
CREATE TABLE parity_totals (
  rule        TEXT PRIMARY KEY,
  compared    BIGINT NOT NULL DEFAULT 0,
  mismatches  BIGINT NOT NULL DEFAULT 0,
  skipped     BIGINT NOT NULL DEFAULT 0,
  first_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  last_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE parity_field_totals (
  rule   TEXT NOT NULL,
  field  TEXT NOT NULL,
  count  BIGINT NOT NULL,
  PRIMARY KEY (rule, field)
);

-- Kept mismatches (sampled, bounded per rule). Values are redacted unless the rule says
-- otherwise: paths and value shapes only. `route` is the rule's path pattern, never the path.
CREATE TABLE parity_samples (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule           TEXT NOT NULL,
  at             TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  method         TEXT,
  route          TEXT,
  legacy_status  INTEGER,
  target_status  INTEGER,
  fields         TEXT[] NOT NULL,
  diff           JSONB NOT NULL,
  redacted       BOOLEAN NOT NULL,
  request_id     TEXT
);
CREATE INDEX parity_samples_rule ON parity_samples (rule, id DESC);

-- Requests per rule, upstream and minute, from every gateway instance: the live traffic split
-- and error rates of the dashboard.
CREATE TABLE traffic_counts (
  rule        TEXT NOT NULL,
  target      TEXT NOT NULL,
  minute      TIMESTAMPTZ NOT NULL,
  requests    BIGINT NOT NULL DEFAULT 0,
  errors_4xx  BIGINT NOT NULL DEFAULT 0,
  errors_5xx  BIGINT NOT NULL DEFAULT 0,
  fallbacks   BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (rule, target, minute)
);
CREATE INDEX traffic_counts_minute ON traffic_counts (minute);

-- Down Migration
DROP TABLE traffic_counts;
DROP TABLE parity_samples;
DROP TABLE parity_field_totals;
DROP TABLE parity_totals;
DROP TABLE parity_fields;
DROP TABLE parity_counts;
