"""Per-subject windows and per-model budgets: atomic, exact; a refused call changes nothing."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from zone.products.verification.limits import (
    CheckLimiter,
    CheckLog,
    ScoreBudgetExhausted,
    SubjectLimitReached,
    subjects_digest,
    take_score_budget,
)
from zone.products.verification.records import ProductRecords
from zone.state import StateStore

RECORDS = ProductRecords("v1", {f"s{i}": i for i in range(10)}, {})
HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def log(subjects: list[str], principal: str = "bank-a", kind: str = "match") -> CheckLog:
    return CheckLog("req", "rel", principal, "capital-match", kind, "testing",  # type: ignore[arg-type]
                    "\n".join(subjects), len(subjects))  # fmt: skip


def admit(
    limiter: CheckLimiter,
    subjects: list[str],
    principal: str = "bank-a",
    kind: str = "match",
    count_unknown: bool = False,
    zone_limit: int | None = None,
) -> None:
    rows = RECORDS.lookup(subjects)
    unknown = [s for s, r in zip(subjects, rows.tolist(), strict=True) if r < 0 and count_unknown]
    key = (principal, "capital-match", kind)
    admission = limiter.admitting(
        key,
        RECORDS,
        limit=2,
        window_hours=1.0,
        count_unknown=count_unknown,
        zone_limit=zone_limit,  # type: ignore[arg-type]
    )
    with admission as gate, limiter._store.write() as tx:
        gate.take(tx, log(subjects, principal, kind), rows[rows >= 0], unknown)


def logged(store: StateStore) -> int:
    with store.read() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM verification_checks").fetchone()[0])


def test_a_subject_is_checked_at_most_n_times_in_any_window(store: StateStore) -> None:
    clock = Clock()
    limiter = CheckLimiter(store, clock)
    admit(limiter, ["s1", "s2"])
    clock.now += 0.5 * HOUR
    admit(limiter, ["s1", "missing"])
    with pytest.raises(SubjectLimitReached) as refused:
        admit(limiter, ["s3", "s1"])
    assert refused.value.violations and "s1" not in refused.value.message
    assert logged(store) == 2  # the refused call wrote nothing
    admit(limiter, ["s3"])  # s3 was not counted by the refused call: 1 check so far
    clock.now += 0.5 * HOUR + 1  # the first check of s1 left the window
    admit(limiter, ["s1"])
    with pytest.raises(SubjectLimitReached):
        admit(limiter, ["s1"])


def test_not_found_subjects_are_logged_not_counted(store: StateStore) -> None:
    limiter = CheckLimiter(store, Clock())
    for _ in range(5):
        admit(limiter, ["missing"])
    assert logged(store) == 5


def test_hidden_membership_counts_unknown_subjects_like_known_ones(store: StateStore) -> None:
    clock = Clock()
    limiter = CheckLimiter(store, clock)
    for _ in range(2):
        admit(limiter, ["s1", "missing"], count_unknown=True)
    for subjects in (["missing"], ["s1"], ["other", "missing"]):  # both at the limit: refused
        with pytest.raises(SubjectLimitReached):
            admit(limiter, subjects, count_unknown=True)
    admit(limiter, ["other"], count_unknown=True)  # the refused call counted nothing
    rebuilt = CheckLimiter(store, clock)  # counts of unknown keys are read back from the log
    with pytest.raises(SubjectLimitReached):
        admit(rebuilt, ["missing"], count_unknown=True)
    clock.now += HOUR + 1  # the window forgets unknown keys too
    admit(limiter, ["missing"], count_unknown=True)
    assert "missing" in limiter._windows[("bank-a", "capital-match", "match")].unknown


def admitted(limiter: CheckLimiter, subjects: list[str], tries: int = 3, **kwargs: str) -> int:
    """How many of ``tries`` calls the limiter admits."""
    count = 0
    for _ in range(tries):
        try:
            admit(limiter, subjects, **kwargs)
            count += 1
        except SubjectLimitReached:
            pass
    return count


def test_windows_are_per_principal_and_kind(store: StateStore) -> None:
    clock = Clock()
    limiter = CheckLimiter(store, clock)
    assert admitted(limiter, ["s1"]) == 2  # bank-a's match window: the limit, then refused
    assert admitted(limiter, ["s1"], principal="bank-b") == 2  # a's checks took none of b's
    assert admitted(limiter, ["s1"], kind="score") == 2  # nor of a's own score window
    assert admitted(limiter, ["s1"], principal="bank-b", kind="score") == 2
    assert admitted(limiter, ["s1"]) == 0  # b's checks freed nothing of a's
    assert logged(store) == 8
    rebuilt = CheckLimiter(store, clock)  # windows read back from the log keep them apart
    for principal in ("bank-a", "bank-b"):
        for kind in ("match", "score"):
            assert admitted(rebuilt, ["s1"], 1, principal=principal, kind=kind) == 0
    assert admitted(rebuilt, ["s1"], principal="bank-c") == 2


def test_the_zone_wide_window_is_shared_by_every_principal(store: StateStore) -> None:
    clock = Clock()
    limiter = CheckLimiter(store, clock)
    admit(limiter, ["s1", "s2"], zone_limit=3)
    admit(limiter, ["s1"], principal="bank-b", zone_limit=3)
    admit(limiter, ["s1"], principal="bank-c", zone_limit=3)
    for principal in ("bank-b", "bank-d"):  # bank-b's own window has room: the zone's has not
        with pytest.raises(SubjectLimitReached) as refused:
            admit(limiter, ["s2", "s1"], principal=principal, zone_limit=3)
        assert refused.value.reason == "zone_subject_check_limit"
    assert logged(store) == 3
    admit(limiter, ["s2"], principal="bank-d", zone_limit=3)  # the refusal counted nothing
    admit(limiter, ["s1"], kind="score", zone_limit=3)  # scoring has its own zone window
    rebuilt = CheckLimiter(store, clock)  # read back from every principal's log rows
    with pytest.raises(SubjectLimitReached):
        admit(rebuilt, ["s1"], principal="bank-e", zone_limit=3)
    clock.now += HOUR + 1
    admit(rebuilt, ["s1"], principal="bank-e", zone_limit=3)


def test_counts_survive_a_restart(store: StateStore) -> None:
    clock = Clock()
    admit(CheckLimiter(store, clock), ["s1"])
    admit(CheckLimiter(store, clock), ["s1"])
    with pytest.raises(SubjectLimitReached):
        admit(CheckLimiter(store, clock), ["s1"])
    clock.now += HOUR + 1
    admit(CheckLimiter(store, clock), ["s1"])


def test_concurrent_calls_never_pass_the_limit(store: StateStore) -> None:
    limiter = CheckLimiter(store, Clock())
    outcomes: list[bool] = []

    def attempt() -> None:
        try:
            admit(limiter, ["s7"])
            outcomes.append(True)
        except SubjectLimitReached:
            outcomes.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 2 and logged(store) == 2


def test_log_row_keeps_whom_and_why(store: StateStore) -> None:
    admit(CheckLimiter(store, Clock()), ["s1", "missing"])
    with store.read() as conn:
        row = conn.execute(
            "SELECT principal, purpose, subjects, subjects_digest, subject_count "
            "FROM verification_checks"
        ).fetchone()
    assert row == ("bank-a", "testing", "s1\nmissing", subjects_digest("s1\nmissing"), 2)


def test_score_budget_is_exact_and_refusal_counts_nothing(store: StateStore) -> None:
    def take(count: int) -> None:
        with store.write() as conn:
            take_score_budget(conn, principal="p", product="x", model="m", count=count, budget=10)

    take(6)
    with pytest.raises(ScoreBudgetExhausted) as refused:
        take(5)
    assert "6 of 10" in refused.value.message
    take(4)
    with pytest.raises(ScoreBudgetExhausted):
        take(1)


def test_lookup_marks_unknown_keys() -> None:
    assert RECORDS.lookup(["s3", "nope"]).tolist() == [3, -1]
    assert np.isnan(
        ProductRecords("v", {"a": 0}, {"c": np.array([1.0])}).values("c", np.array([-1]))[0]
    )
