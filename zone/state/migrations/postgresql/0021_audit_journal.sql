-- 0021_audit_journal (PostgreSQL): see SQLite's 0021_audit_journal.sql.

CREATE TABLE audit_journal (
    name TEXT PRIMARY KEY,
    generation BIGINT NOT NULL,
    drained BIGINT NOT NULL
);
