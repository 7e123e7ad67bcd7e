"""The console's route table (deny by default) and the guard every request passes.

Every page and action is listed in :data:`ROUTES` with the roles that may use it, like the gRPC
method table; anything else is 404. The guard, for each request:
1. reads a POST body (at most ``MAX_BODY`` bytes, else 413; URL-encoded forms only),
2. authenticates (``Authorization: Bearer`` or the session cookie; ``zone.console.auth``):
   nobody -> a redirect to the login page (401 for POSTs and ``/metrics``),
3. checks the role against the route (403 otherwise; refused POSTs are audited),
4. checks the CSRF token of a POST made with a session cookie (403 otherwise, audited);
   bearer requests carry no ambient credential, so they need none,
5. runs the handler in a worker thread and maps domain errors to HTTP statuses; anything else
   is a 500 page with a request id (the stack goes to the log only).

Roles: ``admin`` may do everything; ``supervisor`` (a regulator) may read everything and POST
nothing but its own logout; operators and researchers see only their own page (``/me``: their
budget, usage, jobs and receipts, filtered by their own id) and get 403 on every other page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route as StarletteRoute

from zone.console import pages
from zone.console.auth import authenticate
from zone.console.deps import ConsoleDeps
from zone.console.sessions import Sessions, same_secret
from zone.console.web import HTTP_STATUS, Ctx, Viewer, error_page, with_headers
from zone.errors import ZoneError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
READERS = frozenset({"admin", "supervisor"})
ADMIN = frozenset({"admin"})
OWN = frozenset({"operator", "researcher"})
EVERYONE = READERS | OWN
PUBLIC: frozenset[str] = frozenset()
Handler = Callable[[Ctx], Response]


@dataclass(frozen=True)
class ConsoleRoute:
    """One page or action: who may use it; ``public`` routes need no login."""

    method: str
    path: str
    roles: frozenset[str]
    handler: Handler
    public: bool = False


ROUTES: tuple[ConsoleRoute, ...] = (
    ConsoleRoute("GET", "/login", PUBLIC, pages.login_form, public=True),
    ConsoleRoute("POST", "/login", PUBLIC, pages.login, public=True),
    ConsoleRoute("GET", "/static/console.css", PUBLIC, pages.stylesheet, public=True),
    # The only POST of a supervisor, operator or researcher: ending its own session.
    ConsoleRoute("POST", "/logout", EVERYONE, pages.logout),
    ConsoleRoute("GET", "/me", OWN, pages.own_page),
    ConsoleRoute("GET", "/me/receipts/{release_id}", OWN, pages.own_receipt),
    ConsoleRoute("GET", "/", READERS, pages.overview),
    ConsoleRoute("GET", "/principals", READERS, pages.principals),
    ConsoleRoute("GET", "/datasets", READERS, pages.datasets),
    ConsoleRoute("GET", "/products", READERS, pages.products),
    ConsoleRoute("GET", "/jobs", READERS, pages.jobs),
    ConsoleRoute("GET", "/releases", READERS, pages.releases),
    ConsoleRoute("GET", "/releases/{release_id}/receipt", READERS, pages.receipt),
    ConsoleRoute("GET", "/audit", READERS, pages.audit),
    ConsoleRoute("GET", "/audit/verify", READERS, pages.audit_verify),
    ConsoleRoute("GET", "/consents", READERS, pages.consents),
    ConsoleRoute("GET", "/alerts", READERS, pages.alerts),
    ConsoleRoute("GET", "/operators", READERS, pages.operators),
    ConsoleRoute("GET", "/operators/{principal}", READERS, pages.operator_report),
    ConsoleRoute("GET", "/metrics", READERS, pages.metrics),
    ConsoleRoute("POST", "/principals/{principal}/suspend", ADMIN, pages.suspend),
    ConsoleRoute("POST", "/principals/{principal}/resume", ADMIN, pages.resume),
    ConsoleRoute("POST", "/principals/{principal}/exit", ADMIN, pages.exit_principal),
    ConsoleRoute("POST", "/datasets/{dataset}/quarantine", ADMIN, pages.quarantine_dataset),
    ConsoleRoute("POST", "/datasets/{dataset}/release", ADMIN, pages.release_dataset),
    ConsoleRoute("POST", "/models/{model_id}/revoke", ADMIN, pages.revoke_model),
    ConsoleRoute("POST", "/models/{model_id}/restore", ADMIN, pages.restore_model),
    ConsoleRoute("POST", "/alerts/{alert_id}/ack", ADMIN, pages.acknowledge_alert),
    ConsoleRoute("POST", "/alerts/evaluate", ADMIN, pages.evaluate_alerts),
)


class _BodyTooLarge(Exception):
    pass


async def _read_form(request: Request) -> dict[str, str]:
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _BodyTooLarge
    text = body.decode("utf-8", "replace")
    return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=50))


def _anonymous(request: Request, route: ConsoleRoute) -> Response:
    if route.method == "POST" or route.path == "/metrics":
        response = error_page(401, "log in first (or send Authorization: Bearer <token>)")
        response.headers["WWW-Authenticate"] = 'Bearer realm="zone console"'
        return response
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _refuse(deps: ConsoleDeps, route: ConsoleRoute, viewer: Viewer, why: str) -> Response:
    if route.method == "POST":
        deps.audit.append(
            "console.refused",
            {
                "principal": viewer.principal.id,
                "role": viewer.principal.role,
                "route": f"{route.method} {route.path}",
                "reason": why,
            },
        )
    message = "bad or missing CSRF token" if why == "csrf" else "not permitted for your role"
    return error_page(403, message, viewer)


async def _handle(
    route: ConsoleRoute, request: Request, deps: ConsoleDeps, sessions: Sessions, rid: str
) -> Response:
    form = await _read_form(request) if route.method == "POST" else {}
    viewer = None
    if not route.public:
        viewer = await run_in_threadpool(authenticate, request, deps, sessions)
        if viewer is None:
            return _anonymous(request, route)
        if viewer.principal.role not in route.roles:
            return await run_in_threadpool(_refuse, deps, route, viewer, "role")
        if route.method == "POST" and viewer.via == "session":
            assert viewer.session is not None
            if not same_secret(form.get("csrf", ""), viewer.session.csrf):
                return await run_in_threadpool(_refuse, deps, route, viewer, "csrf")
    ctx = Ctx(
        deps=deps,
        viewer=viewer,
        path=request.url.path,
        query=dict(request.query_params),
        path_params={k: str(v) for k, v in request.path_params.items()},
        form=form,
        request_id=rid,
        cookies=dict(request.cookies),
        sessions=sessions,
    )
    return await run_in_threadpool(route.handler, ctx)


def _endpoint(
    route: ConsoleRoute, deps: ConsoleDeps, sessions: Sessions
) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        rid = uuid.uuid4().hex
        try:
            response = await _handle(route, request, deps, sessions, rid)
        except _BodyTooLarge:
            response = error_page(413, f"the request body is larger than {MAX_BODY} bytes")
        except ZoneError as exc:
            response = error_page(HTTP_STATUS[exc.code], exc.message)
        except Exception:  # noqa: BLE001 - a page, never a stack trace
            log.exception("console %s %s -> 500 (request id %s)", route.method, route.path, rid)
            response = error_page(500, f"internal error (request id {rid})")
        return with_headers(response)

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    return with_headers(error_page(404, "no such page"))


def build_app(deps: ConsoleDeps, sessions: Sessions | None = None) -> Starlette:
    """The console's ASGI application over ``deps``."""
    sessions = sessions or Sessions(deps.config.session_minutes * 60.0)
    routes = [
        StarletteRoute(r.path, _endpoint(r, deps, sessions), methods=[r.method]) for r in ROUTES
    ]
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})
