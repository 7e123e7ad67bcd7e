"""Who is asking: a bearer token or a session cookie, checked against the policy set in force.

The same principals and token digests as gRPC (``PolicySet.authenticate_token``: constant-time
comparison with every digest). A session names a principal id; it is looked up again in the
policy set in force on every request, so reloads and expiry apply at once. A suspended
principal is refused (403) whichever way it comes.
"""

from __future__ import annotations

from starlette.requests import Request

from zone.clock import today_utc
from zone.console.deps import ConsoleDeps
from zone.console.sessions import SESSION_COOKIE, Sessions
from zone.console.web import Viewer
from zone.errors import PermissionDenied, Unauthenticated
from zone.policy import INVALID_CREDENTIALS, Principal


def bearer(header: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value.

    Raises:
        Unauthenticated: the header is not a bearer credential.
    """
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 1000:
        raise Unauthenticated("malformed authorization header", reason="bad_metadata")
    return token.strip()


def check_not_suspended(deps: ConsoleDeps, principal: Principal) -> None:
    """Refuse a suspended principal.

    Raises:
        PermissionDenied: the principal is suspended.
    """
    if deps.suspensions.is_suspended(principal.id):
        raise PermissionDenied("this principal is suspended", reason="principal_suspended")


def authenticate(request: Request, deps: ConsoleDeps, sessions: Sessions) -> Viewer | None:
    """The viewer of a request; None when it carries no credential (or an expired session).

    Raises:
        Unauthenticated: a bearer token that is malformed, unknown or expired.
        PermissionDenied: the principal is suspended.
    """
    policies = deps.policies()
    today = today_utc()
    header = request.headers.get("authorization")
    if header is not None:
        principal = policies.authenticate_token(bearer(header), today)
        check_not_suspended(deps, principal)
        return Viewer(principal, "bearer")
    session = sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        return None
    current = policies.principals.get(session.principal)
    if current is None or not current.is_valid_on(today):
        sessions.end(session.session_id)
        raise Unauthenticated(INVALID_CREDENTIALS, reason="principal_expired")
    check_not_suspended(deps, current)
    return Viewer(current, "session", session)
