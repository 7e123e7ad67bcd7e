"""Fresh encryptions of zero under callers' public keys, made while the zone is idle.

Every Score reply is rerandomized by adding a fresh public-key encryption of zero under the
caller's key (``zone.products.verification.score``), and the SDK encrypts features the same
way. Making one is the most expensive step of a small call (about 4 ms for ``ckks-8192`` here,
a third of the zone's own work on a one-subject Score), yet it depends on nothing but the
caller's public key. So the
zone makes them ahead of time, between calls, and keeps a few per recently used key.

The guarantee does not change: each encryption of zero is a fresh encryption (fresh
randomness from SEAL's CSPRNG), handed out **once** (popped under a lock, never copied or
returned to the pool) and used for one reply slot-vector only; when none is ready one is
made inline, as before. Reusing one would let a caller subtract two replies and cancel the
rerandomization, which is why nothing here ever gives the same object twice (tested).

Scheduling: one daemon thread fills the pools, and only once no Match or Score call has run in
this process for a few milliseconds (:meth:`FreshZeros.computing`): TenSEAL holds the GIL
while it encrypts, so the filler never competes with a call beyond the one encryption
(milliseconds) it may be finishing when a call arrives; under continuous load the pools stay
empty and calls encrypt inline. The thread exits after ``linger_seconds`` with nothing to do
(and starts again with the next call). Per key the target is the largest number
one call has taken; all pools together stay under ``budget_bytes``, given to the most recently
used keys first (older keys' pools are trimmed). Revoking a key drops its pool.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import tenseal as ts

from zone.wire.he_params import ParamSet

logger = logging.getLogger(__name__)

_INSTANCES: weakref.WeakSet[FreshZeros] = weakref.WeakSet()
"""Every pool of this process, reset in a forked child (the SDK may run in programs that fork)."""


def _reset_after_fork() -> None:
    for instance in list(_INSTANCES):
        instance._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def encrypt_zero(context: Any, params: ParamSet) -> Any:
    """A fresh public-key encryption of the all-zero vector (TenSEAL's C++ vector, CKKS)."""
    return ts._ts_cpp.CKKSVector(context.data, [0.0] * params.slot_count, context.global_scale)


@dataclass
class _Pool:
    context: Any
    params: ParamSet
    target: int
    ready: list[Any] = field(default_factory=list)


class FreshZeros:
    """Pools of encryptions of zero per key, each handed out once (see the module docstring).

    Args:
        budget_bytes: Memory the pools may hold in all (0 turns precomputation off: every
            encryption of zero is then made inline).
        make: Makes one encryption of zero (tests pass a counting wrapper).
    """

    def __init__(
        self,
        budget_bytes: int,
        make: Callable[[Any, ParamSet], Any] = encrypt_zero,
        settle_seconds: float = 0.005,
        linger_seconds: float = 30.0,
    ) -> None:
        self._budget = budget_bytes
        self._make = make
        self._settle = settle_seconds
        self._linger = linger_seconds
        self._cond = threading.Condition()
        self._pools: OrderedDict[str, _Pool] = OrderedDict()
        self._computing = 0
        self._idle_since = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None
        _INSTANCES.add(self)

    def _after_fork(self) -> None:
        """In a forked child: no filler thread exists and the lock may have been held."""
        self._cond = threading.Condition()
        self._thread = None
        self._computing = 0

    def take(self, key_id: str, context: Any, params: ParamSet, count: int) -> list[Any]:
        """``count`` fresh encryptions of zero under ``context``, never handed out before.

        Ready ones are popped from the key's pool; the rest are made inline. The call also
        tells the filler that this key wants ``count`` ready for its next call.
        """
        taken = self.take_ready(key_id, context, params, count)
        while len(taken) < count:
            taken.append(self._make(context, params))
        return taken

    def take_ready(self, key_id: str, context: Any, params: ParamSet, count: int) -> list[Any]:
        """Up to ``count`` of the key's ready encryptions of zero (none made inline).

        For a caller that encrypts its own values where none is ready: SEAL encrypts ``m``
        as a fresh public-key encryption of zero plus ``m``, so ``Enc(m)`` made directly is
        the same as ``Enc(0) + m`` and saves encoding the zero vector and adding.
        """
        taken: list[Any] = []
        with self._cond:
            if self._budget > 0 and not self._closed:
                pool = self._pools.get(key_id)
                if pool is None or pool.context is not context:
                    pool = _Pool(context, params, 0)  # a reloaded context starts afresh
                    self._pools[key_id] = pool
                self._pools.move_to_end(key_id)
                pool.target = max(pool.target, count)
                while pool.ready and len(taken) < count:
                    taken.append(pool.ready.pop())
                self._trim()
                self._start_filler()
                self._cond.notify_all()
        return taken

    def forget(self, key_id: str) -> None:
        """Drop a key's pool (the key was revoked)."""
        with self._cond:
            self._pools.pop(key_id, None)

    @contextmanager
    def computing(self) -> Iterator[None]:
        """Mark a Match or Score call as running (the filler pauses).

        The filler resumes once no call has run for ``settle_seconds`` (time for the reply to
        be serialized and sent).
        """
        with self._cond:
            self._computing += 1
        try:
            yield
        finally:
            with self._cond:
                self._computing -= 1
                self._idle_since = time.monotonic()
                self._cond.notify_all()

    def ready(self, key_id: str) -> int:
        """How many encryptions of zero are ready for ``key_id``."""
        with self._cond:
            pool = self._pools.get(key_id)
            return len(pool.ready) if pool else 0

    def wait_until_filled(self, timeout: float) -> bool:
        """Wait until every pool holds its target within the budget (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._wanted() is None, timeout)

    def close(self) -> None:
        """Stop the filler and drop every pool."""
        with self._cond:
            self._closed = True
            self._pools.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- the filler -------------------------------------------------------------------------

    def _start_filler(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._fill, name="zone-fresh-zeros", daemon=True)
            self._thread.start()

    def _allowances(self) -> Iterator[tuple[str, _Pool, int]]:
        """Per key, most recently used first: how many it may hold (its target, in budget)."""
        left = self._budget
        for key_id in reversed(self._pools):
            pool = self._pools[key_id]
            size = pool.params.max_ciphertext_bytes
            allowed = min(pool.target, left // size)
            left -= allowed * size
            yield key_id, pool, allowed

    def _trim(self) -> None:
        """Drop what older keys hold beyond their allowance (the budget is for recent keys)."""
        for _, pool, allowed in self._allowances():
            del pool.ready[allowed:]

    def _wanted(self) -> tuple[str, _Pool] | None:
        """The most recently used key whose pool is below its allowance."""
        for key_id, pool, allowed in self._allowances():
            if len(pool.ready) < allowed:
                return key_id, pool
        return None

    def _fill(self) -> None:
        while True:
            with self._cond:
                woke = self._cond.wait_for(
                    lambda: self._closed or (self._computing == 0 and self._wanted() is not None),
                    self._linger,
                )
                if self._closed or not woke:  # closed, or nothing to do for a while: exit
                    self._thread = None  # the next take starts a new filler
                    return
                settling = self._idle_since + self._settle - time.monotonic()
                if settling > 0:
                    self._cond.wait(settling)
                    continue
                wanted = self._wanted()
            if wanted is None:  # pragma: no cover - the wait just saw one
                continue
            key_id, pool = wanted
            try:
                zero = self._make(pool.context, pool.params)
            except Exception:  # noqa: BLE001 - calls then encrypt inline (and see the error)
                logger.exception("precomputing an encryption of zero failed; pool dropped")
                self.forget(key_id)
                continue
            with self._cond:
                if self._pools.get(key_id) is pool and not self._closed:
                    pool.ready.append(zero)
                    self._cond.notify_all()
