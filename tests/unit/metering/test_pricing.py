"""Pure pricing rules: money parsing, graduated tiers, public interest, splits, windows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zone.metering import UNASSIGNED, month_start, price_of, split, window_end, window_start
from zone.money import format_micro, parse_decimal, to_micro
from zone.policy import Grant, Price, PriceTier, Quota

TIERED = Price(
    "CNY",
    per_job_micro=20_000_000,
    tiers=(PriceTier(0, 50_000), PriceTier(10_000, 30_000), PriceTier(50_000, 10_000)),
)


def grant(price: Price | None = TIERED, *, public_interest: bool = False) -> Grant:
    return Grant("bank-a", ("p",), {}, "test", price=price, public_interest=public_interest)


@pytest.mark.parametrize(
    ("value", "micro"),
    [(0.05, 50_000), ("0.05", 50_000), (20, 20_000_000), (0.1, 100_000), (1e-6, 1),
     (123456789.123456, 123_456_789_123_456), (0, 0)],
)  # fmt: skip
def test_money_is_exact_from_the_written_decimal(value: object, micro: int) -> None:
    assert to_micro(parse_decimal(value)) == micro


@pytest.mark.parametrize(
    "value", [1e-7, "0.0000001", -0.01, True, "1e3", float("inf"), float("nan"), 2e9, "abc", None]
)
def test_money_that_would_need_rounding_or_is_not_a_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_decimal(value)


def test_format_micro() -> None:
    assert [format_micro(m) for m in (0, 50_000, 1_234_567, 20_000_000, 1, -50_000)] == [
        "0.00", "0.05", "1.234567", "20.00", "0.000001", "-0.05"
    ]  # fmt: skip


def test_tiers_are_graduated_each_call_priced_by_the_calls_before_it() -> None:
    g = grant()
    prices = {n: price_of(g, "call", n) for n in (0, 9_999, 10_000, 49_999, 50_000, 10**9)}
    assert [(p.amount_micro, p.tier) for p in prices.values()] == [
        (50_000, 0), (50_000, 0), (30_000, 1), (30_000, 1), (10_000, 2), (10_000, 2)
    ]  # fmt: skip
    # 12,000 calls in a month: 10,000 at 0.05 and 2,000 at 0.03 (not 12,000 at 0.03).
    assert sum(price_of(g, "call", n).amount_micro for n in range(12_000)) == 560_000_000


def test_jobs_cost_per_job_and_flat_prices_have_no_tier() -> None:
    assert price_of(grant(), "job", 10**6) == price_of(grant(), "job", 0)
    assert price_of(grant(), "job", 0).amount_micro == 20_000_000
    flat = price_of(grant(Price("EUR", per_call_micro=7)), "call", 5)
    assert (flat.currency, flat.amount_micro, flat.tier) == ("EUR", 7, -1)


def test_public_interest_is_free_but_keeps_the_list_price() -> None:
    priced = price_of(grant(public_interest=True), "call", 0)
    assert (priced.amount_micro, priced.list_micro, priced.currency) == (0, 50_000, "CNY")


def test_no_price_costs_nothing_in_no_currency() -> None:
    assert price_of(grant(None), "call", 3).amount_micro == 0
    assert price_of(grant(None), "call", 3).currency == ""


SHARES = [("market", Decimal("0.4")), ("tax", Decimal("0.3")), ("social", Decimal("0.2")),
          ("utilities", Decimal("0.1"))]  # fmt: skip


def test_split_uses_largest_remainders_with_ties_by_provider_id() -> None:
    thirds = [("b", Decimal("0.333334")), ("a", Decimal("0.333333")), ("c", Decimal("0.333333"))]
    assert split(1, thirds) == [("b", 1), ("a", 0), ("c", 0)]  # largest remainder first
    assert split(2, thirds) == [("b", 1), ("a", 1), ("c", 0)]  # a and c tie: a wins
    assert split(50_000, SHARES) == [("market", 20_000), ("tax", 15_000), ("social", 10_000),
                                     ("utilities", 5_000)]  # fmt: skip
    assert split(7, SHARES) == [("market", 3), ("tax", 2), ("social", 1), ("utilities", 1)]


def test_split_without_providers_goes_to_unassigned() -> None:
    assert split(123, []) == [(UNASSIGNED, 123)]


def test_split_refuses_shares_that_do_not_sum_to_one() -> None:
    with pytest.raises(ValueError):
        split(10, [("a", Decimal("0.5")), ("b", Decimal("0.4"))])


@st.composite
def share_sets(draw: st.DrawFn) -> list[tuple[str, Decimal]]:
    n = draw(st.integers(1, 8))
    cuts = sorted(draw(st.lists(st.integers(1, 10**6 - 1), min_size=n - 1, max_size=n - 1,
                                unique=True)))  # fmt: skip
    bounds = [0, *cuts, 10**6]
    return [(f"p{i}", Decimal(bounds[i + 1] - bounds[i]).scaleb(-6)) for i in range(n)]


@given(amount=st.integers(0, 10**15), shares=share_sets())
def test_split_parts_sum_exactly_and_each_is_within_one_unit_of_its_share(
    amount: int, shares: list[tuple[str, Decimal]]
) -> None:
    parts = split(amount, shares)
    assert sum(p for _, p in parts) == amount
    for (_, share), (_, part) in zip(shares, parts, strict=True):
        assert abs(Decimal(part) - amount * share) < 1
    assert split(amount, shares) == parts  # deterministic


def test_windows_are_fixed_utc_windows() -> None:
    now = datetime(2026, 3, 31, 23, 59, 30, 5, tzinfo=UTC)
    assert window_start("day", now) == datetime(2026, 3, 31, tzinfo=UTC)
    assert window_end("day", now) == datetime(2026, 4, 1, tzinfo=UTC)
    assert window_start("hour", now) == datetime(2026, 3, 31, 23, tzinfo=UTC)
    assert window_end("minute", now) == datetime(2026, 4, 1, tzinfo=UTC)
    assert month_start(now) == datetime(2026, 3, 1, tzinfo=UTC)


def test_grant_quota_per_product_overrides_calls_per_day() -> None:
    g = Grant("a", ("p", "q"), {}, "t", calls_per_day=100, quotas={"q": Quota(5, "hour")})
    assert g.quota_for("p") == Quota(100, "day")
    assert g.quota_for("q") == Quota(5, "hour")
    assert Grant("a", ("p",), {}, "t").quota_for("p") is None
