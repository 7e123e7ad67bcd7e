"""Schema migrations of the state database.

Migrations are the files ``zone/state/migrations/NNNN_<name>.sql`` shipped as package data. Each
one is applied in its own ``BEGIN IMMEDIATE`` transaction together with its row in
``schema_migrations``, so a migration is either fully applied and recorded or not at all (SQLite
DDL is transactional). A database that records a version this code does not ship was written by
a newer zone and is refused rather than used with a schema we do not understand.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from zone.errors import FailedPrecondition
from zone.state.connection import transaction

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    """One schema migration: its version, name and SQL script."""

    version: int
    name: str
    sql: str


DIALECTS = ("sqlite", "postgresql")


def load_migrations(dialect: str = "sqlite") -> list[Migration]:
    """Read the migrations shipped with this package for one SQL dialect, in version order.

    ``migrations/NNNN_name.sql`` is SQLite's text; ``migrations/postgresql/NNNN_name.sql`` is
    the same migration (same version, name, tables, columns and constraints) in PostgreSQL's.

    Args:
        dialect: ``"sqlite"`` or ``"postgresql"``.

    Returns:
        The migrations, sorted by version.

    Raises:
        ValueError: An unknown dialect, a misnamed ``.sql`` file, or two files share a version.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    folder = resources.files("zone.state").joinpath("migrations")
    if dialect != "sqlite":
        folder = folder.joinpath(dialect)
    found: dict[int, Migration] = {}
    for item in folder.iterdir():
        if not item.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(item.name)
        if match is None:
            raise ValueError(f"migration file name must look like NNNN_name.sql: {item.name}")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migration files have version {version}")
        found[version] = Migration(version, match.group(2), item.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers and quoted ``;`` included).

    Args:
        script: SQL text with statements separated by ``;``.

    Returns:
        The statements, each ending with ``;``.

    Raises:
        ValueError: The script ends with an incomplete statement.
    """
    *parts, tail = script.split(";")
    statements: list[str] = []
    current = ""
    for part in parts:
        current += part + ";"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if _has_code(current + tail):
        raise ValueError("migration script ends with an incomplete statement")
    return statements


def _has_code(sql: str) -> bool:
    """Whether ``sql`` holds anything but whitespace and ``--`` comments."""
    return any(line.split("--", 1)[0].strip() for line in sql.splitlines())


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply the migrations this database lacks, in version order.

    Idempotent: a second call applies nothing. Safe against another process migrating the same
    file at the same time (each version is re-checked inside its write transaction).

    Args:
        conn: A connection from ``connect`` with no open transaction.
        migrations: The migrations to apply; the package's own by default (tests pass others).

    Returns:
        The versions applied by this call.

    Raises:
        FailedPrecondition: The database records a version this code does not know (it was
            written by a newer zone).
    """
    known = sorted(load_migrations() if migrations is None else migrations, key=_version)
    with transaction(conn):
        conn.execute(_CREATE_TABLE)
        refuse_unknown(_applied_versions(conn), {m.version for m in known})
    applied: list[int] = []
    for migration in known:
        with transaction(conn):
            if migration.version in _applied_versions(conn):
                continue
            _apply(conn, migration)
        applied.append(migration.version)
    return applied


def _version(migration: Migration) -> int:
    return migration.version


def _applied_versions(conn: sqlite3.Connection) -> set[int]:
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}


def refuse_unknown(applied: set[int], known: set[int]) -> None:
    """Refuse a database that records versions this code does not ship (a newer zone's)."""
    unknown = sorted(applied - known)
    if unknown:
        raise FailedPrecondition(
            f"the state database has schema version(s) {unknown} unknown to this zone "
            "(it was written by a newer zone); upgrade zone to use it",
            reason="schema_too_new",
        )


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    for statement in split_statements(migration.sql):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, datetime.now(UTC).isoformat(timespec="microseconds")),
    )
