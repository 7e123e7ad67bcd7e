"""What every console handler gets (:class:`Ctx`) and the shared response helpers.

Handlers are plain functions ``(ctx) -> Response`` run in a worker thread; they read query
parameters through :meth:`Ctx.param` (bounded length, so hostile values are refused with 400,
never passed on) and render Jinja2 templates with autoescaping on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from zone.console.deps import ConsoleDeps
from zone.console.sessions import Session, Sessions
from zone.errors import ErrorCode, InvalidArgument
from zone.policy import Principal

MAX_PARAM = 200
HTTP_STATUS: Mapping[ErrorCode, int] = {
    ErrorCode.INVALID_ARGUMENT: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.RESOURCE_EXHAUSTED: 429,
    ErrorCode.FAILED_PRECONDITION: 409,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.DEADLINE_EXCEEDED: 504,
    ErrorCode.INTERNAL: 500,
}
SECURITY_HEADERS = {
    # Charts are data: URIs of SVG images; no script runs on any page.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _number(value: Any, digits: int = 6) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:,.{digits}g}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def _micro(value: int) -> str:
    return f"{value / 1_000_000:,.6f}".rstrip("0").rstrip(".")


def _when(text: str | None) -> str:
    if not text:
        return ""
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return text


TEMPLATES = Environment(
    loader=PackageLoader("zone.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(number=_number, micro=_micro, when=_when)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the principal in force and how they authenticated."""

    principal: Principal
    via: Literal["bearer", "session"]
    session: Session | None = None

    @property
    def is_admin(self) -> bool:
        """Whether the viewer may act (every POST), not only look."""
        return self.principal.role == "admin"


@dataclass
class Ctx:
    """One request as a handler sees it."""

    deps: ConsoleDeps
    viewer: Viewer | None
    path: str
    query: Mapping[str, str]
    path_params: Mapping[str, str]
    form: Mapping[str, str] = field(default_factory=dict)
    request_id: str = ""
    cookies: Mapping[str, str] = field(default_factory=dict)
    sessions: Sessions | None = None

    def param(self, name: str, default: str = "") -> str:
        """A query parameter, stripped; at most ``MAX_PARAM`` characters.

        Raises:
            InvalidArgument: the value is longer.
        """
        return _bounded(name, self.query.get(name, default))

    def field(self, name: str, limit: int = MAX_PARAM) -> str:
        """A form field, stripped; at most ``limit`` characters.

        Raises:
            InvalidArgument: the value is longer.
        """
        return _bounded(name, self.form.get(name, ""), limit)

    def actor(self) -> Principal:
        """The authenticated principal (every non-public route has one)."""
        if self.viewer is None:  # pragma: no cover - the route guard guarantees it
            raise RuntimeError("no viewer")
        return self.viewer.principal

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """Render a page template with the viewer, its CSRF token and the values."""
        session = self.viewer.session if self.viewer else None
        html = TEMPLATES.get_template(template).render(
            viewer=self.viewer,
            csrf=session.csrf if session else "",
            path=self.path,
            **values,
        )
        return HTMLResponse(html, status_code=status)


def _bounded(name: str, value: str, limit: int = MAX_PARAM) -> str:
    if len(value) > limit:
        raise InvalidArgument(f"{name} is too long (at most {limit} characters)", reason="long")
    return value.strip()


def error_page(status: int, message: str, viewer: Viewer | None = None) -> HTMLResponse:
    """A page saying what went wrong, in public words only (the message is escaped)."""
    html = TEMPLATES.get_template("error.html").render(
        viewer=viewer, csrf="", path="", status=status, message=message
    )
    return HTMLResponse(html, status_code=status)


def with_headers(response: Response) -> Response:
    """Add the security headers every console response carries."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
