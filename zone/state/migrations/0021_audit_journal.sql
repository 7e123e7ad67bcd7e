-- 0021_audit_journal: how far each `rpc` journal is drained into the audit chain.
--
-- A serving process writes each call's `rpc` record to a local journal file before the reply
-- leaves, and one thread appends the journal's records to `audit_log` in batches
-- (zone/audit/journal.py). The transaction that appends them also sets the journal's row
-- here to the segment (`generation`) and byte offset (`drained`) just past the last record it
-- appended, so that a restart replays exactly the records no committed transaction holds.

CREATE TABLE audit_journal (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    drained INTEGER NOT NULL
) STRICT;
