"""Opening a state database file read-only, for offline checks (``zone audit verify``, ``trace``).

No migration runs and nothing can be written: the file is opened with ``mode=ro``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zone.errors import FailedPrecondition
from zone.state.api import Tx


@contextmanager
def open_state_readonly(path: Path) -> Iterator[Tx]:
    """Open a state database file read-only (``mode=ro``, no migration) for offline checks.

    Yields:
        The connection; closed when the body ends.

    Raises:
        FailedPrecondition: The file does not exist, is not an SQLite database, or has no
            audit chain table (also when a query in the body hits a corrupt file).
    """
    if not path.is_file():
        raise FailedPrecondition("the state database file does not exist", reason="not_found")
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        if not _has_audit_log(conn):
            raise FailedPrecondition("the file is not a zone state database (no audit_log)")
        yield conn
    except sqlite3.DatabaseError as exc:
        raise FailedPrecondition("the state database cannot be read") from exc
    finally:
        conn.close()


def _has_audit_log(conn: Tx) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'"
    ).fetchone()
    return row is not None
