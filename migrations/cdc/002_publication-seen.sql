-- Up Migration

-- What the PostgreSQL source's publication published of the mapped tables when CDC last
-- started streaming through it (postgres/publication-watch.ts): each table's membership row
-- and row filter, and the actions published. A DBA's change to it while CDC was stopped, which
-- may have kept changes from the stream, is found at the next start. NULL: not read yet.
ALTER TABLE cdc_sources ADD COLUMN publication_seen JSONB;

-- Down Migration
ALTER TABLE cdc_sources DROP COLUMN publication_seen;
