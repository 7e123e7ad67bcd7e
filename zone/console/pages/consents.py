"""Consents and verification volume: per product and principal, subject counts only."""

from __future__ import annotations

from starlette.responses import Response

from zone.console import charts
from zone.console.consent_views import consent_lines, utc_now, volume
from zone.console.web import Ctx


def consents(ctx: Ctx) -> Response:
    """Consents registered, revoked and used; subjects checked per day (counts, never keys)."""
    principal = ctx.param("principal")
    product = ctx.param("product")
    found = volume(ctx.deps.store, utc_now(), principal=principal, product=product)

    def draw() -> str:
        return charts.line_chart(
            found.days,
            found.per_product,
            title="Subjects checked per day by product, last 30 days (UTC)",
            y_label="subjects checked",
        )

    # Only the unfiltered chart is kept: a filter is caller text, and the cache has no bound.
    chart, _ = ctx.deps.charts.get("consents", draw) if not (principal or product) else (draw(), 0)
    return ctx.render(
        "consents.html",
        consents=consent_lines(ctx.deps.store, principal=principal, product=product),
        volume=found.lines,
        chart=chart,
        principal=principal,
        product=product,
    )
