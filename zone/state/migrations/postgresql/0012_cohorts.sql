-- 0012_cohorts (PostgreSQL): joint-modeling cohorts; see SQLite's 0012_cohorts.sql.
-- `schema` is checked as JSON by its cast. Cohort files live in one server's folder: replicas
-- need a shared cohort folder (docs/DEPLOY.md).

CREATE TABLE cohorts (
    upload_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    dataset_version TEXT NOT NULL,
    schema TEXT NOT NULL CHECK (schema::jsonb IS NOT NULL),
    digest TEXT NOT NULL,
    rows BIGINT NOT NULL CHECK (rows >= 0),
    size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
    file TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('stored', 'erased')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    erased_at TEXT,
    erasure_id TEXT UNIQUE,
    erasure_seq BIGINT,
    erase_trigger TEXT,
    job_id TEXT
);

CREATE INDEX cohorts_by_owner ON cohorts (owner, created_at);

CREATE INDEX cohorts_stored ON cohorts (expires_at) WHERE state = 'stored';
