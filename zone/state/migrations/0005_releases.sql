-- 0005_releases: the release registry and the signed audit checkpoints (zone.audit).
--
-- releases: one row per release (statistics answer, training result, verification answer),
-- written in the same transaction as the release's receipt entry on the audit chain
-- (`audit_seq`, kind 'release'; for budgeted products also the ledger settlement). `receipt` is
-- the receipt exactly as recorded on the chain; `artifact` is what left the zone, kept for
-- tracing leaked copies back to their release (`zone trace`). Only admins and the release's own
-- principal may read a row (ReceiptService).
--
-- checkpoints: every checkpoint made by `zone audit checkpoint` (signed JSON in `checkpoint`);
-- the server builds receipt inclusion proofs against the latest one. A row here proves nothing
-- by itself: the signature is what a verifier checks.

CREATE TABLE releases (
    release_id TEXT PRIMARY KEY,
    audit_seq INTEGER NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('statistics', 'training', 'verification')),
    created_at TEXT NOT NULL,
    receipt TEXT NOT NULL CHECK (json_valid(receipt)),
    artifact TEXT NOT NULL CHECK (json_valid(artifact))
) STRICT;

CREATE INDEX releases_by_principal ON releases (principal, created_at);

CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    length INTEGER NOT NULL CHECK (length >= 0),
    head_hash TEXT NOT NULL,
    merkle_root TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    checkpoint TEXT NOT NULL CHECK (json_valid(checkpoint))
) STRICT;
