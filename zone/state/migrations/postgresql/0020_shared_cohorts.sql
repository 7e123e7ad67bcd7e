-- 0020_shared_cohorts (PostgreSQL): see SQLite's 0020_shared_cohorts.sql.

CREATE TABLE shared_folders (
    name TEXT PRIMARY KEY,
    folder_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);

ALTER TABLE cohorts ADD COLUMN erasing_at TEXT;
