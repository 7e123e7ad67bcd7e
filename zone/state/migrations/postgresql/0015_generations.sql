-- 0015_generations (PostgreSQL): see SQLite's 0015_generations.sql. A change is announced on
-- the channel `zone_generation` (NOTIFY, delivered at commit); replicas also poll.

CREATE TABLE generations (
    name TEXT PRIMARY KEY,
    generation BIGINT NOT NULL CHECK (generation > 0),
    digest TEXT NOT NULL,
    replica TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
