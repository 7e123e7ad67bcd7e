"""Per-subject check windows stay exact across processes sharing one state (replicas).

Each ``CheckLimiter`` keeps its windows in memory; inside an admission's write transaction it
first counts the log rows other processes wrote since it last looked. Here two limiters (two
replicas) on two connections to the same state, and calls from threads racing across both,
never let a subject be checked more often than the window allows, per principal or
zone-wide; a replica's restart (a fresh limiter) counts what the others logged.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from zone.products.verification.limits import CheckLimiter, CheckLog, SubjectLimitReached
from zone.products.verification.records import ProductRecords
from zone.state.api import State
from zone.state.location import StateLocation
from zone.state.opening import open_state

from .conftest import POOL

RECORDS = ProductRecords("v1", {f"s{i}": i for i in range(10)}, {})
LIMIT = 3


def _admit(limiter: CheckLimiter, store: State, principal: str, subjects: list[str]) -> bool:
    rows = RECORDS.lookup(subjects)
    log = CheckLog("req", "rel", principal, "capital-match", "match", "testing",
                   "\n".join(subjects), len(subjects))  # fmt: skip
    try:
        with (
            limiter.admitting(
                (principal, "capital-match", "match"),
                RECORDS,
                limit=LIMIT,
                window_hours=1.0,
                zone_limit=LIMIT + 1,
            ) as gate,
            store.write() as tx,
        ):
            gate.take(tx, log, rows[rows >= 0])
    except SubjectLimitReached:
        return False
    return True


def test_two_replicas_in_turn_share_the_window(state: State, state_location: StateLocation) -> None:
    other = open_state(state_location, POOL)
    try:
        replicas = [(CheckLimiter(state), state), (CheckLimiter(other), other)]
        admitted = [_admit(*replicas[i % 2], "bank-a", ["s1"]) for i in range(2 * LIMIT)]
        assert admitted == [True] * LIMIT + [False] * LIMIT  # not LIMIT per replica
        # the zone-wide window (LIMIT + 1) counts every principal on every replica
        assert _admit(*replicas[1], "bank-b", ["s1"])
        assert not _admit(*replicas[0], "bank-c", ["s1"])
        assert not _admit(CheckLimiter(other), other, "bank-d", ["s1"])  # a restarted replica
        assert _admit(*replicas[0], "bank-a", ["s2"])
    finally:
        other.close()


@pytest.mark.parametrize("threads", [8])
def test_racing_calls_across_replicas_never_pass_the_limit(
    state: State, state_location: StateLocation, threads: int
) -> None:
    other = open_state(state_location, POOL)
    try:
        replicas = [(CheckLimiter(state), state), (CheckLimiter(other), other)]
        barrier = threading.Barrier(threads)
        outcomes: list[bool] = []

        def call(i: int) -> None:
            barrier.wait()
            outcomes.append(_admit(*replicas[i % 2], "bank-a", ["s5", "s6"]))

        workers = [threading.Thread(target=call, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert outcomes.count(True) == LIMIT
        with state.read() as tx:
            logged = tx.execute("SELECT COUNT(*) FROM verification_checks").fetchone()[0]
        assert logged == LIMIT
        assert np.all(replicas[0][0]._windows[("bank-a", "capital-match", "match")].counts >= 0)
    finally:
        other.close()
