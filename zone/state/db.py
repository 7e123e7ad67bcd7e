"""The state database: one SQLite file (WAL, ``synchronous=FULL``) shared by ledger, jobs and audit.

Writes go through ``StateStore.write()`` only: it serializes writers in this process with a lock
and runs one ``BEGIN IMMEDIATE`` transaction, so several components (the privacy ledger, the
receipt, the audit record) can commit together or not at all.

Reads go through ``StateStore.read()``, which hands each thread its own read-only connection and
runs the body in a read transaction: WAL gives every reader a consistent snapshot of committed
data without waiting for the writer, and a reader can never observe the writer's uncommitted
rows (which it would if it shared the write connection outside the lock).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from zone.errors import FailedPrecondition
from zone.state.api import Tx
from zone.state.checkpointer import Checkpointer
from zone.state.connection import connect, transaction
from zone.state.schema import migrate

__all__ = ["StateStore", "connect", "migrate"]


@dataclass
class _WriteGate:
    """The process-wide writer lock of one database file, and which thread holds it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    owner: int | None = None


_GATES: dict[str, _WriteGate] = {}
_GATES_LOCK = threading.Lock()


def _gate_for(path: Path) -> _WriteGate:
    """Return the writer gate of ``path``, shared by every store on that file in this process."""
    key = os.path.realpath(path)
    with _GATES_LOCK:
        return _GATES.setdefault(key, _WriteGate())


def _end_read(conn: sqlite3.Connection) -> None:
    """End a read transaction (a read-only transaction has nothing to commit)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class StateStore:
    """An open state database: a shared write connection and per-thread read connections."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self._path = path
        self._conn = conn
        self._gate = _gate_for(path)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._checkpointer: Checkpointer | None = None
        self._synchronous = "FULL"  # what ``connect`` set; changed only inside write()

    @classmethod
    def open(cls, path: Path, *, checkpoint_every: float | None = None) -> StateStore:
        """Open the database at ``path``, creating and migrating it as needed.

        Args:
            path: The database file (its directory is created).
            checkpoint_every: Checkpoint the write-ahead log every this many seconds in a
                background thread, not inside commits (``zone.state.checkpointer``; a serving
                zone does). None: SQLite's automatic checkpoints.

        Returns:
            The open store.

        Raises:
            FailedPrecondition: The database was written by a newer zone, or cannot use WAL.
        """
        conn = connect(path)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        store = cls(path, conn)
        if checkpoint_every is not None:
            conn.execute("PRAGMA wal_autocheckpoint=0")
            store._checkpointer = Checkpointer(store.checkpoint, checkpoint_every)
        return store

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def conn(self) -> sqlite3.Connection:
        """The write connection. Use it only inside ``write()``; read through ``read()``."""
        return self._conn

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """Run the body as the one write transaction of this process (``BEGIN IMMEDIATE``).

        Commits when the body returns; rolls back and re-raises when it raises. With
        ``durable=True`` (the default, for anything that spends budget or releases output) the
        commit runs with ``synchronous=FULL`` and returns after the WAL is fsynced. With
        ``durable=False`` (records of calls that release nothing) it runs with
        ``synchronous=NORMAL``: the transaction survives a crash of the process (kill -9),
        but the newest ones can be lost, as a suffix, in an OS crash or power loss, until the
        next durable commit, which fsyncs the WAL and so everything committed before it.
        (A durable commit becomes visible to other connections only once it is fsynced:
        SQLite syncs the log before it publishes the commit. Syncing after the writer lock is
        released would let another call read, and send out, a release not yet durable.)

        Yields:
            The write connection, inside an open transaction.

        Raises:
            RuntimeError: Called again by a thread already inside ``write()`` (pass the yielded
                connection down instead, e.g. ``AuditChain.append(..., conn=conn)``).
            FailedPrecondition: The store is closed.
        """
        self._check_open()
        gate = self._gate
        if gate.owner == threading.get_ident():
            raise RuntimeError("StateStore.write() is not reentrant; pass its connection down")
        with gate.lock:
            gate.owner = threading.get_ident()
            try:
                self._check_open()
                self._set_synchronous("FULL" if durable else "NORMAL")
                with transaction(self._conn) as conn:
                    yield conn
            finally:
                gate.owner = None

    def writing(self) -> bool:
        """Whether the calling thread is inside ``write()`` on this file."""
        return self._gate.owner == threading.get_ident()

    @contextmanager
    def joined(self, conn: Tx | None) -> Iterator[Tx]:
        """Join the caller's open write transaction ``conn``, or run a durable one of our own.

        Raises:
            RuntimeError: ``conn`` is not inside an open ``write()`` transaction.
        """
        if conn is not None:
            if not conn.in_transaction:
                raise RuntimeError("conn=... needs the connection of an open store.write()")
            yield conn
            return
        with self.write() as own:
            yield own

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Run the body in a read transaction on this thread's read-only connection.

        All queries in the body see the same committed snapshot. Nested ``read()`` calls on one
        thread share the outer transaction.

        Yields:
            A read-only connection (``PRAGMA query_only``) owned by the calling thread.

        Raises:
            FailedPrecondition: The store is closed.
        """
        conn = self._reader()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            _end_read(conn)

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file, holding the writer lock.

        Raises:
            FailedPrecondition: The store is closed.
        """
        with self._gate.lock:
            self._check_open()
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @contextmanager
    def startup(self) -> Iterator[bool]:
        """Yield True: a SQLite state file is served by one ``zone serve`` process."""
        yield True

    def hold_place(self) -> bool:
        """True: the one process serving a SQLite state cannot lose its place."""
        return True

    def announce(self, tx: Tx, channel: str) -> None:
        """Nothing to tell: one process serves a SQLite state."""

    def listen(self, channel: str) -> None:
        """None: one process serves a SQLite state, nobody else announces."""
        return None

    @contextmanager
    def orphaned(self) -> Iterator[list[str]]:
        """Yield no owners: a SQLite state's one process settles a crash's work at start."""
        yield []

    def close(self) -> None:
        """Close every connection of this store. Idempotent."""
        if self._gate.owner == threading.get_ident():
            raise RuntimeError("StateStore.close() called inside write()")
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._gate.lock:
            if self._closed:
                return
            self._closed = True
            with self._readers_lock:
                readers, self._readers = self._readers, []
            for reader in readers:
                reader.close()
            self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _set_synchronous(self, mode: str) -> None:
        """Switch the write connection's ``synchronous`` (holding the writer lock) if it differs.

        Only ``write()`` changes the setting, so the one remembered is the one in force; a
        PRAGMA per transaction would cost one more statement (and GIL hand-off) per commit.
        """
        if mode != self._synchronous:
            self._conn.execute(f"PRAGMA synchronous={mode}")
            self._synchronous = mode

    def _check_open(self) -> None:
        if self._closed:
            raise FailedPrecondition("the state store is closed")

    def _reader(self) -> sqlite3.Connection:
        self._check_open()
        reader: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if reader is not None:
            return reader
        reader = connect(self._path)
        reader.execute("PRAGMA query_only=ON")
        with self._readers_lock:
            if self._closed:
                reader.close()
                raise FailedPrecondition("the state store is closed")
            self._readers.append(reader)
        self._local.conn = reader
        return reader
