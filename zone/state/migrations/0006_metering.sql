-- 0006_metering: call quotas, usage and revenue shares written by zone.metering.
--
-- Money is stored in integer micro-units of the row's currency (1e-6; '' when the grant has
-- no price): sums of integers are exact, so reports reconcile to the last micro-unit.
--
-- quota_use: one counter per principal x product for the current fixed UTC window. A call is
-- admitted by one conditional upsert that resets the counter when the window has moved on and
-- refuses when used + 1 would exceed the limit (the limit comes from the policy set in force,
-- like the privacy budget's): concurrent calls can never exceed a quota.
-- month_volume: calls (or jobs) per principal in the current UTC month, for volume tiers;
-- updated in the same transaction, so each call learns its own ordinal.
-- usage: one row per admitted call or job. A row is billed unless it was voided or its privacy
-- charge (release_id in `charges`) ended failed or refunded, i.e. nothing was released.
-- revenue_shares: each charge split among the dataset's providers; the parts of a usage row
-- sum exactly to its amount (largest remainder). Zero parts are not written.

CREATE TABLE quota_use (
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    window_start TEXT NOT NULL,
    used INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (principal, product)
) STRICT;

CREATE TABLE month_volume (
    principal TEXT NOT NULL,
    unit TEXT NOT NULL CHECK (unit IN ('call', 'job')),
    month TEXT NOT NULL,
    units INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (principal, unit)
) STRICT;

CREATE TABLE usage (
    usage_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    release_id TEXT NOT NULL DEFAULT '',
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    dataset TEXT NOT NULL,
    unit TEXT NOT NULL CHECK (unit IN ('call', 'job')),
    currency TEXT NOT NULL,
    amount_micro INTEGER NOT NULL CHECK (amount_micro >= 0),
    list_micro INTEGER NOT NULL CHECK (list_micro >= amount_micro),
    tier INTEGER NOT NULL,
    public_interest INTEGER NOT NULL CHECK (public_interest IN (0, 1)),
    purpose TEXT NOT NULL,
    grant_source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    voided_at TEXT,
    void_reason TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX usage_by_time ON usage (created_at);

CREATE TABLE revenue_shares (
    usage_id TEXT NOT NULL REFERENCES usage (usage_id),
    provider TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_micro INTEGER NOT NULL CHECK (amount_micro > 0),
    PRIMARY KEY (usage_id, provider)
) STRICT;

-- AdminService.QueryAudit filters the chain by principal (paginated by seq). IF NOT EXISTS:
-- another migration may add the same index.
CREATE INDEX IF NOT EXISTS audit_log_by_principal ON audit_log (principal, seq);
