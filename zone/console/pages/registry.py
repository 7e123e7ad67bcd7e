"""Who and what the zone holds: principals and grants, datasets, products and models, jobs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.responses import Response

from zone.admin.suspensions import MAX_NOTE
from zone.catalog import Product
from zone.console import charts, queries
from zone.console.web import Ctx
from zone.jobs.states import JobState
from zone.policy import Grant


def _quota(grant: Grant) -> str:
    parts = [f"{grant.calls_per_day}/day each"] if grant.calls_per_day is not None else []
    parts += [f"{p}: {q.calls}/{q.window}" for p, q in sorted(grant.quotas.items())]
    return "; ".join(parts) or "unlimited"


def _price(grant: Grant) -> str:
    price = grant.price
    if price is None:
        return "free"
    if price.tiers:
        tiers = ", ".join(f"from {t.from_calls}: {t.per_call_micro / 1e6:g}" for t in price.tiers)
        text = f"tiers {tiers}"
    else:
        text = f"{price.per_call:g}/call"
    if price.per_job_micro:
        text += f", {price.per_job:g}/job"
    return f"{text} {price.currency}"


def principals(ctx: Ctx) -> Response:
    """Principals (validity, suspension) and every grant (budget, caps, quotas, prices)."""
    policies = ctx.deps.policies()
    suspended = ctx.deps.suspensions.all()
    exited = ctx.deps.exits.all()
    grants = [
        {
            "grant": g,
            "budget": ", ".join(
                f"{d}: ε {b.epsilon:g}, δ {b.delta:g}" for d, b in sorted(g.budget.items())
            ),
            "quota": _quota(g),
            "price": _price(g),
        }
        for g in policies.grants
    ]
    return ctx.render(
        "principals.html",
        principals=sorted(policies.principals.values(), key=lambda p: p.id),
        suspended=suspended,
        exited=exited,
        grants=grants,
        caps=sorted(policies.dataset_caps.items()),
        digest=policies.digest,
    )


def datasets(ctx: Ctx) -> Response:
    """Served dataset versions: rows, providers, open level, column levels, quality report.

    The quality report is the import's (counts per column and violation kind, never a value or
    a row), shown with its digest, which the ``dataset.import`` audit record names.
    """
    rows = []
    quarantined = ctx.deps.quarantine.all()
    for name, info in ctx.deps.datasets().items():
        levels = Counter(column.level for column in info.meta.columns.values())
        providers = info.meta.providers or ()
        rows.append(
            {
                "name": name,
                "info": info,
                "highest_level": max(levels) if levels else "",
                "open_level": info.meta.open_level or "not declared",
                "levels": ", ".join(f"{lvl}: {n}" for lvl, n in sorted(levels.items())),
                "providers": ", ".join(f"{p.id} ({p.share})" for p in providers)
                or info.meta.provider,
                "columns": sorted(info.meta.columns.items()),
                "report": info.report,
                "quarantine": quarantined.get((name, info.version)),
            }
        )
    return ctx.render("datasets.html", datasets=rows, max_note=MAX_NOTE)


def _product_row(product: Product) -> dict[str, Any]:
    cap = getattr(product, "max_epsilon_per_query", None) or getattr(
        product, "max_epsilon_per_job", None
    )
    return {"product": product, "cap": cap, "consent": getattr(product, "consent", "")}


def products(ctx: Ctx) -> Response:
    """Approved products and the models kept in the zone (revocable by an admin)."""
    rows = [_product_row(p) for _, p in sorted(ctx.deps.products.items())]
    return ctx.render("products.html", products=rows, models=queries.kept_models(ctx.deps.store))


def jobs(ctx: Ctx) -> Response:
    """Jobs (newest first) with state, epsilon and failure reasons; a chart of states."""
    state = ctx.param("state")
    if state and state not in {s.value for s in JobState}:
        state = "__none__"
    principal = ctx.param("principal")
    found = queries.jobs(ctx.deps.store, state=state, principal=principal)

    def draw() -> str:
        counts = queries.job_states(ctx.deps.store)
        return charts.bar_chart(
            list(counts), list(counts.values()), title="Jobs by state", x_label="jobs"
        )

    chart, _ = ctx.deps.charts.get("jobs", draw)
    return ctx.render(
        "jobs.html",
        jobs=found,
        chart=chart,
        state=state if state != "__none__" else "",
        principal=principal,
        states=[s.value for s in JobState],
    )
