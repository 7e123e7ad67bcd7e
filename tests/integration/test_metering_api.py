"""Metering end to end over gRPC: quotas under concurrency, refusals, billing reconciliation."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from zonekit import TOKENS, make_zone_dir, running_zone, target

from zone import cli
from zone.client import (
    FailedPreconditionError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ZoneClient,
)
from zone.client.stats import count
from zone.metering import Period, totals_from_audit
from zone.server.app import RunningZone

STATS = "enterprise-stats"
TRAIN = "enterprise-default-lr"
FAST = {"epochs": 2, "batch_size": 256}


def grant(config: Path, who: str, terms: str, products: str = STATS, epsilon: float = 50) -> str:
    """A policy file for ``who`` with extra grant ``terms`` (YAML lines); returns the token."""
    token = secrets.token_urlsafe(24)
    (config.parent / "policies" / f"{who}.yaml").write_text(
        f"principals:\n  - id: {who}\n    role: operator\n    organisation: test\n"
        f"    token_sha256: {hashlib.sha256(token.encode()).hexdigest()}\n"
        f"grants:\n  - principal: {who}\n    products: [{products}]\n"
        f"    budget: {{enterprises: {{epsilon: {epsilon}, delta: 1.0e-5}}}}\n"
        f"    purpose: testing\n{terms}"
    )
    return token


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, dict[str, str]]]:
    config = make_zone_dir(tmp_path_factory.mktemp("metering"))
    demo = config.parent / "policies" / "demo.yaml"  # lift the zone-wide cap
    demo.write_text(
        demo.read_text().replace("epsilon: 50.0, delta: 1.0e-5", "epsilon: 1.0e+4, delta: 1.0e-5")
    )
    tokens = {
        "racer": grant(config, "racer", "    quota: {calls_per_day: 7}\n"
                       "    price: {per_call: 0.05, currency: CNY}\n"),
        "tight": grant(config, "tight", "    quota: {calls_per_day: 1}\n"),
        "poor": grant(config, "poor", "    quota: {calls_per_day: 5}\n", epsilon=0.15),
        "payer": grant(
            config, "payer",
            "    per_job_epsilon: 1.0\n    quota:\n      calls_per_day: 100\n"
            "    price:\n      per_job: 20\n      currency: CNY\n      tiers:\n"
            "        - {from_calls: 0, per_call: 0.05}\n"
            "        - {from_calls: 3, per_call: 0.03}\n",
            products=f"{STATS}, {TRAIN}",
        ),
        "auditee": grant(config, "auditee", ""),
        "clerk": grant(config, "clerk", "    price: {per_call: 0.05, currency: CNY}\n"),
        "public": grant(config, "public", "    quota: {calls_per_day: 100}\n"
                        "    price: {per_call: 0.05, currency: CNY}\n    public_interest: true\n"),
    }  # fmt: skip
    with running_zone(config) as running:
        yield running, tokens


def counters(zone: RunningZone) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("quota_use", "month_volume", "usage", "revenue_shares", "budget_spend",
              "dataset_spend", "charges")  # fmt: skip
    conn = sqlite3.connect(zone.services.config.state_db)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}")) for t in tables}
    finally:
        conn.close()


def test_thirty_concurrent_queries_against_a_quota_of_seven_grant_seven(
    zone: tuple[RunningZone, dict[str, str]],
) -> None:
    running, tokens = zone
    outcomes: list[str] = []
    barrier = threading.Barrier(30)

    def ask() -> None:
        with ZoneClient(target(running), token=tokens["racer"]) as client:
            barrier.wait()
            try:
                client.query_statistics(STATS, [count()], epsilon=0.1)
                outcomes.append("ok")
            except ResourceExhaustedError as err:
                assert any(
                    d.startswith("quota:enterprise-stats:calls_per_day") for d in err.details
                )
                outcomes.append("quota")

    threads = [threading.Thread(target=ask) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 7 and outcomes.count("quota") == 23
    with ZoneClient(target(running), token=TOKENS["admin"]) as admin:
        [budget] = admin.get_budgets(principal="racer").budgets
        [usage] = admin.get_usage(principal="racer")
    assert budget.spent_epsilon == pytest.approx(0.7)  # refused calls spent no budget
    assert (usage.calls, usage.unbilled, usage.amount_micro) == (7, 0, 350_000)


def test_refused_calls_change_no_counter(zone: tuple[RunningZone, dict[str, str]]) -> None:
    running, tokens = zone
    with ZoneClient(target(running), token=tokens["tight"]) as tight:
        tight.query_statistics(STATS, [count()], epsilon=0.1)
        before = counters(running)
        with pytest.raises(ResourceExhaustedError) as quota:
            tight.query_statistics(STATS, [count()], epsilon=0.1)
        assert counters(running) == before
    assert "quota" in quota.value.message
    with ZoneClient(target(running), token=tokens["poor"]) as poor:
        poor.query_statistics(STATS, [count()], epsilon=0.1)
        before = counters(running)
        with pytest.raises(ResourceExhaustedError) as budget:
            poor.query_statistics(STATS, [count()], epsilon=0.1)  # 0.2 > 0.15
        assert counters(running) == before  # the quota was not consumed either
    assert any("remaining epsilon" in d for d in budget.value.details)


def test_a_scripted_day_reconciles_usage_revenue_and_audit_to_the_micro_unit(
    zone: tuple[RunningZone, dict[str, str]],
) -> None:
    running, tokens = zone
    start = datetime.now(UTC)
    with ZoneClient(target(running), token=tokens["payer"]) as payer:
        payer.estimate_cost(STATS, [count()], epsilon=0.1)  # free, not metered
        for _ in range(5):  # 3 x 0.05 + 2 x 0.03 (graduated tiers)
            payer.query_statistics(STATS, [count()], epsilon=0.1, group_by=["district"])
        with pytest.raises(PermissionDeniedError):  # above the cap: refused before metering
            payer.query_statistics(STATS, [count()], epsilon=1.5)
        job = payer.train(TRAIN, epsilon=0.5, delta=1e-6, **FAST)
        with contextlib.suppress(FailedPreconditionError):  # it may have ended already
            job.cancel()
        assert job.status().state in {"CANCELLED", "FAILED"}  # nothing released: not billed
    with ZoneClient(target(running), token=tokens["public"]) as public:
        for _ in range(2):
            public.query_statistics(STATS, [count()], epsilon=0.1)
    end = datetime.now(UTC) + timedelta(seconds=1)
    with ZoneClient(target(running), token=TOKENS["admin"]) as admin:
        usage = {(u.principal, u.product): u for u in admin.get_usage(start, end)}
        revenue = {r.provider: r for r in admin.get_revenue(start, end)}
        records = [
            (r.kind, r.record)
            for r in admin.iter_audit(start=start - timedelta(seconds=1), page_size=7)
        ]
    stats, jobs, free = usage[("payer", STATS)], usage[("payer", TRAIN)], usage[("public", STATS)]
    assert (stats.calls, stats.amount_micro, stats.currency) == (5, 210_000, "CNY")
    assert (jobs.jobs, jobs.unbilled, jobs.amount_micro) == (0, 1, 0)
    assert (free.calls, free.amount_micro, free.waived_micro) == (2, 0, 100_000)
    assert set(usage) == {("payer", STATS), ("payer", TRAIN), ("public", STATS)}
    assert {p: r.amount_micro for p, r in revenue.items()} == {
        "market-supervision": 84_000, "tax-bureau": 63_000, "social-insurance": 42_000,
        "utilities": 21_000,
    }  # fmt: skip
    assert revenue["utilities"].charges == 5
    audit = totals_from_audit(records, Period(start, end))
    billed = {(u.principal, u.product, u.currency): u.amount_micro for u in usage.values()}
    assert {k: v for k, v in audit.usage.items() if v} == {k: v for k, v in billed.items() if v}
    assert audit.revenue == {(p, r.currency): r.amount_micro for p, r in revenue.items()}
    assert sum(a for a in audit.usage.values()) == sum(audit.revenue.values()) == 210_000
    [job_charge] = [r for k, r in records if k == "metering.charge" and r["product"] == TRAIN]
    assert (job_charge["unit"], job_charge["list_micro"]) == ("job", 20_000_000)
    assert job_charge["quota"] == {"limit": 100, "window": "day", "used": 1}  # counted anyway


def test_admin_views_are_admin_only_and_audit_pages_filter(
    zone: tuple[RunningZone, dict[str, str]],
) -> None:
    running, tokens = zone
    with ZoneClient(target(running), token=tokens["payer"]) as payer:
        for call in (payer.get_usage, payer.get_revenue, payer.get_budgets, payer.query_audit):
            with pytest.raises(PermissionDeniedError):
                call()
    with ZoneClient(target(running), token=tokens["auditee"]) as auditee:
        auditee.query_statistics(STATS, [count()], epsilon=0.1)
        auditee.estimate_cost(STATS, [count()], epsilon=0.1)
    with ZoneClient(target(running), token=TOKENS["admin"]) as admin:
        page = admin.query_audit(principal="auditee", kind="metering.charge", page_size=1)
        assert [r.record["principal"] for r in page.records] == ["auditee"]
        assert page.next_page_token == ""
        rpcs = list(admin.iter_audit(principal="auditee", kind="rpc", page_size=1))
        assert [r.record["method"].rsplit("/", 1)[1] for r in rpcs] == ["Query", "EstimateCost"]
        kinds = {r.kind for r in admin.iter_audit(principal="auditee", product=STATS)}
        assert {"rpc", "ledger.charge", "metering.charge"} <= kinds


def test_cli_prints_tables_and_writes_csv(
    zone: tuple[RunningZone, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, tokens = zone
    with ZoneClient(target(running), token=tokens["clerk"]) as clerk:
        for _ in range(2):
            clerk.query_statistics(STATS, [count()], epsilon=0.1)
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKENS["admin"])
    common = ["--target", target(running), "--token-file", str(token_file)]
    out = tmp_path / "usage.csv"
    assert cli.main(["admin", "usage", *common, "--principal", "clerk", "--csv", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("period_start,period_end,principal,product,currency,calls")
    assert lines[1].split(",")[2:] == ["clerk", STATS, "CNY", "2", "0", "0", "0.10", "0.00",
                                       "100000"]  # fmt: skip
    assert cli.main(["admin", "revenue", *common, "--provider", "utilities"]) == 0
    assert cli.main(["admin", "budgets", *common, "--principal", "clerk"]) == 0
    printed = capsys.readouterr().out
    assert "utilities" in printed and "zone cap" in printed and "clerk" in printed
    audit = tmp_path / "audit.csv"
    args = ["--principal", "clerk", "--kind", "metering.charge", "--limit", "1"]
    assert cli.main(["admin", "audit", *common, *args, "--csv", str(audit)]) == 0
    header, row = audit.read_text().splitlines()
    assert header == "seq,time,kind,principal,product,record"
    assert row.split(",")[2:5] == ["metering.charge", "clerk", STATS]
