"""Usage and revenue reports over a real state store; the audit's totals must match them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from zone.audit import AuditChain
from zone.ledger import Account, Amount, PrivacyLedger
from zone.metering import (
    Metering,
    Period,
    RevenueRow,
    UsageRow,
    revenue_report,
    totals_from_audit,
    usage_report,
)
from zone.policy import Grant, Price
from zone.state import StateStore

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PROVIDERS = {
    "stats": ("enterprises", (("market", Decimal("0.5")), ("tax", Decimal("0.5")))),
    "train": ("enterprises", (("lab", Decimal("1")),)),
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metering(store: StateStore, clock: Clock) -> Metering:
    return Metering(store, AuditChain(store), PROVIDERS.__getitem__, clock=clock)


def grant(principal: str, currency: str = "CNY", **kwargs: Any) -> Grant:
    price = Price(currency, per_call_micro=50_000 if currency == "CNY" else 7_000,
                  per_job_micro=20_000_000)  # fmt: skip
    return Grant(principal, ("stats", "train"), {}, "research", price=price, **kwargs)


def reports(store: StateStore, period: Period, **filters: str) -> list[UsageRow]:
    with store.read() as conn:
        return usage_report(conn, period, **filters)


def revenue(store: StateStore, period: Period, provider: str = "") -> list[RevenueRow]:
    with store.read() as conn:
        return revenue_report(conn, period, provider=provider)


def audit_records(store: StateStore) -> list[tuple[str, dict[str, Any]]]:
    with store.read() as conn:
        rows = conn.execute("SELECT kind, record FROM audit_log ORDER BY seq").fetchall()
    return [(kind, json.loads(record)) for kind, record in rows]


def test_usage_is_one_row_per_principal_product_and_currency(
    metering: Metering, store: StateStore
) -> None:
    for _ in range(2):
        metering.charge("bank-a", grant("bank-a"), "stats", unit="call", request_id="r")
    metering.charge("bank-a", grant("bank-a"), "train", unit="job", request_id="j")
    metering.charge("bank-b", grant("bank-b", "EUR"), "stats", unit="call", request_id="r")
    metering.charge("bank-b", grant("bank-b"), "stats", unit="call", request_id="r")  # new price
    city = grant("city", public_interest=True)
    metering.charge("city", city, "stats", unit="call", request_id="r")
    assert reports(store, Period()) == [
        UsageRow("bank-a", "stats", "CNY", 2, 0, 0, 100_000, 0),
        UsageRow("bank-a", "train", "CNY", 0, 1, 0, 20_000_000, 0),
        UsageRow("bank-b", "stats", "CNY", 1, 0, 0, 50_000, 0),
        UsageRow("bank-b", "stats", "EUR", 1, 0, 0, 7_000, 0),
        UsageRow("city", "stats", "CNY", 1, 0, 0, 0, 50_000),  # free, the list price waived
    ]
    assert [(u.principal, u.product) for u in reports(store, Period(), principal="bank-a")] == [
        ("bank-a", "stats"),
        ("bank-a", "train"),
    ]
    assert [u.principal for u in reports(store, Period(), product="stats")] == [
        "bank-a",
        "bank-b",
        "bank-b",
        "city",
    ]
    assert reports(store, Period(), principal="bank-b", product="train") == []


def test_voided_and_failed_calls_are_unbilled_and_earn_no_revenue(
    metering: Metering, store: StateStore
) -> None:
    ledger = PrivacyLedger(store, AuditChain(store))
    account = Account("bank-a", "enterprises", Amount.limit(10.0, 1e-6))
    charges = {}
    for outcome in ("released", "failed", "voided"):
        r = ledger.reserve(account, product="stats", cost=Amount.cost(0.1), request_id=outcome)
        charges[outcome] = metering.charge("bank-a", grant("bank-a"), "stats", unit="call",
                                           request_id=outcome, release_id=r.release_id)  # fmt: skip
        if outcome == "released":
            ledger.release(r, {"release_id": r.release_id})
        elif outcome == "failed":
            ledger.fail(r, "boom")
    assert metering.void(charges["voided"].usage_id, "no answer")
    # A call without a privacy charge is billed: the join never matches an empty release id.
    metering.charge("bank-a", grant("bank-a"), "stats", unit="call", request_id="free-of-dp")
    assert reports(store, Period()) == [UsageRow("bank-a", "stats", "CNY", 2, 0, 2, 100_000, 0)]
    assert revenue(store, Period()) == [
        RevenueRow("market", "CNY", 50_000, 2),
        RevenueRow("tax", "CNY", 50_000, 2),
    ]


def test_revenue_is_per_provider_and_currency_and_can_be_filtered(
    metering: Metering, store: StateStore
) -> None:
    metering.charge("bank-a", grant("bank-a"), "stats", unit="call", request_id="r")
    metering.charge("bank-b", grant("bank-b", "EUR"), "stats", unit="call", request_id="r")
    metering.charge("bank-a", grant("bank-a"), "train", unit="job", request_id="j")
    assert revenue(store, Period()) == [
        RevenueRow("lab", "CNY", 20_000_000, 1),
        RevenueRow("market", "CNY", 25_000, 1),
        RevenueRow("market", "EUR", 3_500, 1),
        RevenueRow("tax", "CNY", 25_000, 1),
        RevenueRow("tax", "EUR", 3_500, 1),
    ]
    assert revenue(store, Period(), provider="market") == [
        RevenueRow("market", "CNY", 25_000, 1),
        RevenueRow("market", "EUR", 3_500, 1),
    ]
    assert revenue(store, Period(), provider="nobody") == []


def test_revenue_periods_are_half_open_on_the_admission_time(
    metering: Metering, store: StateStore, clock: Clock
) -> None:
    metering.charge("bank-a", grant("bank-a"), "stats", unit="call", request_id="r")
    clock.now = T0 + HOUR
    metering.charge("bank-a", grant("bank-a"), "stats", unit="call", request_id="r")
    assert [r.charges for r in revenue(store, Period(T0, T0 + HOUR))] == [1, 1]
    assert [r.charges for r in revenue(store, Period(start=T0 + HOUR))] == [1, 1]
    assert [r.charges for r in revenue(store, Period(start=T0))] == [2, 2]
    assert revenue(store, Period(end=T0)) == []


def test_a_period_contains_its_start_not_its_end_in_any_time_zone() -> None:
    beijing = timezone(timedelta(hours=8))
    period = Period(datetime(2026, 3, 10, 20, 0, tzinfo=beijing), T0 + HOUR)  # start == T0
    assert period.contains("2026-03-10T12:00:00.000000+00:00")
    assert period.contains("2026-03-10T12:59:59.999999+00:00")
    assert not period.contains("2026-03-10T13:00:00.000000+00:00")
    assert not period.contains("2026-03-10T11:59:59.999999+00:00")
    assert Period().contains("1970-01-01T00:00:00.000000+00:00")
    assert Period(end=T0).contains("2026-03-10T11:00:00.000000+00:00")


def charge(usage_id: str, release_id: str = "", time: str = "2026-03-10T12:00:00.000000+00:00",
           principal: str = "bank-a", amount: int = 100, currency: str = "CNY",
           shares: dict[str, int] | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    return "metering.charge", {
        "usage_id": usage_id, "release_id": release_id, "time": time, "principal": principal,
        "product": "stats", "currency": currency, "amount_micro": amount,
        "shares": {"market": amount // 2, "tax": amount - amount // 2} if shares is None
        else shares,
    }  # fmt: skip


def test_audit_totals_apply_the_billing_rule_to_the_chain_alone() -> None:
    records = [
        ("ledger.reserve", {"release_id": "rel-1"}),
        charge("u1", "rel-1"),
        ("ledger.release", {"release_id": "rel-1"}),
        charge("u2", "rel-2"),
        ("ledger.failed", {"release_id": "rel-2"}),
        charge("u3", "rel-3"),
        ("ledger.refund", {"release_id": "rel-3"}),
        charge("u4"),
        ("metering.void", {"usage_id": "u4"}),
        charge("u5"),  # no privacy charge: the empty release id below must not unbill it
        ("ledger.failed", {"release_id": ""}),
        charge("u6", principal="bank-b", amount=7, currency="EUR", shares={"market": 7}),
        charge("u7", time="2026-03-10T13:00:00.000000+00:00"),  # outside the period
    ]
    totals = totals_from_audit(records, Period(T0, T0 + HOUR))
    assert totals.usage == {("bank-a", "stats", "CNY"): 200, ("bank-b", "stats", "EUR"): 7}
    assert totals.revenue == {("market", "CNY"): 100, ("tax", "CNY"): 100, ("market", "EUR"): 7}
    assert totals_from_audit(records, Period()).usage[("bank-a", "stats", "CNY")] == 300


def test_reports_reconcile_with_the_audit_in_a_bounded_period(
    metering: Metering, store: StateStore, clock: Clock
) -> None:
    ledger = PrivacyLedger(store, AuditChain(store))
    account = Account("bank-a", "enterprises", Amount.limit(10.0, 1e-6))
    for step in range(6):
        clock.now = T0 + step * HOUR / 2
        r = ledger.reserve(account, product="stats", cost=Amount.cost(0.1), request_id="q")
        metering.charge("bank-a", grant("bank-a"), "stats", unit="call", request_id="q",
                        release_id=r.release_id)  # fmt: skip
        if step % 3:
            ledger.release(r, {"release_id": r.release_id})
        else:
            ledger.refund(r, "nothing read")
        metering.charge("bank-b", grant("bank-b", "EUR"), "train", unit="job", request_id="j")
    period = Period(T0 + HOUR / 2, T0 + 2 * HOUR)
    usage = reports(store, period)
    totals = totals_from_audit(audit_records(store), period)
    assert totals.usage == {(u.principal, u.product, u.currency): u.amount_micro for u in usage}
    assert totals.revenue == {(r.provider, r.currency): r.amount_micro
                              for r in revenue(store, period)}  # fmt: skip
    assert [(u.calls, u.jobs, u.unbilled) for u in usage] == [(2, 0, 1), (0, 3, 0)]
