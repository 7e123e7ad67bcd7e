"""Supervision: data-flow alerts, corrections (admin only) and operator evaluation.

Every action here is a POST that only an admin reaches (the route table); the core call it
makes writes its audit record in the same transaction as the change, with the admin as
``principal``. After an action the browser is sent back to the page it came from.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from zone.admin.evaluation import month_period
from zone.admin.suspensions import MAX_NOTE
from zone.console.web import Ctx
from zone.errors import NotFound

OPERATOR_ROLES = ("operator", "researcher")


def _back(to: str) -> Response:
    return RedirectResponse(to, status_code=303)


def alerts(ctx: Ctx) -> Response:
    """Open and acknowledged alerts, newest first."""
    show_all = ctx.param("show") == "all"
    found = ctx.deps.alerts.list(open_only=not show_all, limit=200)
    return ctx.render(
        "alerts.html", alerts=found, show_all=show_all, max_note=MAX_NOTE, show_actions=True
    )


def acknowledge_alert(ctx: Ctx) -> Response:
    """Acknowledge one alert with the admin's note."""
    raw = ctx.path_params["alert_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("no such alert", reason="unknown_alert")
    ctx.deps.alerts.acknowledge(int(raw), actor=ctx.actor().id, note=ctx.field("note", MAX_NOTE))
    return _back("/alerts")


def evaluate_alerts(ctx: Ctx) -> Response:
    """Run the alert rules now (they also run on the configured interval)."""
    raised = ctx.deps.alerts.evaluate()
    ctx.deps.audit.append(
        "console.alerts_evaluated", {"principal": ctx.actor().id, "raised": len(raised)}
    )
    return _back("/alerts")


def _known_principal(ctx: Ctx, principal: str) -> str:
    if principal not in ctx.deps.policies().principals:
        raise NotFound("no such principal", reason="unknown_principal")
    return principal


def suspend(ctx: Ctx) -> Response:
    """Suspend a principal: its next gRPC call is refused (PERMISSION_DENIED)."""
    principal = _known_principal(ctx, ctx.path_params["principal"])
    ctx.deps.suspensions.suspend(principal, actor=ctx.actor().id, note=ctx.field("note", MAX_NOTE))
    return _back("/principals")


def resume(ctx: Ctx) -> Response:
    """Lift a suspension (also for principals no longer in the policy set)."""
    ctx.deps.suspensions.resume(
        ctx.path_params["principal"], actor=ctx.actor().id, note=ctx.field("note", MAX_NOTE)
    )
    return _back("/principals")


def exit_principal(ctx: Ctx) -> Response:
    """Remove a principal from the zone (``zone.admin.exits``); shows its receipt's entry."""
    done = ctx.deps.exits.exit(
        ctx.path_params["principal"],
        actor=ctx.actor(),
        note=ctx.field("note", MAX_NOTE),
        request_id=ctx.request_id,
    )
    return _back(f"/audit?principal={quote(done.principal, safe='')}&kind=release")


def _served_version(ctx: Ctx) -> tuple[str, str]:
    dataset = ctx.path_params["dataset"]
    info = ctx.deps.datasets().get(dataset)
    if info is None:
        raise NotFound("no such dataset", reason="unknown_dataset")
    return dataset, info.version


def quarantine_dataset(ctx: Ctx) -> Response:
    """Quarantine the served version of a dataset: every product on it is refused."""
    dataset, version = _served_version(ctx)
    ctx.deps.quarantine.quarantine(
        dataset, version, actor=ctx.actor().id, note=ctx.field("note", MAX_NOTE)
    )
    return _back("/datasets")


def release_dataset(ctx: Ctx) -> Response:
    """Put the served version of a dataset back in service."""
    dataset, version = _served_version(ctx)
    ctx.deps.quarantine.release(
        dataset, version, actor=ctx.actor().id, note=ctx.field("note", MAX_NOTE)
    )
    return _back("/datasets")


def revoke_model(ctx: Ctx) -> Response:
    """Revoke a kept model: scoring with it is refused."""
    ctx.deps.models.revoke(
        ctx.path_params["model_id"], actor=ctx.actor().id, note=ctx.field("note", MAX_NOTE)
    )
    return _back("/products")


def restore_model(ctx: Ctx) -> Response:
    """Undo a model's revocation."""
    ctx.deps.models.restore(
        ctx.path_params["model_id"], actor=ctx.actor().id, note=ctx.field("note", MAX_NOTE)
    )
    return _back("/products")


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def operators(ctx: Ctx) -> Response:
    """Every operator and researcher with its figures for one month."""
    period = ctx.param("period") or _this_month()
    month_period(period)
    policies = ctx.deps.policies()
    reports = [
        ctx.deps.evaluations.report(p.id, period)
        for p in sorted(policies.principals.values(), key=lambda p: p.id)
        if p.role in OPERATOR_ROLES
    ]
    return ctx.render("operators.html", reports=reports, period=period)


def operator_report(ctx: Ctx) -> Response:
    """One principal's evaluation for a month, as a page or (``format=csv``) a CSV file."""
    period = ctx.param("period") or _this_month()
    principal = ctx.path_params["principal"]
    if len(principal) > 64:
        raise NotFound("no such principal", reason="unknown_principal")
    report = ctx.deps.evaluations.report(principal, period)
    if ctx.param("format") == "csv":
        return Response(
            report_csv(report.rows()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="operator-{period}.csv"'},
        )
    return ctx.render("operator.html", report=report, period=period)


def report_csv(rows: list[tuple[str, str]]) -> str:
    """``figure,value`` lines with a header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("figure", "value"))
    writer.writerows(rows)
    return out.getvalue()
