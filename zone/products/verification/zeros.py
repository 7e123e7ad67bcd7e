"""Encryptions of zero for Score replies, made ahead in a worker process at the lowest priority.

Every Score reply is rerandomized with a fresh public-key encryption of zero under the caller's
key (``score``). Making one is the costliest step of a call (a third of the server's time on a
call of 2,048 subjects, measured with py-spy), and TenSEAL holds the GIL while it encrypts, so
a thread of the server cannot make them alongside the calls (``zone.wire.fresh`` pauses its
filler while a call runs for that reason, and under sustained load its pools stay empty). Here
a spawned worker process at nice 19 makes them from the caller's *public* context and sends
them back serialized; the server keeps them per key and loads one (about 0.7 ms) when a call
takes it. The worker runs on CPU the calls leave idle; when it cannot keep up, a call encrypts
its protection values directly (``take_ready`` gives what is ready; ``score.protect`` encrypts
the rest: the same ciphertext as ``Enc(0) + v``, one encoding fewer).

Sizing (sustained load): per key the target is the number taken in the last
``window_seconds``, and at least twice the largest call, within the memory budget
(``verification.precompute_bytes``) shared by every key, recently used keys first (older keys'
extras are dropped when a newer key needs the memory; a key keeps what it holds when only its
own rate falls). A take that leaves a key below its target asks the worker for more at once.

The guarantee does not change: each encryption of zero is fresh (SEAL's CSPRNG in the worker,
seeded from the OS), serialized once, handed out **once** (popped under a lock; the bytes are
dropped when loaded), never logged or written anywhere. Reusing one would let a caller
subtract two replies and cancel the rerandomization (tested: concurrent takes never share
one). The worker is a child of the server (spawned, never forked from grpc) and sees public
contexts only. Revoking a key drops its pool; refills that come back for a dropped key are
discarded.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import tenseal as ts

from zone.wire.fresh import encrypt_zero
from zone.wire.he_params import PARAM_SETS, ParamSet

log = logging.getLogger(__name__)

BATCH = 2
"""Encryptions of zero per worker task (amortizes sending the public context)."""

_WORKER_CONTEXTS: OrderedDict[str, Any] = OrderedDict()
"""In the worker: public contexts by digest, the 8 most recent."""


def lower_priority() -> None:
    """Worker initializer: the lowest CPU priority, so that calls come first."""
    os.nice(19)


class ContextMissing(Exception):
    """Raised in a worker asked for a public context it does not hold (asked again with it)."""


def make_zeros(digest: str, context_blob: bytes | None, param_set: str, count: int) -> list[bytes]:
    """In the worker: ``count`` fresh encryptions of zero under a public context, serialized.

    The context is sent (``context_blob``) only when the worker may not hold it yet.

    Raises:
        ContextMissing: no ``context_blob`` and the worker does not hold the context.
    """
    context = _WORKER_CONTEXTS.get(digest)
    if context is None:
        if context_blob is None:
            raise ContextMissing(digest)
        context = ts.context_from(context_blob, n_threads=1)
        _WORKER_CONTEXTS[digest] = context
        while len(_WORKER_CONTEXTS) > 8:
            _WORKER_CONTEXTS.popitem(last=False)
    _WORKER_CONTEXTS.move_to_end(digest)
    params = PARAM_SETS[param_set]
    return [bytes(encrypt_zero(context, params).serialize()) for _ in range(count)]


def spawned_supply(workers: int, budget_bytes: int) -> ZeroSupply | None:
    """A supply with ``workers`` spawned worker processes (None if 0 workers or no budget)."""
    if workers == 0 or budget_bytes == 0:
        return None
    context = multiprocessing.get_context("spawn")
    return ZeroSupply(
        lambda: ProcessPoolExecutor(workers, mp_context=context, initializer=lower_priority),
        budget_bytes,
    )


@dataclass
class _Supply:
    context: Any
    params: ParamSet
    blob: bytes = field(repr=False)
    digest: str
    ready: deque[bytes] = field(default_factory=deque, repr=False)
    asked: int = 0
    taken: deque[float] = field(default_factory=deque)
    largest: int = 0
    target: int = 0
    sent: Executor | None = field(default=None, repr=False)
    """The pool whose worker(s) were last sent the context (``make_zeros``)."""


class ZeroSupply:
    """Per key, encryptions of zero made by a worker process, each handed out once.

    Args:
        make_pool: Makes the worker pool (on first use, and again after it broke).
        budget_bytes: Memory for ready encryptions of zero, all keys together (0: none are
            made ahead; every one is made inline).
        window_seconds: How far back the sustained rate is counted.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        make_pool: Callable[[], Executor],
        budget_bytes: int,
        window_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_pool = make_pool
        self._budget = budget_bytes
        self._window = window_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._supplies: OrderedDict[str, _Supply] = OrderedDict()
        self._pool: Executor | None = None
        self._closed = False

    def take(self, key_id: str, context: Any, params: ParamSet, count: int) -> list[Any]:
        """``count`` fresh encryptions of zero under ``context``, never handed out before.

        Ready ones are loaded; the rest are made inline. Asks the worker for refills.
        """
        zeros = self.take_ready(key_id, context, params, count)
        while len(zeros) < count:
            zeros.append(encrypt_zero(context, params))
        return zeros

    def take_ready(self, key_id: str, context: Any, params: ParamSet, count: int) -> list[Any]:
        """Up to ``count`` ready encryptions of zero, loaded (none made inline; see ``take``).

        For a caller that encrypts its values directly where none is ready (the same as
        ``Enc(0) + m``: SEAL encrypts ``m`` that way).
        """
        blobs: list[bytes] = []
        with self._lock:
            if self._budget > 0 and not self._closed:
                supply = self._supply(key_id, context, params)
                now = self._clock()
                supply.taken.extend([now] * count)
                while supply.taken and supply.taken[0] < now - self._window:
                    supply.taken.popleft()
                supply.largest = max(supply.largest, count)
                supply.target = max(2 * supply.largest, len(supply.taken))
                while supply.ready and len(blobs) < count:
                    blobs.append(supply.ready.popleft())
                self._refill(key_id, supply)
        return [ts._ts_cpp.CKKSVector(context.data, blob) for blob in blobs]

    def warm(self) -> None:
        """Start the worker now (a key was registered: calls are coming), not on first take."""
        with self._lock:
            if self._budget > 0 and not self._closed and self._pool is None:
                self._pool = self._make_pool()
                self._pool.submit(os.getpid)  # spawns the process

    def ready(self, key_id: str) -> int:
        """How many encryptions of zero are ready for ``key_id``."""
        with self._lock:
            supply = self._supplies.get(key_id)
            return len(supply.ready) if supply else 0

    def wait_until_ready(self, key_id: str, count: int, timeout: float) -> bool:
        """Wait until ``count`` are ready for ``key_id`` (tests, benchmarks)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.ready(key_id) >= count, timeout)

    def forget(self, key_id: str) -> None:
        """Drop a key's encryptions of zero (the key was revoked)."""
        with self._lock:
            self._supplies.pop(key_id, None)

    @contextmanager
    def computing(self) -> Iterator[None]:
        """A call runs (nothing to pause: the worker has the lowest priority)."""
        yield

    def close(self) -> None:
        """Drop every pool and stop the worker."""
        with self._lock:
            self._closed = True
            self._supplies.clear()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # --- refills ------------------------------------------------------------------------------

    def _supply(self, key_id: str, context: Any, params: ParamSet) -> _Supply:
        supply = self._supplies.get(key_id)
        if supply is None or supply.context is not context:  # a reloaded context starts afresh
            blob = bytes(
                context.serialize(
                    save_public_key=True,
                    save_secret_key=False,
                    save_galois_keys=False,
                    save_relin_keys=False,
                )
            )
            digest = hashlib.sha256(blob).hexdigest()
            supply = _Supply(context, params, blob, digest)
            self._supplies[key_id] = supply
        self._supplies.move_to_end(key_id)
        return supply

    def _room(self, key_id: str) -> int:
        """How many more ``key_id`` may hold or ask for; older keys give way to newer ones."""
        left, room = self._budget, 0
        for other_id in reversed(self._supplies):  # most recently used first
            supply = self._supplies[other_id]
            size = supply.params.max_ciphertext_bytes
            share = left // size
            while supply.ready and len(supply.ready) + supply.asked > share:
                supply.ready.pop()  # over its share of the budget: dropped
            if other_id == key_id:
                room = min(supply.target, share) - len(supply.ready) - supply.asked
            left = max(0, left - (len(supply.ready) + supply.asked) * size)
        return max(0, room)

    def _refill(self, key_id: str, supply: _Supply) -> None:
        wanted = self._room(key_id)
        if wanted <= 0 or self._closed:
            return
        if self._pool is None:
            self._pool = self._make_pool()
        pool = self._pool
        while wanted > 0:
            count = min(BATCH, wanted)
            wanted -= count
            supply.asked += count
            blob = None if supply.sent is pool else supply.blob  # once per pool, not per task
            try:
                future = pool.submit(make_zeros, supply.digest, blob, supply.params.name, count)
            except (BrokenExecutor, RuntimeError):
                supply.asked -= count
                self._replace(pool)
                return
            supply.sent = pool
            future.add_done_callback(partial(self._landed, key_id, supply, pool, count))

    def _landed(
        self, key_id: str, supply: _Supply, pool: Executor, count: int, done: Future[list[bytes]]
    ) -> None:
        with self._lock:
            supply.asked -= count
            if done.cancelled():
                return
            error = done.exception()
            if isinstance(error, ContextMissing):  # a worker without it: send it again
                supply.sent = None
                self._refill(key_id, supply)
                return
            if error is not None:
                log.error("making encryptions of zero failed (%s); calls make their own", error)
                if isinstance(error, BrokenExecutor):
                    self._replace(pool)
                return
            if self._supplies.get(key_id) is not supply or self._closed:
                return  # forgotten (revoked) or reloaded: discarded
            supply.ready.extend(done.result())
            self._changed.notify_all()
            self._refill(key_id, supply)

    def _replace(self, broken: Executor) -> None:
        """Forget a broken pool (the next refill makes a new one)."""
        if self._pool is broken:
            self._pool = None
            broken.shutdown(wait=False, cancel_futures=True)
