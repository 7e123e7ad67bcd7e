"""Operator reports kept between requests equal reports counted from scratch, at every point."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zone.admin.evaluation import Evaluations, report_from
from zone.audit import AuditChain
from zone.state import StateStore

MONTH = datetime.now(UTC).strftime("%Y-%m")


def _charge(n: int, who: str, release: str) -> tuple[str, dict]:
    return "metering.charge", {
        "usage_id": f"u{n}", "release_id": release, "time": datetime.now(UTC).isoformat(),
        "principal": who, "product": "s", "currency": "CNY", "amount_micro": 50_000 + n,
        "shares": {"prov": 50_000 + n},
    }  # fmt: skip


def _record(step: tuple[int, int], n: int) -> tuple[str, dict]:
    kind, who_index = step
    who = ("bank-a", "city")[who_index]
    return [
        ("rpc", {"principal": who, "status": "OK"}),
        ("rpc", {"principal": who, "status": "PERMISSION_DENIED"}),
        ("rpc", {"principal": who, "status": "INTERNAL"}),
        ("release", {"principal": who, "release_id": f"r{n}"}),
        ("job.created", {"principal": who, "job_id": f"j{n}"}),
        ("job.transition", {"principal": who, "job_id": f"j{n}", "state": "cancelled"}),
        ("ledger.charge", {"principal": who, "release_id": f"r{n}", "epsilon_micro": 1000 + n}),
        ("ledger.refund", {"principal": who, "release_id": f"r{n - 3}", "epsilon_micro": 7}),
        _charge(n, who, f"r{n}"),
        ("metering.void", {"principal": who, "usage_id": f"u{n - 2}"}),
        ("ledger.failed", {"release_id": f"r{n - 1}", "reason": "interrupted"}),  # no principal
        ("alert.raised", {"principal": who, "rule": "x"}),
    ][kind]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.integers(0, 11), st.integers(0, 1)), max_size=15), max_size=5
    )
)
def test_kept_reports_equal_fresh_ones(store: StateStore, batches) -> None:
    chain = AuditChain(store)
    kept = Evaluations(store)  # extended with the new records at each report
    evicting = Evaluations(store, size=1)  # the other principal's report pushes each one out
    n = 1000 * chain.head()[0]
    for batch in batches:
        for step in batch:
            n += 1
            chain.append(*_record(step, n))
        for who in ("bank-a", "city"):
            with store.read() as conn:
                fresh = report_from(conn, who, MONTH)
            assert kept.report(who, MONTH) == fresh
            assert evicting.report(who, MONTH) == fresh
