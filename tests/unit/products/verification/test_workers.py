"""Match's evaluations on worker processes: the same bytes as inline, small calls stay inline,
a dead worker fails its call and the next call gets a new pool."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from typing import Any

import pytest

from zone.products.verification.pet import ClaimBatch, call_secret, evaluate_batch, new_nonce
from zone.products.verification.workers import MIN_PART, MatchWorkers
from zone.wire.oprf import blind_claims, read_matches


def batch(count: int, tolerance: int = 1) -> tuple[ClaimBatch, Any]:
    subjects = tuple(f"s{i}" for i in range(count))
    recorded = tuple(100 + i for i in range(count))
    blinded = blind_claims("p", "c", 1.0, subjects, [100 + i + (i % 3) for i in range(count)])
    return ClaimBatch("p", "c", 1.0, tolerance, subjects, recorded, blinded.elements), blinded


class Recording(Executor):
    """An executor that runs in this process and records what it was asked to run."""

    def __init__(self) -> None:
        self.submitted: list[int] = []
        self.broken = False

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if self.broken:
            raise BrokenExecutor("a worker died")
        from concurrent.futures import Future

        self.submitted.append(len(args[1].subjects))
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_runs_are_cut_by_workers_and_the_answer_is_the_same() -> None:
    pools: list[Recording] = []

    def make() -> Recording:
        pools.append(Recording())
        return pools[-1]

    workers = MatchWorkers(make, 2)
    secret = call_secret(os.urandom(32), new_nonce())
    big, blinded = batch(3 * MIN_PART)
    small, _ = batch(MIN_PART - 1)
    replies = workers.evaluate(secret, [big, small])
    assert pools[0].submitted == [3 * MIN_PART // 2] * 2 + [MIN_PART - 1]  # small one: whole
    assert read_matches(blinded, replies[0], 1) == [i % 3 < 2 for i in range(3 * MIN_PART)]
    assert replies[1][:32] == evaluate_batch(secret, small)[:32]  # same keys, same E
    inline = MatchWorkers(None, 0)
    assert inline.parts(10_000) == 1
    assert read_matches(blinded, inline.evaluate(secret, [big])[0], 1) == read_matches(
        blinded, replies[0], 1
    )


def test_a_broken_pool_fails_the_call_and_is_replaced() -> None:
    pools: list[Recording] = []

    def make() -> Recording:
        pools.append(Recording())
        return pools[-1]

    workers = MatchWorkers(make, 2)
    secret = call_secret(os.urandom(32), new_nonce())
    big, _ = batch(2 * MIN_PART)
    workers.evaluate(secret, [big])
    pools[0].broken = True
    with pytest.raises(BrokenExecutor):
        workers.evaluate(secret, [big])
    workers.evaluate(secret, [big])
    assert len(pools) == 2 and pools[1].submitted == [MIN_PART, MIN_PART]


def test_spawned_workers_give_the_same_matches() -> None:
    context = multiprocessing.get_context("spawn")
    workers = MatchWorkers(lambda: ProcessPoolExecutor(2, mp_context=context), 2)
    try:
        secret = call_secret(os.urandom(32), new_nonce())
        big, blinded = batch(2 * MIN_PART, tolerance=0)
        (reply,) = workers.evaluate(secret, [big])
        assert read_matches(blinded, reply, 0) == [i % 3 == 0 for i in range(2 * MIN_PART)]
    finally:
        workers.close()
