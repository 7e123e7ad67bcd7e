"""Quotas, prices and tiers in policy files: loaded exactly, every problem with file:line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from zone.policy import PolicySet, Price, PriceTier, Quota, token_digest

Write = Callable[[str, str], Path]

HEAD = f"""
principals:
  - id: bank-a
    role: operator
    organisation: Example Bank A
    token_sha256: {token_digest("a")}
grants:
  - principal: bank-a
    products: [enterprise-stats, enterprise-default-lr]
    budget: {{enterprises: {{epsilon: 5.0, delta: 1.0e-6}}}}
    purpose: credit-risk assessment
"""


def test_quota_and_tiered_price_load_as_exact_micro_units(
    write: Write, load: Callable[[], PolicySet]
) -> None:
    write(
        "ops.yaml",
        HEAD
        + """\
    quota:
      calls_per_day: 100
      products:
        enterprise-default-lr: {calls: 3, window: hour}
    price:
      per_job: "20.10"
      currency: CNY
      tiers:
        - {from_calls: 0, per_call: 0.05}
        - {from_calls: 10000, per_call: 0.000001}
""",
    )
    [grant] = load().grants
    assert grant.price == Price(
        "CNY", per_job_micro=20_100_000, tiers=(PriceTier(0, 50_000), PriceTier(10_000, 1))
    )
    assert grant.quota_for("enterprise-stats") == Quota(100, "day")
    assert grant.quota_for("enterprise-default-lr") == Quota(3, "hour")
    assert grant.price.per_call == 0.05  # display value of the first tier


def test_price_problems_are_reported_at_their_lines(
    write: Write, problems: Callable[[], list[str]]
) -> None:
    write(
        "ops.yaml",
        HEAD
        + """\
    quota:
      products:
        capital-match: {calls: 3}
    price:
      per_call: 0.05
      currency: CNY
      tiers:
        - {from_calls: 5, per_call: 0.05}
        - {from_calls: 5, per_call: 0.04}
""",
    )
    assert problems() == [
        "policies/ops.yaml:13: quota for product 'capital-match', which the grant does not cover",
        "policies/ops.yaml:15: give either per_call or tiers, not both",
        "policies/ops.yaml:18: the first tier must start at from_calls 0",
        "policies/ops.yaml:19: tiers must be in increasing order of from_calls (5 follows 5)",
    ]


def test_money_that_would_be_rounded_is_refused_with_its_line(
    write: Write, problems: Callable[[], list[str]]
) -> None:
    write(
        "ops.yaml",
        HEAD
        + """\
    price: {per_call: 0.0000001, per_job: -1, currency: CNY}
""",
    )
    assert problems() == [
        "policies/ops.yaml:11: grants[0].price.per_call: Value error, must have at most 6 "
        "decimal places (micro-units)",
        "policies/ops.yaml:11: grants[0].price.per_job: Value error, must be a finite number >= 0",
    ]


def test_an_empty_quota_is_refused(write: Write, problems: Callable[[], list[str]]) -> None:
    write("ops.yaml", HEAD + "    quota: {}\n")
    assert problems() == ["policies/ops.yaml:11: quota needs calls_per_day or products"]


def test_unknown_quota_window_is_refused(write: Write, problems: Callable[[], list[str]]) -> None:
    write(
        "ops.yaml",
        HEAD + "    quota: {products: {enterprise-stats: {calls: 3, window: week}}}\n",
    )
    [problem] = problems()
    assert problem.startswith(
        "policies/ops.yaml:11: grants[0].quota.products.enterprise-stats.window: Input should be"
    )
