"""SQLite connections for the state database and the one way to run a write transaction.

Every connection is opened with ``isolation_level=None`` so that Python's ``sqlite3`` never opens
or commits transactions behind our back: a transaction exists only where ``transaction`` (or
``StateStore.write``) runs ``BEGIN IMMEDIATE`` explicitly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zone.errors import FailedPrecondition
from zone.files import private_file

BUSY_TIMEOUT_MS = 10_000

_PRAGMAS = (
    # busy_timeout first: switching an existing file to WAL may have to wait for a lock.
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the state database at ``path``.

    Missing folders are created 0700 and the file 0600. The connection uses WAL journaling with
    ``synchronous=FULL`` (every commit is fsynced before it returns), foreign keys on and a
    10 s busy timeout. It may be shared between threads; callers serialize writes themselves
    (``StateStore.write``).

    Args:
        path: The database file.

    Returns:
        An open connection in autocommit mode (``isolation_level=None``).

    Raises:
        FailedPrecondition: The file cannot be put in WAL mode.
        sqlite3.Error: The file cannot be opened (for example, it is not a database).
    """
    private_file(path)  # 0600 in 0700 folders; SQLite gives -wal and -shm the same mode
    conn = sqlite3.connect(
        str(path),
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    try:
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise FailedPrecondition("the state database cannot use WAL journaling")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the body in a ``BEGIN IMMEDIATE`` transaction on ``conn``.

    Commits when the body returns; rolls back and re-raises when it raises. ``IMMEDIATE`` takes
    SQLite's write lock up front, so reads made inside the body see the latest committed state
    and no other writer can commit in between.

    Args:
        conn: A connection opened by ``connect`` (autocommit mode, no open transaction).

    Yields:
        The same connection.

    Raises:
        RuntimeError: The body ended the transaction itself (COMMIT or ROLLBACK inside).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        if not conn.in_transaction:
            raise RuntimeError("the transaction was ended inside its own body")
        conn.execute("COMMIT")
    except BaseException:
        # Some errors (disk full, I/O) make SQLite roll back on its own.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
