"""A replica's place among the replicas: its presence session, watched and re-taken (PostgreSQL).

Every serving replica holds, on one session of its own (the presence session), the shared
``REPLICA_LOCK`` and the session lock of its own id (``zone.state.owners``). PostgreSQL releases
both when that session ends, which is how the others learn that a replica died. The session can
also end while the replica lives: the database restarted, the network dropped, an operator or an
``idle_session_timeout`` killed it. From then on the others take the replica for dead and settle
its open charges and jobs (failed: charged, as for a dead replica).

:class:`Presence` notices (:meth:`Presence.check`, a round trip on the session) and takes the
place back on a new session, but only once no other replica holds the id's lock (a sweeper
settling the replica's work holds it until it is done). While the place is lost the replica is
*fenced*: :attr:`Presence.up` is False, its state refuses write transactions (UNAVAILABLE) and
health says NOT_SERVING. Work it had open when the place was lost is settled exactly once
however the race ends: each settlement is one conditional UPDATE by release id (or job id), so
whichever of the sweeper and the replica comes second changes nothing and learns so
(``AlreadySettled``, ``IllegalTransition``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import psycopg

from zone.state.owners import OWNER_LOCKS

log = logging.getLogger(__name__)

REPLICA_LOCK = 0x7A6F6E65_72706C63  # "zonerplc": held shared by every serving replica

RETRY_SECONDS = 1.0
"""Least time between two attempts to take a lost place back from the call path."""
CONNECT_TIMEOUT_SECONDS = 5

Connection = psycopg.Connection[tuple[Any, ...]]


def application_name(replica: str) -> str:
    """The presence session's ``application_name`` (operators find it in pg_stat_activity)."""
    return f"zone-presence-{replica}"


class Presence:
    """The presence session of one replica (see the module docstring); thread-safe."""

    def __init__(self, url: str, replica: str) -> None:
        self._url = url
        self._replica = replica
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._up = False
        self._last_try = 0.0
        self.losses = 0
        """How many times the place was lost since the start (for logs and tests)."""

    @property
    def up(self) -> bool:
        """Whether this replica holds its place (False before :meth:`join` and once lost)."""
        return self._up

    @property
    def connection(self) -> Connection | None:
        """The presence session while up (sweeps take dead owners' locks on it)."""
        return self._conn if self._up else None

    def join(self) -> bool:
        """Connect, take this replica's own lock; return whether ``REPLICA_LOCK`` was free.

        The caller holds ``REPLICA_LOCK`` exclusively while it settles a crash's work when it
        was free, then calls :meth:`serve`.

        Raises:
            psycopg.OperationalError: the database cannot be reached.
        """
        with self._lock:
            conn = self._connect()
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (REPLICA_LOCK,)).fetchone()
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (OWNER_LOCKS, self._replica))
            self._conn, self._up = conn, True
            return bool(row and row[0])

    def serve(self, *, exclusive: bool) -> None:
        """Hold ``REPLICA_LOCK`` shared (dropping the exclusive hold taken by :meth:`join`)."""
        with self._lock:
            assert self._conn is not None, "join() first"
            self._conn.execute("SELECT pg_advisory_lock_shared(%s)", (REPLICA_LOCK,))
            if exclusive:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (REPLICA_LOCK,))

    def retry(self) -> bool:
        """Whether the place is held; if lost, try to take it back (at most once a second).

        For the call path: never waits for another thread's attempt.
        """
        if self._up:
            return True
        if not self._lock.acquire(blocking=False):
            return self._up
        try:
            if self._up or self._conn is None:
                return self._up
            if time.monotonic() - self._last_try < RETRY_SECONDS:
                return False
            return self._rejoin()
        finally:
            self._lock.release()

    def check(self) -> bool:
        """Whether the place is held now; if it was lost, try once to take it back.

        Returns True while the session lives (its locks with it), or after the place was taken
        back on a new session; False while it is lost (the database is unreachable, or another
        replica holds this replica's lock while it settles the replica's work).
        """
        with self._lock:
            if self._conn is None:
                return False
            if self._up and self._alive():
                return True
            if self._up:
                self._up = False
                self.losses += 1
                log.warning("replica %s lost its presence session: fenced", self._replica)
            return self._rejoin()

    def close(self) -> None:
        """End the session (the others may then settle what this replica left open)."""
        with self._lock:
            self._up = False
            if self._conn is not None:
                self._conn.close()

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _rejoin(self) -> bool:
        assert self._conn is not None
        self._last_try = time.monotonic()
        with contextlib.suppress(psycopg.Error):
            self._conn.close()
        try:
            conn = self._connect()
        except psycopg.Error:
            return False
        try:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (OWNER_LOCKS, self._replica)
            ).fetchone()
            if not (row and row[0]):  # a sweeper settles this replica's work: not yet
                conn.close()
                return False
            conn.execute("SELECT pg_advisory_lock_shared(%s)", (REPLICA_LOCK,))
        except psycopg.Error:
            conn.close()
            return False
        self._conn, self._up = conn, True
        log.warning("replica %s took its place back", self._replica)
        return True

    def _connect(self) -> Connection:
        return psycopg.connect(
            self._url,
            autocommit=True,
            application_name=application_name(self._replica),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
