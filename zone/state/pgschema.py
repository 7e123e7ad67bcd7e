"""Schema migrations of a PostgreSQL state database.

The same numbered migrations as SQLite's (``zone.state.schema``), from
``migrations/postgresql/``. Each one runs in its own transaction together with its row in
``schema_migrations`` (PostgreSQL DDL is transactional). A session-level advisory lock makes
replicas that start together migrate one after the other; the second finds nothing to do.
A database that records a version this code does not ship is refused, as on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from zone.state.schema import Migration, load_migrations, refuse_unknown

MIGRATION_LOCK = 0x7A6F6E65_6D696772  # "zonemigr": the advisory lock key of migrations

_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


def migrate_postgres(
    conn: psycopg.Connection[tuple[object, ...]], migrations: Sequence[Migration] | None = None
) -> list[int]:
    """Apply the migrations this database lacks, in version order.

    Idempotent, and safe against other processes migrating the same database at the same time.

    Args:
        conn: An autocommit connection with no open transaction.
        migrations: The migrations to apply; the package's PostgreSQL ones by default.

    Returns:
        The versions applied by this call.

    Raises:
        FailedPrecondition: The database records a version this code does not know.
    """
    known = sorted(
        load_migrations("postgresql") if migrations is None else migrations,
        key=lambda m: m.version,
    )
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        with conn.transaction():
            conn.execute(_CREATE_TABLE)
        applied = _applied_versions(conn)
        refuse_unknown(applied, {m.version for m in known})
        done: list[int] = []
        for migration in known:
            if migration.version in applied:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode("utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, _now()),
                )
            done.append(migration.version)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def applied_migrations(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    """The versions recorded in ``schema_migrations`` (empty for a new database)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    return sorted(_applied_versions(conn)) if exists and exists[0] else []


def _applied_versions(conn: psycopg.Connection[tuple[object, ...]]) -> set[int]:
    return {int(str(row[0])) for row in conn.execute("SELECT version FROM schema_migrations")}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
