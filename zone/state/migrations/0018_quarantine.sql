-- 0018_quarantine: dataset versions an administrator took out of service (zone.admin.quarantine).
-- A row means quarantined: every reservation for a product reading that version is refused
-- (FAILED_PRECONDITION) in its own transaction; releasing deletes the row. Both are audited.

CREATE TABLE dataset_quarantine (
    dataset TEXT NOT NULL,
    version TEXT NOT NULL,
    quarantined_at TEXT NOT NULL,
    quarantined_by TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
) STRICT;
