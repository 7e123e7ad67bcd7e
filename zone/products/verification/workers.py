"""Where Match's evaluations run: worker processes, or the calling thread for small calls.

The composition root (``zone.server.wiring``) makes the pool, a ``ProcessPoolExecutor`` whose
workers are *spawned* (a fork of a process running grpcio is unsafe), sized by
``verification.workers``. A call's claim columns are cut into runs of consecutive subjects,
one run per worker at most and none under :data:`MIN_PART` subjects (below that the round trip
to a worker costs more than the group operations), and the runs are evaluated at once.
Workers receive the per-call secret and plain data (``pet.ClaimBatch``), never the master
secret, and hold nothing between calls.

A worker that dies (killed, out of memory) breaks a ``ProcessPoolExecutor`` for good; the
call that saw it fails, and the next call gets a new pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor

from zone.products.verification.pet import ClaimBatch, evaluate_batch, split_batch

log = logging.getLogger(__name__)

MIN_PART = 64
"""Fewest subjects worth sending to a worker (measured: about 0.3 ms of round trip)."""


class MatchWorkers:
    """Evaluates claim batches on a pool of ``workers`` processes (inline when 0).

    Args:
        make_pool: Makes the pool (called on first use and after a pool broke); None with
            ``workers == 0``.
        workers: How many processes the pool has.
    """

    def __init__(self, make_pool: Callable[[], Executor] | None, workers: int) -> None:
        if (make_pool is None) != (workers == 0):
            raise ValueError("a pool maker goes with workers > 0, and only then")
        self._make_pool = make_pool
        self._workers = workers
        self._pool: Executor | None = None
        self._lock = threading.Lock()

    def parts(self, subjects: int) -> int:
        """Runs a batch of ``subjects`` subjects is cut into (1: evaluated inline)."""
        return max(1, min(self._workers, subjects // MIN_PART))

    def evaluate(self, secret: bytes, batches: Sequence[ClaimBatch]) -> list[bytes]:
        """``pet.evaluate_batch`` of every batch, in order, the runs in parallel.

        Raises:
            InvalidElement: a blinded element is not acceptable (checked before admission,
                so this means a bug).
            BrokenExecutor: a worker died (the pool is replaced for the next call).
        """
        pieces = [split_batch(batch, self.parts(len(batch.subjects))) for batch in batches]
        if all(len(p) == 1 for p in pieces):
            return [evaluate_batch(secret, batch) for batch in batches]
        pool = self._current()
        try:
            futures = [[pool.submit(evaluate_batch, secret, run) for run in p] for p in pieces]
            return [b"".join(f.result() for f in runs) for runs in futures]
        except BrokenExecutor:
            self._replace(pool)
            raise

    def close(self) -> None:
        """Stop the workers (waits for running evaluations)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _current(self) -> Executor:
        with self._lock:
            if self._pool is None:
                assert self._make_pool is not None
                self._pool = self._make_pool()
            return self._pool

    def _replace(self, broken: Executor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        log.error("a Match worker process died; its pool is replaced")
        broken.shutdown(wait=False, cancel_futures=True)
