-- 0017_exits: principals that left the zone (`zone operators exit`, zone.admin.exits).
--
-- Numbered 0017 to stay clear of migrations other branches add (0013-0016); versions need not
-- be contiguous.
--
-- principal_exits: one row per exiting or exited principal, inserted first (in the same
-- transaction as its `principal.exit_started` audit record) and never deleted. While the row
-- exists the principal is refused: the interceptor (through zone.admin.suspensions) refuses
-- its calls, and every reservation, cohort upload and key registration re-checks this table
-- inside its own write transaction, so a call already past the interceptor cannot start new
-- work after the exit began. `finished_at`, `receipt_id` and `receipt_seq` are set once, by the
-- one conditional UPDATE that writes the exit receipt (a `release` entry on the audit chain).

CREATE TABLE principal_exits (
    principal TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    finished_at TEXT,
    receipt_id TEXT UNIQUE,
    receipt_seq INTEGER
) STRICT;
