-- 0003_jobs (PostgreSQL): jobs and the model registry; see SQLite's 0003_jobs.sql.
--
-- `rowid` is an identity column standing in for SQLite's implicit rowid: the job and model
-- lists order ties on created_at by it (insertion order), with the same SQL on both.
-- JSON columns are TEXT checked by a cast (an insert of text that is not JSON fails).

CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    spec TEXT NOT NULL CHECK (spec::jsonb IS NOT NULL),
    release_id TEXT NOT NULL DEFAULT '',
    touched_data INTEGER NOT NULL DEFAULT 0 CHECK (touched_data IN (0, 1)),
    epoch BIGINT NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    epsilon_spent DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (epsilon_spent >= 0),
    result TEXT CHECK (result IS NULL OR result::jsonb IS NOT NULL),
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL,
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE INDEX jobs_by_principal ON jobs (principal, created_at);

CREATE INDEX jobs_active ON jobs (state) WHERE state IN ('queued', 'running');

CREATE TABLE models (
    model_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    product TEXT NOT NULL,
    job_id TEXT NOT NULL UNIQUE REFERENCES jobs (job_id),
    created_at TEXT NOT NULL,
    model TEXT NOT NULL CHECK (model::jsonb IS NOT NULL),
    metrics TEXT NOT NULL CHECK (metrics::jsonb IS NOT NULL),
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE INDEX models_by_owner ON models (owner, created_at);
