"""The retention sweep: a thread that erases cohorts whose ``retention_hours`` have passed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class RetentionSweeper:
    """Calls ``sweep()`` every ``interval`` seconds on a daemon thread until ``stop()``."""

    def __init__(self, sweep: Callable[[], int], interval: float) -> None:
        self._sweep = sweep
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zone-retention", daemon=True)

    def start(self) -> None:
        """Start sweeping."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                erased = self._sweep()
            except Exception:  # noqa: BLE001 - keep sweeping; the next round retries
                log.exception("retention sweep failed")
                continue
            if erased:
                log.info("retention sweep erased %d cohort(s)", erased)

    def stop(self) -> None:
        """Stop and wait for the thread (a sweep in progress finishes first)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
