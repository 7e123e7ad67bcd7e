"""Work that contract tests run in other processes, against a state they open themselves.

Spawned processes (never forked: the parent runs threads) import this module by name, so it
lives on the tests' path rather than in a test module.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any

from zone.audit import AuditChain
from zone.ledger import Account, Amount, BudgetExhausted, PrivacyLedger
from zone.state.location import PoolOptions, StateLocation
from zone.state.opening import open_state

POOL = PoolOptions(min_connections=1, max_connections=16)


def reserve_tenths(location: StateLocation, worker: int, count: int, start: Any) -> list[bool]:
    """Reserve epsilon 0.1 ``count`` times at once (threads) against a budget of 1.0."""
    state = open_state(location, POOL)
    try:
        ledger = PrivacyLedger(state, AuditChain(state))
        account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
        ready = threading.Barrier(count)

        def one(i: int) -> bool:
            ready.wait()
            try:
                ledger.reserve(account, product="p", cost=Amount.cost(0.1),
                               request_id=f"{worker}-{i}")  # fmt: skip
            except BudgetExhausted:
                return False
            return True

        start.wait()
        return run_threads(count, one)
    finally:
        state.close()


def append_entries(location: StateLocation, worker: int, count: int, start: Any) -> int:
    """Append ``count`` audit entries from 4 threads; return how many were appended."""
    state = open_state(location, POOL)
    try:
        audit = AuditChain(state)
        start.wait()
        done = run_threads(4, lambda t: [audit.append("test", {"w": worker, "t": t, "i": i})
                                         for i in range(count // 4)])  # fmt: skip
        return sum(len(d) for d in done)
    finally:
        state.close()


def run_threads(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(0..n-1)`` on ``n`` threads; return the results (re-raising the first error)."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def in_processes(target: Callable[..., Any], argsets: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args, start)`` in one spawned process per argument tuple, started together."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(len(argsets))
        with ctx.Pool(len(argsets)) as pool:
            pending = [pool.apply_async(target, (*args, start)) for args in argsets]
            return [p.get(timeout=120) for p in pending]


def take_consents(
    location: StateLocation, worker: int, subjects: Sequence[tuple[str, str]], start: Any
) -> list[list[str]]:
    """Use each ``(subject, consent id)`` once, one call each, then all in one call: reasons."""
    from datetime import UTC, datetime

    from zone.consent import ConsentScope, check_and_consume

    state = open_state(location, POOL)
    try:
        scope = ConsentScope("bank-a", "capital-match", "credit", "operator", f"w{worker}")
        now = datetime.now(UTC)
        one_by_one = []
        start.wait()
        for pair in subjects[: len(subjects) // 2]:
            with state.write() as tx:
                [outcome] = check_and_consume(tx, scope, [pair], now=now)
            one_by_one.append(outcome.reason)
        with state.write() as tx:
            together = check_and_consume(tx, scope, subjects[len(subjects) // 2 :], now=now)
        return [one_by_one, [o.reason for o in together]]
    finally:
        state.close()
