-- 0015_generations: what every replica must serve, by name (today: "policies"), so that a
-- reload on one replica reaches the others (zone/policy/broadcast.py). One row per name; the
-- generation only grows.

CREATE TABLE generations (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL CHECK (generation > 0),
    digest TEXT NOT NULL,
    replica TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
