"""Evidence: releases and their receipts (with inclusion proofs), the audit chain, verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from starlette.responses import Response

from zone.admin import AuditFilter, query_audit
from zone.audit.checkpoint import latest_checkpoint, verify_against_checkpoint
from zone.audit.keys import load_public_key
from zone.console import queries
from zone.console.web import Ctx
from zone.errors import InvalidArgument
from zone.metering import Period

RELEASE_KINDS = ("statistics", "training", "verification")


def releases(ctx: Ctx) -> Response:
    """Search releases by principal, product, kind or release id (exact values)."""
    kind = ctx.param("kind")
    filters = {
        "principal": ctx.param("principal"),
        "product": ctx.param("product"),
        "kind": kind if kind in RELEASE_KINDS else "",
        "release_id": ctx.param("release_id"),
    }
    rows = queries.releases(ctx.deps.store, **filters)
    return ctx.render("releases.html", releases=rows, filters=filters, kinds=RELEASE_KINDS)


def receipt(ctx: Ctx) -> Response:
    """Download one receipt bundle (receipt, audit entry, inclusion proof, checkpoint) as JSON."""
    release_id = ctx.path_params["release_id"]
    principal = ctx.actor()
    bundle = ctx.deps.receipts.bundle(principal.id, True, release_id)
    body = json.dumps(bundle.to_dict(), indent=2, sort_keys=True)
    safe_name = "".join(c for c in release_id if c.isalnum() or c in "-_")[:80] or "receipt"
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="receipt-{safe_name}.json"'},
    )


def _moment(name: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a date or time like 2026-11-01T08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit(ctx: Ctx) -> Response:
    """Search the chain by principal, product, kind and time, one page at a time."""
    filters = {n: ctx.param(n) for n in ("principal", "product", "kind", "since", "until")}
    period = Period(_moment("since", filters["since"]), _moment("until", filters["until"]))
    ctx.deps.audit.flush()  # journaled ``rpc`` records too
    page = query_audit(
        ctx.deps.store,
        AuditFilter(filters["principal"], filters["product"], filters["kind"], period),
        page_size=50,
        page_token=ctx.param("page_token"),
    )
    rows = [
        {"entry": e, "record": e.record_json[:600] + ("…" if len(e.record_json) > 600 else "")}
        for e in page.rows
    ]
    return ctx.render("audit.html", rows=rows, filters=filters, next_token=page.next_page_token)


def audit_verify(ctx: Ctx) -> Response:
    """Recompute the whole chain and check it against the latest signed checkpoint."""
    result = ctx.deps.verifier.verify()
    check, pinned = None, False
    key_path = ctx.deps.checkpoint_public_key
    trusted = load_public_key(key_path) if key_path and key_path.is_file() else None
    with ctx.deps.store.read() as conn:
        checkpoint = latest_checkpoint(conn)
        if checkpoint is not None:
            check = verify_against_checkpoint(conn, checkpoint, trusted)
            pinned = trusted is not None
    return ctx.render(
        "verify.html", result=result, checkpoint=checkpoint, check=check, pinned=pinned
    )
