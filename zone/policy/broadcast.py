"""A reload on one replica reaches every replica serving the same state.

The set each replica must serve is recorded by name in the ``generations`` table (generation
number, digest, which replica recorded it). A replica that reloads successfully records the
new digest under the next generation and announces it (PostgreSQL NOTIFY, delivered at
commit); every replica listens and also polls every ``poll_seconds``, so a lost announcement
costs at most one poll. A replica that learns of a newer generation whose digest differs
from the set it serves reloads from its own files. If those give another digest (the files
differ between machines), or do not validate, it keeps serving what it loaded and writes a
``policy.mismatch`` record on the audit chain: the supervisor's cue that the deployment is
inconsistent. Each replica serves one set per call whatever happens (the holder's snapshot).

On a SQLite state there is one process: nothing to listen to, no thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from zone.errors import FailedPrecondition, ValidationFailed
from zone.state.api import State, Tx

log = logging.getLogger(__name__)

CHANNEL = "zone_generation"


def record_generation(tx: Tx, name: str, digest: str, replica: str) -> int:
    """Record ``digest`` as the next generation of ``name`` inside ``tx``; return it."""
    tx.execute(
        "INSERT INTO generations AS g (name, generation, digest, replica, updated_at) "
        "VALUES (?, 1, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "generation = g.generation + 1, digest = excluded.digest, replica = excluded.replica, "
        "updated_at = excluded.updated_at",
        (name, digest, replica, datetime.now(UTC).isoformat(timespec="seconds")),
    )
    (generation,) = tx.execute(
        "SELECT generation FROM generations WHERE name = ?", (name,)
    ).fetchone()
    return int(generation)


def read_generation(tx: Tx, name: str) -> tuple[int, str]:
    """(generation, digest) recorded for ``name``; (0, '') when none is."""
    row = tx.execute(
        "SELECT generation, digest FROM generations WHERE name = ?", (name,)
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "")


class Broadcast:
    """Publishes this replica's reloads and follows the others' (see the module docstring)."""

    def __init__(
        self,
        store: State,
        *,
        reload: Callable[[], str],
        digest: Callable[[], str],
        on_mismatch: Callable[[dict[str, Any]], object],
        poll_seconds: float,
        name: str = "policies",
    ) -> None:
        """Follow nothing yet (:meth:`start` begins).

        Args:
            store: The state the replicas share.
            reload: Reloads this replica's set from its files; returns the new digest.
            digest: The digest of the set this replica serves.
            on_mismatch: Records a mismatch (the audit chain).
            poll_seconds: Longest time between two looks at the recorded generation.
            name: What the generation names.
        """
        self._store = store
        self._reload = reload
        self._digest = digest
        self._on_mismatch = on_mismatch
        self._poll = poll_seconds
        self._name = name
        self._lock = threading.Lock()
        self._seen = 0
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Note the recorded generation; listen and poll on a thread (shared states only)."""
        waiter = self._store.listen(CHANNEL)
        if waiter is None:
            return
        with self._store.read() as tx:
            generation, recorded = read_generation(tx, self._name)
        self._seen = generation
        if generation and recorded != self._digest():
            self._mismatch(recorded, self._digest(), "started with other files")

        def run() -> None:
            try:
                while not self._stopped.is_set():
                    waiter.wait(self._poll)
                    if not self._stopped.is_set():
                        self.catch_up()
            except Exception:  # noqa: BLE001 - the state closed under us while stopping
                if not self._stopped.is_set():
                    log.exception("following %s generations stopped", self._name)
            finally:
                waiter.close()

        self._thread = threading.Thread(target=run, name="zone-broadcast", daemon=True)
        self._thread.start()

    def publish(self, digest: str) -> None:
        """Record this replica's successful reload as the next generation and announce it."""
        replica = getattr(self._store, "replica", "")
        with self._lock, self._store.write() as tx:
            generation = record_generation(tx, self._name, digest, replica)
            self._store.announce(tx, CHANNEL)
            self._seen = max(self._seen, generation)

    def catch_up(self) -> bool:
        """Serve the newest recorded generation if it is newer than the last one seen.

        Returns:
            Whether a newer generation was found (reloaded, or found equal, or a mismatch).
        """
        try:
            with self._store.read() as tx:
                generation, recorded = read_generation(tx, self._name)
        except Exception:  # noqa: BLE001 - the state is away: the next round retries
            log.exception("reading the %s generation failed", self._name)
            return False
        with self._lock:
            if generation <= self._seen:
                return False
            self._seen = generation
            if recorded == self._digest():
                return True
            try:
                served = self._reload()
            except (ValidationFailed, FailedPrecondition) as exc:  # invalid files, damaged store
                self._mismatch(recorded, self._digest(), f"own files invalid: {exc.message}")
                return True
        if served != recorded:
            self._mismatch(recorded, served, "own files give another set")
        else:
            log.info("%s reloaded to generation %d (%s)", self._name, generation, served)
        return True

    def stop(self) -> None:
        """Stop following (idempotent; the thread ends after its current wait, on its own)."""
        self._stopped.set()

    def _mismatch(self, recorded: str, served: str, why: str) -> None:
        log.error("%s: recorded %s, serving %s (%s)", self._name, recorded, served, why)
        self._on_mismatch(
            {"name": self._name, "recorded_digest": recorded, "serving_digest": served,
             "reason": why[:500]}
        )  # fmt: skip
