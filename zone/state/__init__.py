"""The SQLite state database (WAL, ``synchronous=FULL``): connections, migrations, the store.

``StateStore.write()`` is the one way to write; ``StateStore.read()`` gives snapshot reads.
"""

from __future__ import annotations

from zone.state.connection import connect, transaction
from zone.state.db import StateStore
from zone.state.schema import Migration, load_migrations, migrate, split_statements

__all__ = [
    "Migration",
    "StateStore",
    "connect",
    "load_migrations",
    "migrate",
    "split_statements",
    "transaction",
]
