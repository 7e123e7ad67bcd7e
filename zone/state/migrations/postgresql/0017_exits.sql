-- 0017_exits (PostgreSQL dialect): principals that left the zone; see SQLite's 0017_exits.sql.

CREATE TABLE principal_exits (
    principal TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    finished_at TEXT,
    receipt_id TEXT UNIQUE,
    receipt_seq BIGINT
);
