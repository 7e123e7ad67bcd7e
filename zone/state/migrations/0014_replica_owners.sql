-- 0014_replica_owners: which serving process holds each open charge and unfinished job.
-- A SQLite state is served by one process: the owner stays ''. On PostgreSQL every replica's
-- connections carry its id (the `zone.replica` setting), so the rows name their replica and
-- another replica can settle the open work of one that died (zone/state/replicas.py).

ALTER TABLE charges ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX charges_open_owner ON charges (owner) WHERE state = 'reserved';
CREATE INDEX jobs_open_owner ON jobs (owner) WHERE state IN ('queued', 'running');
