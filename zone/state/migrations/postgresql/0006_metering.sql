-- 0006_metering (PostgreSQL): call quotas, usage and revenue shares; see SQLite's
-- 0006_metering.sql.

CREATE TABLE quota_use (
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    window_start TEXT NOT NULL,
    used BIGINT NOT NULL CHECK (used >= 0),
    PRIMARY KEY (principal, product)
);

CREATE TABLE month_volume (
    principal TEXT NOT NULL,
    unit TEXT NOT NULL CHECK (unit IN ('call', 'job')),
    month TEXT NOT NULL,
    units BIGINT NOT NULL CHECK (units >= 0),
    PRIMARY KEY (principal, unit)
);

CREATE TABLE usage (
    usage_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    release_id TEXT NOT NULL DEFAULT '',
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    unit TEXT NOT NULL CHECK (unit IN ('call', 'job')),
    currency TEXT NOT NULL,
    amount_micro BIGINT NOT NULL CHECK (amount_micro >= 0),
    list_micro BIGINT NOT NULL CHECK (list_micro >= amount_micro),
    tier BIGINT NOT NULL,
    public_interest INTEGER NOT NULL CHECK (public_interest IN (0, 1)),
    purpose TEXT NOT NULL,
    grant_source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    voided_at TEXT,
    void_reason TEXT NOT NULL DEFAULT ''
);

CREATE INDEX usage_by_time ON usage (created_at);

CREATE TABLE revenue_shares (
    usage_id TEXT NOT NULL REFERENCES usage (usage_id),
    provider TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_micro BIGINT NOT NULL CHECK (amount_micro > 0),
    PRIMARY KEY (usage_id, provider)
);

CREATE INDEX IF NOT EXISTS audit_log_by_principal ON audit_log (principal, seq);
