-- 0012_cohorts: operators' uploaded cohorts for joint training (zone.products.joint.store).
--
-- One row per upload: who owns it, for which product and dataset version, the declared schema
-- (column names, public bounds and domains, purpose: never values), the SHA-256 of the uploaded
-- bytes, the row count and the name of its private file in the cohort directory. The values
-- themselves live only in that file, which erasure shreds; this row stays as the record of what
-- was held and when it was erased (`erasure_id` names the erasure receipt, the `release` entry
-- at `erasure_seq` on the audit chain). `state` moves once, from 'stored' to 'erased', through a
-- conditional UPDATE, so an upload is erased (and receipted) exactly once. `job_id` is the
-- latest job reading the cohort (set with the job's creation, in its transaction): at most one
-- unfinished job reads a cohort, and after a restart an ended job's cohort is erased.

CREATE TABLE cohorts (
    upload_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    dataset_version TEXT NOT NULL,
    schema TEXT NOT NULL CHECK (json_valid(schema)),
    digest TEXT NOT NULL,
    rows INTEGER NOT NULL CHECK (rows >= 0),
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    file TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('stored', 'erased')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    erased_at TEXT,
    erasure_id TEXT UNIQUE,
    erasure_seq INTEGER,
    erase_trigger TEXT,
    job_id TEXT
) STRICT;

CREATE INDEX cohorts_by_owner ON cohorts (owner, created_at);

-- Stored cohorts by expiry, for the retention sweep (few rows).
CREATE INDEX cohorts_stored ON cohorts (expires_at) WHERE state = 'stored';
