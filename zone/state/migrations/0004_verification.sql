-- 0004_verification: homomorphic verification (zone.products.verification).
--
-- verification_keys: public TenSEAL contexts registered by callers (RegisterKey). A key belongs
-- to its owner: every lookup is by (key_id, owner), so another principal's key id reads as
-- unknown. `context` is the serialized *public* context (checked before insertion: no secret,
-- relinearization or Galois keys, allowlisted parameters); `sha256` is over those bytes.
-- `revoked_at` is set once and never cleared; a revoked key is refused.
--
-- verification_checks: one row per admitted Match or Score call: whom a principal checked,
-- when, for which stated purpose. `subjects` holds the subject keys of the call in request
-- order, newline-separated (keys cannot contain newlines); the call's receipt on the audit
-- chain carries `subjects_digest` (sha256 of that text), so the list is tamper-evident and can
-- be pruned or redacted later without breaking the chain. `checked_at` (unix seconds) drives
-- the sliding-window limit per subject, which the service enforces from these rows.
--
-- verification_score_usage: subjects scored per principal, product and model (the per-model
-- query budget), raised with a conditional UPDATE so it never passes the product's limit.

CREATE TABLE verification_keys (
    key_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    scheme TEXT NOT NULL CHECK (scheme IN ('bfv', 'ckks')),
    param_set TEXT NOT NULL,
    size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    context BLOB NOT NULL
) STRICT;

CREATE INDEX verification_keys_by_owner ON verification_keys (owner, created_at);

CREATE TABLE verification_checks (
    check_id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    release_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('match', 'score')),
    checked_at REAL NOT NULL,
    purpose TEXT NOT NULL,
    subject_count INTEGER NOT NULL CHECK (subject_count > 0),
    subjects TEXT NOT NULL,
    subjects_digest TEXT NOT NULL
) STRICT;

CREATE INDEX verification_checks_window
    ON verification_checks (principal, product, kind, checked_at);

CREATE TABLE verification_score_usage (
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    model TEXT NOT NULL,
    scored INTEGER NOT NULL CHECK (scored >= 0),
    PRIMARY KEY (principal, product, model)
) STRICT;
