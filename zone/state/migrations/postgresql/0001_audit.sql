-- 0001_audit (PostgreSQL): the audit hash chain written by zone.audit.chain.
--
-- The same table as SQLite's 0001_audit.sql (see there). `principal` and `request_id` are
-- STORED generated columns from `record` (covered by the hash by construction); casting
-- `record` to jsonb makes an insert of a record that is not JSON fail, where SQLite stores
-- NULL in them (the zone only ever writes canonical JSON).
--
-- The helper functions give the few SQLite JSON functions the core's SQL uses the same
-- meaning here, so that one SQL text serves both dialects:
-- json_extract(doc, '$.key[.key...]') returns the value as text (NULL when absent), and
-- json_each(doc) returns the elements of a JSON array as rows of a text column `value`.

CREATE FUNCTION json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT CASE WHEN path LIKE '$.%' THEN (doc::jsonb) #>> string_to_array(substr(path, 3), '.') END $$;

CREATE FUNCTION json_each(doc text) RETURNS TABLE (value text)
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT json_array_elements_text(doc::json) $$;

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    principal TEXT GENERATED ALWAYS AS (record::jsonb ->> 'principal') STORED,
    request_id TEXT GENERATED ALWAYS AS (record::jsonb ->> 'request_id') STORED
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
