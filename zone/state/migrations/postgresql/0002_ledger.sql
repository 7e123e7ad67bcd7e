-- 0002_ledger (PostgreSQL): the privacy ledger; see SQLite's 0002_ledger.sql for the meaning.
-- Integers are BIGINT (micro-epsilon and femto-delta sums pass 2^31).

CREATE TABLE budget_spend (
    principal TEXT NOT NULL,
    dataset TEXT NOT NULL,
    epsilon_micro BIGINT NOT NULL DEFAULT 0 CHECK (epsilon_micro >= 0),
    delta_femto BIGINT NOT NULL DEFAULT 0 CHECK (delta_femto >= 0),
    PRIMARY KEY (principal, dataset)
);

CREATE TABLE dataset_spend (
    dataset TEXT PRIMARY KEY,
    epsilon_micro BIGINT NOT NULL DEFAULT 0 CHECK (epsilon_micro >= 0),
    delta_femto BIGINT NOT NULL DEFAULT 0 CHECK (delta_femto >= 0)
);

CREATE TABLE charges (
    release_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    epsilon_micro BIGINT NOT NULL CHECK (epsilon_micro >= 0),
    delta_femto BIGINT NOT NULL CHECK (delta_femto >= 0),
    state TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'failed', 'refunded')),
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    settled_at TEXT
);

CREATE INDEX charges_reserved ON charges (state) WHERE state = 'reserved';
