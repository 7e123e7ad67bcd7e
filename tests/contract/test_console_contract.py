"""The console's queries and the operator evaluation give the same answers on every state backend.

Found by deploying from docs/DEPLOY.md on PostgreSQL: the jobs, releases and operators pages
answered 500 (``WHERE 1``; ``sum`` of ``json_extract``'s text), and the alert thread failed on
every run (``group_concat``), so no data-flow alert was ever raised on a PostgreSQL zone.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from zone.admin.evaluation import Evaluations, operator_report
from zone.audit import AuditChain
from zone.console import queries
from zone.console.alert_rules import iso_time
from zone.console.alerts import AlertEngine
from zone.console.config import AlertRule, AlertRules
from zone.policy import Budget, Grant, PolicySet, Principal
from zone.state.api import State

RULES = AlertRules(interval_seconds=60, cancelled_jobs=AlertRule(2, 86_400))


def _policies() -> PolicySet:
    return PolicySet(
        principals={"bank-a": Principal("bank-a", "operator", "Bank A")},
        grants=(Grant("bank-a", ("s",), {"enterprises": Budget(5.0, 1e-6)}, "p"),),
    )


def _script(state: State, at: str) -> None:
    with state.write() as w:
        for n, (product, state_) in enumerate(
            [("lr", "cancelled"), ("mlp", "cancelled"), ("lr", "cancelled"), ("lr", "succeeded")]
        ):
            w.execute(
                "INSERT INTO jobs (job_id, principal, product, dataset, state, spec, "
                "touched_data, created_at, finished_at, updated_at) "
                "VALUES (?, 'bank-a', ?, 'enterprises', ?, '{}', 1, ?, ?, ?)",
                (f"job-{n}", product, state_, at, at, at),
            )
        for seq in (1, 2):
            w.execute(
                "INSERT INTO releases (release_id, audit_seq, principal, product, kind, "
                "created_at, receipt, artifact) VALUES (?, ?, 'bank-a', 's', 'statistics', ?, "
                "?, '{}')",
                (f"rel-{seq}", seq, at, json.dumps({"epsilon": 0.1})),
            )
    chain = AuditChain(state)
    chain.append("rpc", {"principal": "bank-a", "status": "OK"})
    chain.append("rpc", {"principal": "bank-a", "status": "PERMISSION_DENIED"})
    chain.append("ledger.charge", {"principal": "bank-a", "release_id": "r1",
                                   "epsilon_micro": 300_000})  # fmt: skip
    chain.append("ledger.refund", {"principal": "bank-a", "release_id": "r1",
                                   "epsilon_micro": 100_000})  # fmt: skip


def test_jobs_and_releases_pages_filter_on_every_backend(state: State) -> None:
    _script(state, iso_time(time.time()))
    assert {j.job_id for j in queries.jobs(state)} == {f"job-{n}" for n in range(4)}
    assert {j.job_id for j in queries.jobs(state, state="cancelled")} == {
        "job-0", "job-1", "job-2"}  # fmt: skip
    assert queries.jobs(state, principal="city") == []
    assert [r["release_id"] for r in queries.releases(state)] == ["rel-2", "rel-1"]
    assert [r["release_id"] for r in queries.releases(state, release_id="rel-1")] == ["rel-1"]


def test_operator_evaluation_sums_epsilon_on_every_backend(state: State) -> None:
    _script(state, iso_time(time.time()))
    month = datetime.now(UTC).strftime("%Y-%m")
    for report in (
        operator_report(state, "bank-a", month),
        Evaluations(state).report("bank-a", month),
    ):
        assert (report.calls, report.refused) == (2, 1)
        assert report.epsilon_micro == 200_000


def test_cancelled_jobs_alert_names_its_products_on_every_backend(state: State) -> None:
    now = time.time()
    _script(state, iso_time(now))
    raised = AlertEngine(state, AuditChain(state), RULES, _policies).evaluate(now)
    assert [(a.rule, a.principal, a.value) for a in raised] == [("cancelled_jobs", "bank-a", 3)]
    assert raised[0].detail == {"jobs": 3, "products": ["lr", "mlp"]}
