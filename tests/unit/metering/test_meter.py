"""Metering against a real SQLite state store: quotas, usage, splits, audit, billing rule."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from zone.audit import AuditChain, verify_chain
from zone.ledger import Account, Amount, PrivacyLedger
from zone.metering import Metering, Period, QuotaExhausted, totals_from_audit
from zone.policy import Grant, Price, PriceTier, Quota
from zone.state import StateStore

SHARES = (("market", Decimal("0.4")), ("tax", Decimal("0.3")), ("social", Decimal("0.3")))
T0 = datetime(2026, 5, 31, 23, 59, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metering(store: StateStore, clock: Clock) -> Metering:
    return Metering(store, AuditChain(store), lambda product: ("enterprises", SHARES), clock=clock)


def paying(calls: int | None = None, window: str = "day", **price: Any) -> Grant:
    quotas = {} if calls is None else {"stats": Quota(calls, window)}  # type: ignore[arg-type]
    return Grant(
        "bank-a", ("stats", "train"), {}, "credit risk",
        price=Price("CNY", **price) if price else Price("CNY", per_call_micro=50_000,
                                                          per_job_micro=20_000_000),
        quotas=quotas, source="policies/ops.yaml:3",
    )  # fmt: skip


def snapshot(store: StateStore) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("quota_use", "month_volume", "usage", "revenue_shares", "audit_log")
    with store.read() as conn:
        return {t: list(conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")) for t in tables}


def test_a_charge_writes_usage_split_and_audit(metering: Metering, store: StateStore) -> None:
    charge = metering.charge("bank-a", paying(3), "stats", unit="call", request_id="r1",
                             release_id="rel-1")  # fmt: skip
    assert charge.priced.amount_micro == 50_000 and charge.quota_remaining == 2
    assert charge.shares == (("market", 20_000), ("tax", 15_000), ("social", 15_000))
    with store.read() as conn:
        usage = conn.execute("SELECT principal, product, dataset, unit, currency, amount_micro, "
                             "release_id, grant_source FROM usage").fetchall()  # fmt: skip
        parts = conn.execute("SELECT provider, amount_micro FROM revenue_shares").fetchall()
        assert verify_chain(conn).ok
    assert usage == [("bank-a", "stats", "enterprises", "call", "CNY", 50_000, "rel-1",
                      "policies/ops.yaml:3")]  # fmt: skip
    assert sorted(parts) == [("market", 20_000), ("social", 15_000), ("tax", 15_000)]
    entry = AuditChain(store).entries()[-1]
    assert entry.kind == "metering.charge" and entry.record["amount_micro"] == 50_000
    assert entry.record["quota"] == {"limit": 3, "window": "day", "used": 1}


def test_quota_refusal_writes_nothing_and_says_what_is_left(
    metering: Metering, store: StateStore
) -> None:
    for _ in range(2):
        metering.charge("bank-a", paying(2), "stats", unit="call", request_id="r")
    before = snapshot(store)
    with pytest.raises(QuotaExhausted) as refused:
        metering.charge("bank-a", paying(2), "stats", unit="call", request_id="r")
    assert snapshot(store) == before
    assert refused.value.reason == "quota_exhausted"
    ((subject, description),) = refused.value.violations
    assert subject == "quota:stats:calls_per_day"
    assert "limit 2 per day" in description and "used 2" in description
    assert "2026-06-01T00:00:00" in description  # when it resets


def test_a_zero_quota_refuses_without_writing(metering: Metering, store: StateStore) -> None:
    before = snapshot(store)
    with pytest.raises(QuotaExhausted):
        metering.charge("bank-a", paying(0), "stats", unit="call", request_id="r")
    assert snapshot(store) == before


def test_refusal_inside_the_callers_transaction_rolls_back_its_writes(
    metering: Metering, store: StateStore
) -> None:
    ledger = PrivacyLedger(store, AuditChain(store))
    account = Account("bank-a", "enterprises", Amount.limit(10.0, 1e-6))
    metering.charge("bank-a", paying(1), "stats", unit="call", request_id="r")
    with pytest.raises(QuotaExhausted), store.write() as conn:
        ledger.reserve(account, product="stats", cost=Amount.cost(1.0), request_id="r", conn=conn)
        metering.charge("bank-a", paying(1), "stats", unit="call", request_id="r", conn=conn)
    assert ledger.balance(account).spent == Amount(0, 0)  # the quota refusal spent no budget


def test_the_window_resets_and_a_clock_stepping_back_does_not_reset_it(
    metering: Metering, clock: Clock
) -> None:
    g = paying(1, "minute")
    metering.charge("bank-a", g, "stats", unit="call", request_id="r")
    clock.now = T0 + timedelta(seconds=59)
    with pytest.raises(QuotaExhausted):
        metering.charge("bank-a", g, "stats", unit="call", request_id="r")
    clock.now = T0 + timedelta(minutes=1)
    metering.charge("bank-a", g, "stats", unit="call", request_id="r")
    clock.now = T0  # the clock steps back into the previous window
    with pytest.raises(QuotaExhausted):
        metering.charge("bank-a", g, "stats", unit="call", request_id="r")


def test_quotas_are_per_product_and_principal(metering: Metering) -> None:
    g = Grant("bank-a", ("stats", "train"), {}, "t", calls_per_day=1)
    metering.charge("bank-a", g, "stats", unit="call", request_id="r")
    metering.charge("bank-a", g, "train", unit="job", request_id="r")
    other = Grant("bank-b", ("stats",), {}, "t", calls_per_day=1)
    metering.charge("bank-b", other, "stats", unit="call", request_id="r")
    with pytest.raises(QuotaExhausted):
        metering.charge("bank-a", g, "stats", unit="call", request_id="r")


def test_tiers_follow_the_monthly_volume_and_restart_each_month(
    metering: Metering, clock: Clock
) -> None:
    g = paying(tiers=(PriceTier(0, 50_000), PriceTier(2, 30_000)))
    amounts = [metering.charge("bank-a", g, "stats", unit="call", request_id="r")
               for _ in range(3)]  # fmt: skip
    metering.charge("bank-a", g, "train", unit="job", request_id="r")  # jobs count apart
    clock.now = T0 + timedelta(minutes=1)  # 2026-06-01: a new month
    amounts.append(metering.charge("bank-a", g, "stats", unit="call", request_id="r"))
    assert [(c.priced.amount_micro, c.priced.tier) for c in amounts] == [
        (50_000, 0), (50_000, 0), (30_000, 1), (50_000, 0)
    ]  # fmt: skip


def test_concurrent_charges_never_exceed_the_quota(store: StateStore) -> None:
    metering = Metering(store, AuditChain(store), lambda p: ("enterprises", SHARES))
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def call() -> None:
        barrier.wait()
        try:
            metering.charge("bank-a", paying(7), "stats", unit="call", request_id="r")
            outcomes.append("ok")
        except QuotaExhausted:
            outcomes.append("refused")

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 7 and outcomes.count("refused") == 13
    with store.read() as conn:
        assert conn.execute("SELECT count(*) FROM usage").fetchone() == (7,)


def test_billing_follows_the_release_and_reports_agree_with_the_audit(
    metering: Metering, store: StateStore
) -> None:
    ledger = PrivacyLedger(store, AuditChain(store))
    account = Account("bank-a", "enterprises", Amount.limit(10.0, 1e-6))
    free = Grant("city", ("stats",), {}, "research", public_interest=True,
                 price=Price("CNY", per_call_micro=50_000))  # fmt: skip
    outcomes = {}
    for outcome in ("released", "failed", "refunded", "reserved", "voided"):
        r = ledger.reserve(account, product="stats", cost=Amount.cost(0.1), request_id=outcome)
        c = metering.charge("bank-a", paying(), "stats", unit="call", request_id=outcome,
                            release_id=r.release_id)  # fmt: skip
        outcomes[outcome] = c
        if outcome == "released":
            ledger.release(r, {"release_id": r.release_id})
        elif outcome == "failed":
            ledger.fail(r, "boom")
        elif outcome == "refunded":
            ledger.refund(r, "nothing read")
        elif outcome == "voided":
            assert metering.void(c.usage_id, "no answer")
            assert not metering.void(c.usage_id, "twice")
    metering.charge("city", free, "stats", unit="call", request_id="free")
    metering.charge("bank-a", paying(), "train", unit="job", request_id="job")
    usage = {(u.principal, u.product): u for u in metering.usage(Period())}
    stats = usage[("bank-a", "stats")]
    # released and still in flight are billed; failed, refunded and voided are not
    assert (stats.calls, stats.unbilled, stats.amount_micro) == (2, 3, 100_000)
    assert usage[("city", "stats")].amount_micro == 0
    assert usage[("city", "stats")].waived_micro == 50_000
    assert usage[("bank-a", "train")].jobs == 1
    revenue = {r.provider: r.amount_micro for r in metering.revenue(Period())}
    assert sum(revenue.values()) == 20_100_000
    assert revenue == {"market": 8_040_000, "tax": 6_030_000, "social": 6_030_000}
    with store.read() as conn:
        rows = conn.execute("SELECT kind, record FROM audit_log ORDER BY seq").fetchall()
    totals = totals_from_audit([(k, json.loads(r)) for k, r in rows], Period())
    assert totals.usage == {(u.principal, u.product, u.currency): u.amount_micro
                            for u in usage.values()}  # fmt: skip
    assert totals.revenue == {(p, "CNY"): a for p, a in revenue.items()}


def test_periods_are_half_open(metering: Metering, clock: Clock) -> None:
    metering.charge("bank-a", paying(), "stats", unit="call", request_id="r")
    clock.now = T0 + timedelta(hours=1)
    metering.charge("bank-a", paying(), "stats", unit="call", request_id="r")
    first = metering.usage(Period(T0, T0 + timedelta(hours=1)))
    assert [u.calls for u in first] == [1]
    assert [u.calls for u in metering.usage(Period(start=T0 + timedelta(hours=1)))] == [1]
    assert metering.usage(Period(end=T0)) == []
    assert metering.usage(Period(), principal="nobody") == []
