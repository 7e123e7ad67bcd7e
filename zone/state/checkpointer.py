"""Checkpoints of the SQLite state database's write-ahead log, off the call path.

By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: that commit
copies the log into the database file and fsyncs both, and the call waiting for it pays. A
serving zone instead turns automatic checkpoints off on its write connection and runs one
checkpoint per interval in this thread. It takes the store's writer lock for the checkpoint, so
that the whole log is copied and the next write transaction starts the log over (a checkpoint
running beside writers could never catch up with them under steady load, and the log would
grow without bound); calls wait for the lock only while one checkpoint runs. Durability is
SQLite's either way: a checkpoint never drops a committed transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Checkpointer:
    """Calls ``checkpoint`` every ``every`` seconds in a daemon thread until ``stop()``."""

    def __init__(self, checkpoint: Callable[[], None], every: float) -> None:
        if every <= 0:
            raise ValueError("the checkpoint interval must be positive")
        self._checkpoint = checkpoint
        self._every = every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zone-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for a checkpoint in progress to end (idempotent)."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self._checkpoint()
            except Exception:  # noqa: BLE001 - a missed checkpoint is retried next interval
                log.warning("state checkpoint failed; retrying later", exc_info=True)
