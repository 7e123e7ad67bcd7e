-- 0001_audit: the audit hash chain written by zone.audit.chain.
--
-- Every row is one entry; `hash` covers prev_hash, seq, ts, kind and the canonical JSON `record`
-- (see zone.audit.chain.entry_hash). `principal` and `request_id` are VIRTUAL generated columns
-- computed from `record`, so they are covered by the hash by construction and cannot drift from
-- it; they exist to be indexed for queries. The triggers make the table append-only for
-- zone code; they are a guard against mistakes, not a security boundary (anyone who can write
-- the file can drop them), which is what the chain's verification is for.

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    principal TEXT GENERATED ALWAYS AS (
        CASE WHEN json_valid(record) THEN json_extract(record, '$.principal') END
    ) VIRTUAL,
    request_id TEXT GENERATED ALWAYS AS (
        CASE WHEN json_valid(record) THEN json_extract(record, '$.request_id') END
    ) VIRTUAL
) STRICT;

-- No secondary indexes yet: every index costs about 40 us on each append (one per RPC), and
-- nothing queries the log by these columns yet. Add them in the migration that adds the query.

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
