"""Score's encryptions of zero made by a worker process: fresh, each handed out once, bounded.

The worker pool is the process boundary: most tests run ``make_zeros`` in a thread pool (the
same function, the same bytes); the last ones start the real spawned, low-priority process.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from concurrent.futures import Executor, ThreadPoolExecutor

import hekit
import numpy as np
import pytest
import tenseal as ts

from zone.products.verification import zeros as zeros_module
from zone.products.verification.zeros import ZeroSupply, spawned_supply
from zone.wire.he_params import CKKS_SCORE

SIZE = CKKS_SCORE.max_ciphertext_bytes


def caller_view(vector: object) -> np.ndarray:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    return np.array(ts.ckks_vector_from(keys.context, vector.serialize()).decrypt())  # type: ignore[attr-defined]


def fingerprint(vector: object) -> str:
    return hashlib.sha256(vector.serialize()).hexdigest()  # type: ignore[attr-defined]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def supply(budget: int, pools: list[Executor], clock: Clock | None = None) -> ZeroSupply:
    def make() -> Executor:
        pools.append(ThreadPoolExecutor(1))
        return pools[-1]

    return ZeroSupply(make, budget, clock=clock or Clock())


def test_concurrent_takes_never_share_an_encryption_of_zero() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    pools: list[Executor] = []
    zeros = supply(12 * SIZE, pools)
    zeros.take("k", context, CKKS_SCORE, 6)  # sets the target; the worker fills the pool
    assert zeros.wait_until_ready("k", 12, timeout=60)
    taken: list[object] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(5):
            got = zeros.take("k", context, CKKS_SCORE, 2)
            with lock:
                taken.extend(got)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    zeros.close()
    assert len(taken) == 40
    assert len({fingerprint(v) for v in taken}) == 40  # pooled and inline alike: all distinct
    for vector in taken[:4]:
        assert np.abs(caller_view(vector)).max() < 1e-3  # and each encrypts zero


def test_the_pool_follows_the_sustained_rate_within_the_budget() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    pools: list[Executor] = []
    clock = Clock()
    zeros = supply(8 * SIZE, pools, clock)
    for _ in range(5):  # 5 calls of one block in the window: target 5
        zeros.take("k", context, CKKS_SCORE, 1)
        clock.now += 0.1
    assert zeros.wait_until_ready("k", 5, timeout=60)
    for _ in range(20):  # a burst of 20 in the window: target 21, capped by the budget (8)
        zeros.take("k", context, CKKS_SCORE, 1)
    assert zeros.wait_until_ready("k", 8, timeout=60)
    pools[0].shutdown(wait=True)
    assert zeros.ready("k") == 8  # never more than the budget holds
    clock.now += 10  # the burst is over: the target falls back to twice the largest call
    zeros.take("k", context, CKKS_SCORE, 1)
    assert zeros._supplies["k"].target == 2
    assert zeros.ready("k") == 7  # what was made is kept (within the budget), not refilled
    zeros.close()


def test_a_newer_key_takes_the_budget_from_older_ones() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    other = hekit.zone_context(CKKS_SCORE.name)
    pools: list[Executor] = []
    zeros = supply(4 * SIZE, pools)
    zeros.take("old", context, CKKS_SCORE, 2)
    assert zeros.wait_until_ready("old", 4, timeout=60)
    zeros.take("new", other, CKKS_SCORE, 2)
    assert zeros.wait_until_ready("new", 4, timeout=60)
    assert zeros.ready("old") == 0
    zeros.close()


def test_a_forgotten_key_keeps_nothing_not_even_late_refills() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    pools: list[Executor] = []
    zeros = supply(6 * SIZE, pools)
    zeros.take("k", context, CKKS_SCORE, 3)  # refills asked for
    zeros.forget("k")  # revoked while they are being made
    pools[0].shutdown(wait=True)  # every refill has landed
    assert zeros.ready("k") == 0
    zeros.close()


class Recording(ThreadPoolExecutor):
    """A one-thread pool that records whether each task carried the public context."""

    def __init__(self) -> None:
        super().__init__(1)
        self.blobs: list[bool] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.blobs.append(args[1] is not None)
        return super().submit(fn, *args, **kwargs)


def test_the_context_goes_to_the_worker_once_and_again_when_it_is_missing() -> None:
    pool = Recording()
    zeros = ZeroSupply(lambda: pool, 64 * SIZE, clock=Clock())
    context = hekit.zone_context(CKKS_SCORE.name)
    try:
        zeros_module._WORKER_CONTEXTS.clear()
        zeros.take("k", context, CKKS_SCORE, 4)  # target 8: several refill tasks
        assert zeros.wait_until_ready("k", 8, timeout=120)
        assert pool.blobs[0] and not any(pool.blobs[1:]) and len(pool.blobs) >= 2
        zeros_module._WORKER_CONTEXTS.clear()  # a worker that lost it (or a new one)
        sent = len(pool.blobs)
        zeros.take("k", context, CKKS_SCORE, 4)
        assert zeros.wait_until_ready("k", 8, timeout=120)  # refilled all the same
        assert not pool.blobs[sent] and any(pool.blobs[sent:])  # refused, then sent again
    finally:
        zeros.close()
        pool.shutdown()


def test_without_a_budget_every_one_is_made_inline() -> None:
    def no_pool() -> Executor:
        raise AssertionError("no worker without a budget")

    zeros = ZeroSupply(no_pool, 0)
    taken = zeros.take("k", hekit.zone_context(CKKS_SCORE.name), CKKS_SCORE, 2)
    assert len({fingerprint(v) for v in taken}) == 2
    assert spawned_supply(0, 10 * SIZE) is None and spawned_supply(1, 0) is None


def test_the_spawned_worker_runs_at_the_lowest_priority_and_survives_being_killed() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    zeros = spawned_supply(1, 4 * SIZE)
    assert zeros is not None
    try:
        zeros.warm()
        pool = zeros._pool
        assert pool is not None
        pid = pool.submit(os.getpid).result(timeout=120)
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        zeros.take("k", context, CKKS_SCORE, 2)
        assert zeros.wait_until_ready("k", 4, timeout=120)
        os.kill(pid, signal.SIGKILL)  # the worker this test started
        seen = {fingerprint(v) for _ in range(4) for v in zeros.take("k", context, CKKS_SCORE, 2)}
        assert len(seen) == 8  # ready ones, then inline ones: still fresh, still distinct
        for _ in range(60):  # the next takes replace the broken pool; a new worker refills
            zeros.take("k", context, CKKS_SCORE, 1)
            if zeros.wait_until_ready("k", 2, timeout=2):
                break
        assert zeros.ready("k") >= 2
        assert zeros._pool is not pool
    finally:
        zeros.close()


@pytest.mark.parametrize("count", [1, 3])
def test_taken_zeros_rerandomize_like_inline_ones(count: int) -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    pools: list[Executor] = []
    zeros = supply(6 * SIZE, pools)
    zeros.take("k", context, CKKS_SCORE, count)
    assert zeros.wait_until_ready("k", 2 * count, timeout=60)
    for vector in zeros.take("k", context, CKKS_SCORE, count):
        vector.add_plain_([1.5] * CKKS_SCORE.slot_count)  # type: ignore[attr-defined]
        assert np.abs(caller_view(vector) - 1.5).max() < 1e-3
    zeros.close()
