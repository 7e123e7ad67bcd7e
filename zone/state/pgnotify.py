"""LISTEN on a PostgreSQL channel from a connection of its own, reconnecting when it drops.

A listener is a hint, not a record: what changed is read from the tables afterwards, and
every listener also polls (``wait`` returns False after its timeout), so an announcement lost
while the connection was down is made up for by the next poll.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


class PgListener:
    """Announcements on one channel, for one thread."""

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self._channel = channel
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._closed = False

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True if an announcement arrived."""
        if self._closed:
            return False
        deadline = time.monotonic() + timeout
        try:
            conn = self._connect()
            for _ in conn.notifies(timeout=max(0.0, deadline - time.monotonic()), stop_after=1):
                return True
        except psycopg.Error as exc:
            log.warning("listening on %s: %s (polling until it is back)", self._channel, exc)
            self._drop()
            time.sleep(max(0.0, deadline - time.monotonic()))
        return False

    def close(self) -> None:
        """Stop listening (idempotent)."""
        self._closed = True
        self._drop()

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            conn: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
                self._url, autocommit=True, application_name="zone-listen"
            )
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
