-- 0002_ledger: the privacy ledger written by zone.ledger.
--
-- Epsilon is stored in integer micro-epsilon and delta in integer femto-delta (1e-15): sums of
-- floats drift (0.1 + 0.2 <= 0.3 is false). Costs are rounded up and limits down, so rounding
-- never lets a principal spend more than its grant.
--
-- budget_spend: what each principal has spent on each dataset. The limit is not stored: it comes
-- from the policy set in force and is checked in the same conditional UPDATE that spends, so
-- concurrent reservations can never overspend (no read-then-write race).
-- dataset_spend: what all principals together have spent on each dataset (zone-wide cap).
-- charges: one row per reservation; state reserved -> released | failed | refunded.

CREATE TABLE budget_spend (
    principal TEXT NOT NULL,
    dataset TEXT NOT NULL,
    epsilon_micro INTEGER NOT NULL DEFAULT 0 CHECK (epsilon_micro >= 0),
    delta_femto INTEGER NOT NULL DEFAULT 0 CHECK (delta_femto >= 0),
    PRIMARY KEY (principal, dataset)
) STRICT;

CREATE TABLE dataset_spend (
    dataset TEXT PRIMARY KEY,
    epsilon_micro INTEGER NOT NULL DEFAULT 0 CHECK (epsilon_micro >= 0),
    delta_femto INTEGER NOT NULL DEFAULT 0 CHECK (delta_femto >= 0)
) STRICT;

CREATE TABLE charges (
    release_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    epsilon_micro INTEGER NOT NULL CHECK (epsilon_micro >= 0),
    delta_femto INTEGER NOT NULL CHECK (delta_femto >= 0),
    state TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'failed', 'refunded')),
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    settled_at TEXT
) STRICT;

CREATE INDEX charges_reserved ON charges (state) WHERE state = 'reserved';
