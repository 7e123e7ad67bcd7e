-- 0014_replica_owners (PostgreSQL): see SQLite's 0014_replica_owners.sql. The default is the
-- inserting connection's `zone.replica` setting (set by zone/state/postgres.py on every pooled
-- connection), so no INSERT names the owner; rows written before this migration get ''.

ALTER TABLE charges ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE charges ALTER COLUMN owner SET DEFAULT coalesce(current_setting('zone.replica', true), '');
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ALTER COLUMN owner SET DEFAULT coalesce(current_setting('zone.replica', true), '');
CREATE INDEX charges_open_owner ON charges (owner) WHERE state = 'reserved';
CREATE INDEX jobs_open_owner ON jobs (owner) WHERE state IN ('queued', 'running');
