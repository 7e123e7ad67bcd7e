-- 0018_quarantine (PostgreSQL): see SQLite's 0018_quarantine.sql.

CREATE TABLE dataset_quarantine (
    dataset TEXT NOT NULL,
    version TEXT NOT NULL,
    quarantined_at TEXT NOT NULL,
    quarantined_by TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);
