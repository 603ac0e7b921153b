-- Up Migration

-- Key texts became canonical (keyText of @ficus/contracts, 2026-12): every scalar key value is
-- its text, so that a row keeps one identity when a key column's type changes (an int4 key
-- arrives as a JSON number, an int8 key as a string). The legacy writer claims write-back
-- positions by that text: carries the typed keys over, the later position winning where one
-- row is there under both forms. Text keys (MRNs) are already canonical and are not touched.
-- Idempotent: a second run finds nothing to carry. The same carrying over as
-- migrations/change-consumer/003 (the services' ficus_change_positions).

-- the canonical text of a typed key, or NULL when there is nothing to carry over (a text key,
-- a key with a json value, or a text that is not a key at all)
CREATE FUNCTION pg_temp.ficus_canonical_key(k TEXT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  j JSONB;
  e JSONB;
  typed BOOLEAN := false;
  parts TEXT[] := '{}';
BEGIN
  -- the cheap look first: a typed value follows a comma directly, a text value starts with a quote
  IF k !~ ',(-?[0-9]|true|false)' THEN RETURN NULL; END IF;
  BEGIN
    j := k::jsonb;
  EXCEPTION WHEN others THEN
    RETURN NULL;
  END;
  IF jsonb_typeof(j) <> 'array' THEN RETURN NULL; END IF;
  FOR e IN SELECT x FROM jsonb_array_elements(j) WITH ORDINALITY AS a(x, i) ORDER BY i LOOP
    IF jsonb_typeof(e) <> 'array' THEN RETURN NULL; END IF;
    IF jsonb_array_length(e) <> 2 THEN RETURN NULL; END IF;
    IF jsonb_typeof(e -> 0) <> 'string' THEN RETURN NULL; END IF;
    CASE jsonb_typeof(e -> 1)
      WHEN 'number', 'boolean' THEN
        typed := true;
        parts := parts || ('[' || (e -> 0)::text || ',' || to_jsonb(e ->> 1)::text || ']');
      WHEN 'string', 'null' THEN
        parts := parts || ('[' || (e -> 0)::text || ',' || (e -> 1)::text || ']');
      ELSE
        RETURN NULL;
    END CASE;
  END LOOP;
  IF NOT typed THEN RETURN NULL; END IF;
  RETURN '[' || array_to_string(parts, ',') || ']';
END
$$;

CREATE TEMP TABLE ficus_moving_keys ON COMMIT DROP AS
SELECT * FROM (SELECT service, topic, key AS old_key, pg_temp.ficus_canonical_key(key) AS new_key, position, applied_at
                 FROM ficus_writeback_positions) k
 WHERE new_key IS NOT NULL;

-- per canonical key, the latest position among the moving rows and a row already there under it
CREATE TEMP TABLE ficus_canonical_keys ON COMMIT DROP AS
SELECT DISTINCT ON (service, topic, key) service, topic, key, position, applied_at
  FROM (SELECT service, topic, new_key AS key, position, applied_at FROM ficus_moving_keys
        UNION ALL
        SELECT p.service, p.topic, p.key, p.position, p.applied_at
          FROM ficus_writeback_positions p
          JOIN (SELECT DISTINCT service, topic, new_key FROM ficus_moving_keys) m ON m.service = p.service AND m.topic = p.topic AND m.new_key = p.key) c
 ORDER BY service, topic, key, length(position) DESC, position COLLATE "C" DESC;

DELETE FROM ficus_writeback_positions p USING ficus_moving_keys m WHERE p.service = m.service AND p.topic = m.topic AND p.key = m.old_key;

INSERT INTO ficus_writeback_positions (service, topic, key, position, applied_at)
SELECT service, topic, key, position, applied_at FROM ficus_canonical_keys
    ON CONFLICT (service, topic, key) DO UPDATE SET position = excluded.position, applied_at = excluded.applied_at;

-- Down Migration

-- nothing to undo: the typed texts cannot be told back from the canonical ones
