"""The overview: calls per product over time, budget burn-down, revenue by provider, alerts."""

from __future__ import annotations

from starlette.responses import Response

from zone.admin import BudgetReport, budget_report
from zone.clock import today_utc
from zone.console import charts, queries
from zone.console.deps import ConsoleDeps
from zone.console.web import Ctx
from zone.metering import Period, RevenueRow


def _calls_chart(deps: ConsoleDeps) -> str:
    deps.audit.flush()  # the journaled ``rpc`` records count too
    calls = queries.calls_per_product(deps.store, queries.utc_now())
    return charts.line_chart(
        calls.hours,
        calls.calls,
        title="gRPC calls per product, last 24 hours (UTC)",
        y_label="calls per hour",
        dashed={"refused": calls.refused} if any(calls.refused) else None,
    )


def _burn_chart(deps: ConsoleDeps, report: BudgetReport) -> str:
    limits = {(b.principal, b.dataset): b.limit.epsilon_micro for b in report.budgets}
    caps = {c.dataset: c.cap.epsilon_micro for c in report.caps if c.cap is not None}
    burn = queries.burn_down(deps.store, limits, caps, queries.utc_now())
    return charts.line_chart(
        burn.labels,
        burn.accounts,
        title="Privacy budget remaining, last 30 days",
        y_label="epsilon remaining",
        dashed=burn.caps,
    )


def _revenue_chart(revenue: list[RevenueRow]) -> str:
    return charts.bar_chart(
        [f"{r.provider} ({r.currency})" for r in revenue],
        [r.amount_micro / 1_000_000 for r in revenue],
        title="Revenue by provider (billed, all time)",
        x_label="amount",
    )


def overview(ctx: Ctx) -> Response:
    """Headline counts, three charts (at most a few seconds old) and the open alerts."""
    deps = ctx.deps
    policies = deps.policies()
    report = budget_report(deps.store, policies, today_utc())
    revenue = deps.metering.revenue(Period())
    calls_chart, age = deps.charts.get("calls", lambda: _calls_chart(deps))
    burn_chart, _ = deps.charts.get("burn", lambda: _burn_chart(deps, report))
    revenue_chart, _ = deps.charts.get("revenue", lambda: _revenue_chart(revenue))
    return ctx.render(
        "overview.html",
        totals=queries.totals(deps.store),
        principals=len(policies.principals),
        datasets=len(deps.datasets()),
        products=len(deps.products),
        calls_chart=calls_chart,
        burn_chart=burn_chart,
        revenue_chart=revenue_chart,
        chart_age=round(age),
        budgets=report.budgets,
        caps=report.caps,
        revenue=revenue,
        alerts=deps.alerts.list(open_only=True, limit=20),
    )
