"""Background chores: a daemon thread that runs one piece of work every ``interval`` seconds.

Used for the cohort retention sweep and, on a shared state, settling the open work of dead
replicas. A round that raises is logged and the next round retries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``work()`` every ``interval`` seconds on a daemon thread until ``stop()``."""

    def __init__(self, name: str, work: Callable[[], int], interval: float, done: str) -> None:
        """Set up the chore (not started).

        Args:
            name: The thread's name (and the log's word for the chore).
            work: Returns how many things it did.
            interval: Seconds between rounds.
            done: A log message with one ``%d`` for a round that did something.
        """
        self._work = work
        self._interval = interval
        self._done = done
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the rounds."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                count = self._work()
            except Exception:  # noqa: BLE001 - keep going; the next round retries
                log.exception("%s failed", self._thread.name)
                continue
            if count:
                log.info(self._done, count)

    def stop(self) -> None:
        """Stop and wait for the thread (a round in progress finishes first)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
