"""Precomputed encryptions of zero: fresh, each handed out once, made only while idle, bounded."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import hekit
import numpy as np
import pytest
import tenseal as ts

from zone.wire.fresh import FreshZeros, encrypt_zero
from zone.wire.he_params import CKKS_SCORE, ParamSet

ONE = CKKS_SCORE.max_ciphertext_bytes


class Counting:
    """``encrypt_zero`` that counts the encryptions made, and by which thread."""

    def __init__(self) -> None:
        self.inline = 0
        self.ahead = 0
        self.lock = threading.Lock()

    def __call__(self, context: Any, params: ParamSet) -> Any:
        with self.lock:
            if threading.current_thread().name == "zone-fresh-zeros":
                self.ahead += 1
            else:
                self.inline += 1
        return encrypt_zero(context, params)


def decrypt(params: ParamSet, vector: Any) -> np.ndarray:
    keys = hekit.caller_keys(params.name)
    return np.array(ts.ckks_vector_from(keys.context, vector.serialize()).decrypt())


def test_zeros_are_fresh_encryptions_of_zero_under_the_callers_key() -> None:
    for params in (CKKS_SCORE,):
        context = hekit.zone_context(params.name)
        pool = FreshZeros(budget_bytes=8 * params.max_ciphertext_bytes)
        try:
            (first,) = pool.take("k", context, params, 1)  # inline: nothing ready yet
            assert pool.wait_until_filled(timeout=30)
            (second,) = pool.take("k", context, params, 1)  # made ahead
        finally:
            pool.close()
        for zero in (first, second):
            wrapped = ts.CKKSVector._wrap(zero)
            assert np.abs(decrypt(params, wrapped)).max() < 1e-3
        assert first.serialize() != second.serialize()


def test_no_encryption_is_ever_handed_out_twice() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    made = Counting()
    pool = FreshZeros(budget_bytes=6 * ONE, make=made)
    kept: list[Any] = []  # alive, so that no id is reused
    try:
        for round_ in range(6):
            if round_ % 2:
                assert pool.wait_until_filled(timeout=30)
            kept += pool.take("k", context, CKKS_SCORE, 4)
    finally:
        pool.close()
    assert len({id(zero) for zero in kept}) == len(kept) == 24
    assert len({bytes(zero.serialize()) for zero in kept}) == 24
    assert made.ahead >= 8 and made.inline >= 4  # both paths were exercised


def test_the_filler_waits_while_a_computation_runs() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    made = Counting()
    pool = FreshZeros(budget_bytes=32 * ONE, make=made)
    try:
        with pool.computing():
            pool.take("k", context, CKKS_SCORE, 3)
            time.sleep(0.3)
            assert made.ahead == 0 and pool.ready("k") == 0
        assert pool.wait_until_filled(timeout=30)
        assert pool.ready("k") == 3  # the target is the largest take seen
    finally:
        pool.close()


def test_pools_stay_within_the_budget_most_recent_key_first() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    other = hekit.zone_context(CKKS_SCORE.name)
    pool = FreshZeros(budget_bytes=5 * ONE)
    try:
        pool.take("old", context, CKKS_SCORE, 4)
        assert pool.wait_until_filled(timeout=30)
        assert pool.ready("old") == 4
        pool.take("new", other, CKKS_SCORE, 4)
        assert pool.wait_until_filled(timeout=30)
        assert (pool.ready("new"), pool.ready("old")) == (4, 1)  # old trimmed to the budget
        pool.take("old", context, CKKS_SCORE, 4)  # old is now the most recent: refilled first
        assert pool.wait_until_filled(timeout=30)
        assert (pool.ready("old"), pool.ready("new")) == (4, 1)
    finally:
        pool.close()


@pytest.fixture
def pool() -> Iterator[FreshZeros]:
    """A pool for a few encryptions, with key "k" already asking for two."""
    pool = FreshZeros(budget_bytes=8 * ONE)
    pool.take("k", hekit.zone_context(CKKS_SCORE.name), CKKS_SCORE, 2)
    yield pool
    pool.close()


def test_forget_drops_the_pool_and_zero_budget_precomputes_nothing(pool: FreshZeros) -> None:
    assert pool.wait_until_filled(timeout=30) and pool.ready("k") == 2
    pool.forget("k")
    assert pool.ready("k") == 0
    context = hekit.zone_context(CKKS_SCORE.name)
    made = Counting()
    off = FreshZeros(budget_bytes=0, make=made)
    assert len(off.take("k", context, CKKS_SCORE, 3)) == 3
    time.sleep(0.2)
    assert made.inline == 3 and made.ahead == 0 and off.ready("k") == 0
    off.close()


def test_a_failing_encryption_in_the_filler_drops_the_pool_and_keeps_serving() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    calls = {"n": 0}

    def flaky(ctx: Any, params: ParamSet) -> Any:
        calls["n"] += 1
        if threading.current_thread().name == "zone-fresh-zeros":
            raise RuntimeError("boom")
        return encrypt_zero(ctx, params)

    pool = FreshZeros(budget_bytes=8 * ONE, make=flaky)
    try:
        pool.take("k", context, CKKS_SCORE, 2)
        deadline = time.monotonic() + 10
        while calls["n"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.ready("k") == 0
        assert len(pool.take("k", context, CKKS_SCORE, 2)) == 2  # inline still works
    finally:
        pool.close()


def test_a_forked_child_gets_a_working_pool(pool: FreshZeros) -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    with pool._cond:  # the parent holds the lock while it forks: the child must not inherit it
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            signal.alarm(30)  # a child stuck on the inherited lock dies instead of hanging
            ok = len(pool.take("k", context, CKKS_SCORE, 3)) == 3
            ok = ok and pool.wait_until_filled(timeout=30)
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_take_ready_makes_none_inline_and_hands_each_out_once() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    pool = FreshZeros(budget_bytes=8 * CKKS_SCORE.max_ciphertext_bytes)
    try:
        assert pool.take_ready("k", context, CKKS_SCORE, 2) == []  # asks for 2, makes none
        assert pool.wait_until_filled(timeout=30) and pool.ready("k") == 2
        first = pool.take_ready("k", context, CKKS_SCORE, 3)  # only the 2 ready ones
        assert len(first) == 2 and pool.ready("k") == 0
        assert pool.wait_until_filled(timeout=30)
        second = pool.take_ready("k", context, CKKS_SCORE, 1)
    finally:
        pool.close()
    blobs = [bytes(zero.serialize()) for zero in first + second]
    assert len(set(blobs)) == 3
