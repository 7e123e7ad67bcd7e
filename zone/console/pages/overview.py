"""The overview: calls per product over time, budget burn-down, revenue by provider, alerts."""

from __future__ import annotations

from starlette.responses import Response

from zone.admin import budget_report
from zone.clock import today_utc
from zone.console import charts, queries
from zone.console.web import Ctx
from zone.metering import Period


def overview(ctx: Ctx) -> Response:
    """Headline counts, three charts and the open alerts."""
    deps = ctx.deps
    now = queries.utc_now()
    policies = deps.policies()
    calls = queries.calls_per_product(deps.store, now)
    calls_chart = charts.line_chart(
        calls.hours, calls.calls, title="gRPC calls per product, last 24 hours (UTC)",
        y_label="calls per hour", dashed={"refused": calls.refused} if any(calls.refused) else None,
    )  # fmt: skip
    report = budget_report(deps.store, policies, today_utc())
    limits = {(b.principal, b.dataset): b.limit.epsilon_micro for b in report.budgets}
    caps = {c.dataset: c.cap.epsilon_micro for c in report.caps if c.cap is not None}
    burn = queries.burn_down(deps.store, limits, caps, now)
    burn_chart = charts.line_chart(
        burn.labels, burn.accounts, title="Privacy budget remaining, last 30 days",
        y_label="epsilon remaining", dashed=burn.caps,
    )  # fmt: skip
    revenue = deps.metering.revenue(Period())
    revenue_chart = charts.bar_chart(
        [f"{r.provider} ({r.currency})" for r in revenue],
        [r.amount_micro / 1_000_000 for r in revenue],
        title="Revenue by provider (billed, all time)", x_label="amount",
    )  # fmt: skip
    return ctx.render(
        "overview.html",
        totals=queries.totals(deps.store),
        principals=len(policies.principals),
        datasets=len(deps.datasets()),
        products=len(deps.products),
        calls_chart=calls_chart,
        burn_chart=burn_chart,
        revenue_chart=revenue_chart,
        budgets=report.budgets,
        caps=report.caps,
        revenue=revenue,
        alerts=deps.alerts.list(open_only=True, limit=20),
    )
