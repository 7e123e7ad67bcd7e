-- 0020_shared_cohorts: cohorts usable from every replica (zone/products/joint/folder.py).
--
-- Replicas on one PostgreSQL state share one cohort folder (`joint.cohorts_dir`, a shared
-- mount): `shared_folders` records the id written in the folder's marker file by the first
-- replica, and a replica whose folder carries another marker (or none) refuses to start.
-- `cohorts.erasing_at` is set, in its own committed transaction, before an erasure looks for
-- jobs reading the cohort and shreds its file: from then on no replica can claim the cohort
-- for a job (the claim is conditional on it being NULL), so an erasure on one replica and a
-- submission on another cannot cross.

CREATE TABLE shared_folders (
    name TEXT PRIMARY KEY,
    folder_id TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

ALTER TABLE cohorts ADD COLUMN erasing_at TEXT;
