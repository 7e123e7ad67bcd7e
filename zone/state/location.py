"""Where the state lives: a SQLite file, or a PostgreSQL database shared by replicas.

``state_db`` in the zone's config is either a file path (SQLite, the embedded default) or a
``postgresql://`` URL. A value that looks like a URL with any other scheme is refused rather
than taken for a file name (``mysql://x`` would otherwise create a SQLite file of that name).
``zone.state.opening.open_state`` opens the backend a location names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


@dataclass(frozen=True)
class PostgresUrl:
    """A libpq URL, ``postgresql://user[:password]@host:port/database[?...]``."""

    url: str

    def __str__(self) -> str:
        """The URL without its password (for messages and logs)."""
        return redacted(self.url)


StateLocation = Path | PostgresUrl


@dataclass(frozen=True)
class PoolOptions:
    """Connections of one zone process to a PostgreSQL state database (``state:`` in config).

    Attributes:
        min_connections: Kept open.
        max_connections: At most this many at once; a handler thread may hold two (a write
            and a read), so about twice the handler threads plus the job threads.
        timeout_seconds: Wait for a connection (or a free one in the pool) this long.
        lock_timeout_seconds: A statement waiting longer for a lock fails (UNAVAILABLE).
        idle_in_transaction_seconds: The server ends a session idle this long inside a
            transaction (a replica that hangs mid-write releases its locks).
        orphan_sweep_seconds: How often a replica settles the open work of dead replicas.
        reload_poll_seconds: Longest time before a replica follows another's policy reload.
    """

    min_connections: int = 2
    max_connections: int = 40
    timeout_seconds: float = 10.0
    lock_timeout_seconds: float = 10.0
    idle_in_transaction_seconds: float = 60.0
    orphan_sweep_seconds: float = 10.0
    reload_poll_seconds: float = 5.0


def parse_state_db(value: str, base: Path) -> StateLocation:
    """Read a config's ``state_db``: a PostgreSQL URL, or a file path relative to ``base``.

    Raises:
        ValueError: a URL with a scheme other than ``postgresql``/``postgres``, or an empty
            value.
    """
    if not value.strip():
        raise ValueError("state_db must name a file or a postgresql:// URL")
    match = _URL.match(value)
    if match is None:
        return (base / value).resolve()
    scheme = match.group(1).lower()
    if scheme not in POSTGRES_SCHEMES:
        raise ValueError(
            f"state_db: unsupported URL scheme {scheme!r}; use a file path (SQLite) "
            "or postgresql://user@host:port/database"
        )
    return PostgresUrl(value)


def redacted(url: str) -> str:
    """``url`` without its password or query (for messages and logs)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://(unparsable URL)"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"
