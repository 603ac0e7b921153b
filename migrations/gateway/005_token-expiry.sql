-- Up Migration

-- When a bearer token stops working by itself (NULL: only a revocation ends it). Hospital
-- security policies limit how long a credential lives; a token handed to a contractor or a
-- script for a migration week should end with the week even if nobody remembers to revoke it.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;

-- Down Migration
ALTER TABLE api_tokens DROP COLUMN expires_at;
