"""Login, logout, the stylesheet and the Prometheus text: the pages around the views.

The login form turns a token into a session: the form carries a CSRF nonce that must match a
short-lived cookie (double submit), the token is checked like a gRPC call's. Admins and
supervisors get a session for the whole console; operators and researchers one for their own
page (``/me``), where their login always lands. Every attempt, accepted or not, is audited
(``console.login``) without the token.
"""

from __future__ import annotations

from importlib import resources

from starlette.responses import RedirectResponse, Response

from zone.clock import today_utc
from zone.console.auth import check_not_suspended
from zone.console.metrics import CONTENT_TYPE
from zone.console.sessions import (
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    SESSION_COOKIE,
    new_login_nonce,
    same_secret,
)
from zone.console.web import Ctx
from zone.errors import PermissionDenied, Unauthenticated

CONSOLE_ROLES = frozenset({"admin", "supervisor", "operator", "researcher"})
OWN_PAGE_ROLES = frozenset({"operator", "researcher"})
_CSS = resources.files("zone.console").joinpath("static", "console.css").read_bytes()


def safe_next(target: str) -> str:
    """A local path to go to after login; anything else (other hosts, schemes) gives '/'."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def login_form(ctx: Ctx, *, error: str = "", status: int = 200) -> Response:
    """The login form, with a fresh CSRF nonce in a cookie and a hidden field."""
    nonce = new_login_nonce()
    response = ctx.render(
        "login.html", status=status, nonce=nonce, next=safe_next(ctx.param("next")), error=error
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_SECONDS,
        path="/login",
        secure=ctx.deps.tls,
        httponly=True,
        samesite="strict",
    )
    return response


def _audit_login(ctx: Ctx, principal: str, role: str, outcome: str, reason: str) -> None:
    ctx.deps.audit.append(
        "console.login",
        {"principal": principal, "role": role, "outcome": outcome, "reason": reason},
    )


def login(ctx: Ctx) -> Response:
    """Check the form's nonce and token; open a session (operators land on their own page)."""
    if not same_secret(ctx.form.get("csrf", ""), ctx.cookies.get(LOGIN_COOKIE, "")):
        _audit_login(ctx, "", "", "refused", "csrf")
        return login_form(ctx, error="the form expired; please try again", status=403)
    token = ctx.form.get("token", "").strip()
    try:
        if len(token) > 1000:
            raise Unauthenticated("invalid or expired credentials", reason="bad_token")
        principal = ctx.deps.policies().authenticate_token(token, today_utc())
        if principal.role not in CONSOLE_ROLES:
            raise PermissionDenied("this console is not for your role", reason="role_denied")
        check_not_suspended(ctx.deps, principal)
    except (Unauthenticated, PermissionDenied) as exc:
        who = "" if isinstance(exc, Unauthenticated) else principal.id
        role = "" if isinstance(exc, Unauthenticated) else principal.role
        _audit_login(ctx, who, role, "refused", exc.reason)
        status = 401 if isinstance(exc, Unauthenticated) else 403
        return login_form(ctx, error=exc.message, status=status)
    assert ctx.sessions is not None
    session = ctx.sessions.create(principal.id)
    _audit_login(ctx, principal.id, principal.role, "ok", "ok")
    target = safe_next(ctx.field("next", 2000))
    if principal.role in OWN_PAGE_ROLES and target != "/me" and not target.startswith("/me/"):
        target = "/me"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.session_id,
        max_age=int(ctx.sessions.lifetime_seconds),
        path="/",
        secure=ctx.deps.tls,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login", httponly=True, samesite="strict")
    return response


def logout(ctx: Ctx) -> Response:
    """End the session (if any), audited; back to the login page."""
    viewer = ctx.viewer
    assert viewer is not None and ctx.sessions is not None
    if viewer.session is not None:
        ctx.sessions.end(viewer.session.session_id)
    ctx.deps.audit.append(
        "console.logout", {"principal": viewer.principal.id, "role": viewer.principal.role}
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def stylesheet(ctx: Ctx) -> Response:
    """The console's only stylesheet (served by the console itself)."""
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


def metrics(ctx: Ctx) -> Response:
    """Prometheus text exposition (scrape with an admin or supervisor bearer token)."""
    return Response(ctx.deps.metrics.text(), media_type=CONTENT_TYPE)
