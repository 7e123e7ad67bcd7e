-- 0003_jobs: asynchronous jobs and the zone's model registry, written by zone.jobs.store.
--
-- jobs: one row per run of a product. `state` moves only along zone.jobs.states.TRANSITIONS,
-- through one conditional UPDATE (... WHERE job_id = ? AND state = <state read in the same
-- transaction>), each move with its `job.transition` audit record in the same transaction.
-- `release_id` is the privacy-ledger reservation that pays for the job ('' when none).
-- `touched_data` only ever goes from 0 to 1: once a worker may have read data, the budget
-- stays spent (the ledger refunds only when nothing data-dependent ran).
-- `spec` and `result` are JSON texts; `epoch` and `epsilon_spent` are progress reports
-- (informational, written without fsync).
--
-- models: trained models kept inside the zone (`keep_in_zone` products), used by later
-- verification/scoring calls; they never leave the zone. One model per job.

CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    spec TEXT NOT NULL CHECK (json_valid(spec)),
    release_id TEXT NOT NULL DEFAULT '',
    touched_data INTEGER NOT NULL DEFAULT 0 CHECK (touched_data IN (0, 1)),
    epoch INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    epsilon_spent REAL NOT NULL DEFAULT 0 CHECK (epsilon_spent >= 0),
    result TEXT CHECK (result IS NULL OR json_valid(result)),
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX jobs_by_principal ON jobs (principal, created_at);

-- Unfinished jobs, read at start-up to settle what a crash interrupted (few rows).
CREATE INDEX jobs_active ON jobs (state) WHERE state IN ('queued', 'running');

CREATE TABLE models (
    model_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    product TEXT NOT NULL,
    job_id TEXT NOT NULL UNIQUE REFERENCES jobs (job_id),
    created_at TEXT NOT NULL,
    model TEXT NOT NULL CHECK (json_valid(model)),
    metrics TEXT NOT NULL CHECK (json_valid(metrics))
) STRICT;

CREATE INDEX models_by_owner ON models (owner, created_at);
