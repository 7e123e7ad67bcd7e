"""Which replica holds each open charge and job, and which of them died (PostgreSQL only).

Every pooled connection of a replica carries its id in the ``zone.replica`` setting, which the
``owner`` column of ``charges`` and ``jobs`` takes as its default (migration 0014), so no
INSERT names it. Each serving replica holds the session lock ``(OWNER_LOCKS, hashtext(id))``
on its presence connection; PostgreSQL releases it when that connection drops, that is when
the replica dies (or loses its database connection: see docs/DEPLOY.md). A replica that can
take another owner's lock knows the owner is gone and settles its open work while holding the
lock, so two replicas never settle the same owner's work at once.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg

OWNER_LOCKS = 0x7A6F6E65  # "zone": the class of every replica's (class, hashtext(id)) lock
SUSPECT_ROUNDS = 2
"""An owner is settled only once its lock was free this many sweep intervals apart: a live
replica whose session dropped gets a round of its own to take its place back first."""

Connection = psycopg.Connection[tuple[Any, ...]]


def hold_owner_lock(presence: Connection, replica: str) -> None:
    """Take this replica's own lock on its presence session (held until the session ends)."""
    presence.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (OWNER_LOCKS, replica))


def take_dead_owners(presence: Connection, replica: str) -> list[str]:
    """The other owners of open charges or jobs whose lock this session could take.

    Raises:
        psycopg.OperationalError: the database cannot be reached.
    """
    owners = [
        str(owner)
        for (owner,) in presence.execute(
            "SELECT owner FROM charges WHERE state = 'reserved' AND owner NOT IN ('', %s) "
            "UNION SELECT owner FROM jobs WHERE state IN ('queued', 'running') "
            "AND owner NOT IN ('', %s)",
            (replica, replica),
        ).fetchall()
    ]
    dead = []
    for owner in owners:
        row = presence.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (OWNER_LOCKS, owner)
        ).fetchone()
        if row and row[0]:
            dead.append(owner)
    return dead


def release_owners(presence: Connection, owners: list[str]) -> None:
    """Give back the locks :func:`take_dead_owners` took (a lost session releases them too)."""
    for owner in owners:
        with contextlib.suppress(psycopg.Error):
            presence.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (OWNER_LOCKS, owner))


class Suspicion:
    """Owners whose lock was found free, and since when (one sweeping thread uses it)."""

    def __init__(self, *, grace: float) -> None:
        self._grace = grace
        self._since: dict[str, float] = {}

    def due(self, dead: list[str]) -> list[str]:
        """Those of ``dead`` (free locks now) whose lock was free ``grace`` seconds ago too.

        An owner missing from ``dead`` (back in place, or its work settled) is forgotten.
        """
        now = time.monotonic()
        self._since = {owner: self._since.get(owner, now) for owner in dead}
        return [owner for owner in dead if now - self._since[owner] >= self._grace]
