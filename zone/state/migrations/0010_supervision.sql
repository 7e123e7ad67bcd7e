-- 0010_supervision: corrections and data-flow alerts of the supervision console (zone.console).
--
-- Numbered 0010 to stay clear of migrations other branches add (0008, 0009); versions need not
-- be contiguous.
--
-- principal_suspensions: principals an administrator suspended. While a row exists, every gRPC
-- call of the principal is refused (PERMISSION_DENIED) by the interceptor, which reads this
-- table on each call, and its console logins fail; resuming deletes the row. Both are audited
-- (`principal.suspended`, `principal.resumed`) in the same transaction, so the chain holds the
-- history.
--
-- model_revocations: kept models an administrator revoked; a revoked model cannot be used for
-- scoring (the registry reads it as missing). Restoring deletes the row; both audited
-- (`model.revoked`, `model.restored`).
--
-- alerts: data-flow alerts raised by zone.console.alerts. One row per rule x principal x fixed
-- window (UNIQUE), so evaluating a window again raises nothing new. `detail` holds counts and
-- product or dataset names only: never subject keys or values. Raising and acknowledging are
-- audited (`alert.raised`, `alert.acknowledged`); `acknowledged_at` is set once.

CREATE TABLE principal_suspensions (
    principal TEXT PRIMARY KEY,
    suspended_at TEXT NOT NULL,
    suspended_by TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE model_revocations (
    model_id TEXT PRIMARY KEY,
    revoked_at TEXT NOT NULL,
    revoked_by TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE alerts (
    alert_id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    principal TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    detail TEXT NOT NULL CHECK (json_valid(detail)),
    raised_at TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    UNIQUE (rule, principal, window_start)
) STRICT;

CREATE INDEX alerts_open ON alerts (alert_id) WHERE acknowledged_at IS NULL;
