"""An operator's or researcher's own page: its budget, usage, jobs and receipts, nobody else's.

Every query here is filtered by the viewer's own principal id, taken from its credential; no
query parameter or path names a principal, so there is nothing to point at another one. A
receipt is fetched as the viewer (``ReceiptBook.bundle`` with ``is_admin=False``): another
principal's release id reads as unknown. The zone-wide caps are left out (their spent amounts
sum every principal's charges).
"""

from __future__ import annotations

import json

from starlette.responses import Response

from zone.admin import budget_report
from zone.clock import today_utc
from zone.console import queries
from zone.console.web import Ctx
from zone.metering import Period


def own_page(ctx: Ctx) -> Response:
    """The viewer's budgets, usage, jobs and releases (newest first)."""
    me = ctx.actor()
    report = budget_report(ctx.deps.store, ctx.deps.policies(), today_utc(), principal=me.id)
    return ctx.render(
        "own.html",
        budgets=[b for b in report.budgets if b.principal == me.id],
        usage=ctx.deps.metering.usage(Period(), principal=me.id),
        jobs=queries.jobs(ctx.deps.store, principal=me.id),
        releases=queries.releases(ctx.deps.store, principal=me.id),
    )


def own_receipt(ctx: Ctx) -> Response:
    """Download one of the viewer's receipt bundles (another's reads as unknown: 404)."""
    release_id = ctx.path_params["release_id"]
    bundle = ctx.deps.receipts.bundle(ctx.actor().id, False, release_id)
    body = json.dumps(bundle.to_dict(), indent=2, sort_keys=True)
    safe_name = "".join(c for c in release_id if c.isalnum() or c in "-_")[:80] or "receipt"
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="receipt-{safe_name}.json"'},
    )
