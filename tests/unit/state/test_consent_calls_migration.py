"""Migration 0013 folds the per-subject consent_uses rows of 0007 into per-call rows.

Both dialects: a database at version 12 with checks recorded the old way (one row per subject,
a call under operator consents and a call of a product without consent) migrates to one
consent_calls row per request, subjects and consents in their original order, with the
release id of the call's check log row; consent_uses is gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from pgkit import Cluster

from zone.state import connect, load_migrations, migrate
from zone.state.pgschema import migrate_postgres

USED_AT = "2026-03-01T12:00:00+00:00"
CONSENT = (
    "INSERT INTO consents (issuer, consent_id, principal, product, subject, purpose, "
    "not_before, not_after, max_uses, uses, letter_sha256, token_sha256, created_at) "
    "VALUES (?, ?, 'bank-a', 'p', ?, 'credit', 0, 2000000000, 5, 1, ?, ?, ?)"
)
USE = (
    "INSERT INTO consent_uses (request_id, principal, product, mode, subject, purpose, issuer, "
    "consent_id, used_at) VALUES (?, 'bank-a', 'p', ?, ?, 'credit', ?, ?, ?)"
)
CHECK = (
    "INSERT INTO verification_checks (request_id, release_id, principal, product, kind, "
    "checked_at, purpose, subject_count, subjects, subjects_digest) "
    "VALUES ('req-1', 'rel-1', 'bank-a', 'p', 'match', 1.0, 'credit', 2, 'S-2\nS-1', 'x')"
)
EXPECTED = [
    ("req-1", "rel-1", "operator", 2, "S-2\nS-1", ["c-2", "gov/t-1"], 1772366400.0),
    ("req-2", "", "none", 2, "S-9\nS-8", [], 1772366400.0),
]


def _old_rows(run: Callable[[str, tuple[Any, ...]], None]) -> None:
    run(CONSENT, ("", "c-2", "S-2", "ab" * 32, None, USED_AT))
    run(CONSENT, ("gov", "t-1", "S-1", None, "cd" * 32, USED_AT))
    run(CHECK, ())
    run(USE, ("req-1", "operator", "S-2", "", "c-2", USED_AT))
    run(USE, ("req-1", "operator", "S-1", "gov", "t-1", USED_AT))
    run(USE, ("req-2", "none", "S-9", None, None, USED_AT))
    run(USE, ("req-2", "none", "S-8", None, None, USED_AT))


def _calls(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(*row[:5], json.loads(row[5]), float(row[6])) for row in rows]


SELECT = (
    "SELECT request_id, release_id, mode, subject_count, subjects, consents, used_at "
    "FROM consent_calls ORDER BY call_id"
)


def test_sqlite_folds_old_uses_into_calls(tmp_path: Path) -> None:
    conn = connect(tmp_path / "state.db")
    try:
        migrate(conn, [m for m in load_migrations() if m.version < 13])
        with conn:
            _old_rows(lambda sql, args: conn.execute(sql, args) and None)
        assert 13 in migrate(conn)
        assert _calls(conn.execute(SELECT).fetchall()) == EXPECTED
        gone = conn.execute("SELECT name FROM sqlite_master WHERE name = 'consent_uses'")
        assert gone.fetchall() == []
    finally:
        conn.close()


def test_postgresql_folds_old_uses_into_calls(pg_cluster: Cluster) -> None:
    url = pg_cluster.create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate_postgres(conn, [m for m in load_migrations("postgresql") if m.version < 13])

        def run(sql: str, args: tuple[Any, ...]) -> None:
            conn.execute(sql.replace("?", "%s").encode(), args)

        _old_rows(run)
        assert 13 in migrate_postgres(conn)
        assert _calls(conn.execute(SELECT.encode()).fetchall()) == EXPECTED
        gone = conn.execute("SELECT to_regclass('consent_uses')").fetchone()
        assert gone == (None,)
