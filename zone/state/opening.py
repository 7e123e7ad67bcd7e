"""Open the state backend a location names (the composition root and the CLI use this)."""

from __future__ import annotations

from zone.state.api import State
from zone.state.db import StateStore
from zone.state.location import PoolOptions, PostgresUrl, StateLocation
from zone.state.postgres import PostgresState


def open_state(
    location: StateLocation,
    options: PoolOptions | None = None,
    *,
    checkpoint_every: float | None = None,
) -> State:
    """Open (creating and migrating as needed) the state backend at ``location``.

    Args:
        location: A SQLite file path or a PostgreSQL URL (``zone.state.location``).
        options: The PostgreSQL connection pool's settings (ignored for SQLite).
        checkpoint_every: SQLite only: checkpoint the log in the background this often
            (``StateStore.open``); PostgreSQL checkpoints on its own.

    Returns:
        The open state; close it when done.

    Raises:
        FailedPrecondition: the database was written by a newer zone (or, for SQLite, the
            file cannot use WAL).
        Unavailable: a PostgreSQL database cannot be reached.
    """
    if isinstance(location, PostgresUrl):
        return PostgresState.open(location.url, options)
    return StateStore.open(location, checkpoint_every=checkpoint_every)
