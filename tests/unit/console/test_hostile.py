"""Hostile input on every query parameter, form field and path: escaped or refused, never a 500."""

from __future__ import annotations

import http.client
from urllib.parse import quote

import pytest
from consolekit import Browser, Reply

from zone.console.routes import ROUTES

XSS = "<script>alert(1)</script>"
PAYLOADS = (
    XSS,
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1; DROP TABLE audit_log; --",
    "%' UNION SELECT token_sha256 FROM principals --",
    "\x00\x01\u202e\ufffd",
    "../../etc/passwd",
    "seq:99999999999999999999999",
    "x" * 1_000_000,
)
READS = {
    "/login": ("next",),
    "/jobs": ("state", "principal"),
    "/releases": ("principal", "product", "kind", "release_id"),
    "/audit": ("principal", "product", "kind", "since", "until", "page_token"),
    "/consents": ("principal", "product"),
    "/alerts": ("show",),
    "/operators": ("period",),
    "/operators/{principal}": ("period", "format"),
}
PARAMS = sorted({name for names in READS.values() for name in names})
FIELDS = ("note", "token", "next", "csrf")


def _short(payload: str) -> str:
    return payload if len(payload) < 100 else f"{len(payload)} bytes"


def _send(browser: Browser, method: str, path: str, **kwargs) -> Reply | None:
    """The reply, or None when the server closed a request line too long to read (refused)."""
    try:
        return browser.request(method, path, **kwargs)
    except (ConnectionError, http.client.RemoteDisconnected):
        assert len(path) > 60_000, path[:200]
        return None


def _check(reply: Reply | None, payload: str) -> None:
    if reply is None:
        return
    assert reply.status < 500, (reply.status, reply.text[:500])
    assert XSS not in reply.text
    assert "onerror=alert(1)>" not in reply.text


@pytest.mark.parametrize("payload", PAYLOADS, ids=_short)
def test_every_query_parameter_of_every_page(console, payload: str) -> None:
    admin = console.browser("admin")
    query = "&".join(f"{name}={quote(payload)}" for name in PARAMS)
    for route in ROUTES:
        if route.method != "GET":
            continue
        path = route.path.replace("{release_id}", "x").replace("{principal}", "bank-a")
        _check(_send(admin, "GET", f"{path}?{query}"), payload)
        for name in READS.get(route.path, ()):  # one at a time: valid others hide nothing
            _check(_send(admin, "GET", f"{path}?{name}={quote(payload)}"), payload)


@pytest.mark.parametrize("payload", PAYLOADS, ids=_short)
def test_every_path_parameter(console, payload: str) -> None:
    admin = console.browser("admin")
    for route in ROUTES:
        if "{" not in route.path:
            continue
        path = route.path.split("{")[0] + quote(payload, safe="") + route.path.split("}")[1]
        form = {} if route.method == "POST" else None
        _check(_send(admin, route.method, path, form=form), payload)


@pytest.mark.parametrize("payload", PAYLOADS, ids=_short)
def test_every_form_field_of_every_post(console, payload: str) -> None:
    admin = console.browser("admin")
    for route in ROUTES:
        if route.method != "POST":
            continue
        path = route.path.replace("{principal}", "no-such").replace("{model_id}", "no-such")
        path = path.replace("{alert_id}", "999999999")
        if path == "/logout":
            continue
        _check(admin.post(path, dict.fromkeys(FIELDS, payload)), payload)
    anonymous = Browser(console.port)
    _check(anonymous.post("/login", dict.fromkeys(FIELDS, payload)), payload)


def test_bad_csrf_tokens_are_refused(console) -> None:
    browser = Browser(console.port)
    form = browser.get("/login")
    nonce = form.text.split('name="csrf" value="')[1].split('"')[0]
    reply = browser.post("/login", {"token": console.tokens["admin"], "csrf": nonce})
    assert reply.status == 303
    for bad in ("", "x", nonce, "A" * 100_000, XSS):
        refused = browser.post("/alerts/evaluate", {"csrf": bad})
        assert refused.status in (403, 413) and XSS not in refused.text


def test_bodies_and_headers_out_of_bounds(console) -> None:
    admin = console.browser("admin")
    big = admin.request("POST", "/alerts/evaluate", raw_body=b"note=" + b"x" * 2_000_000,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert big.status == 413
    for header in ("Bearer", "Bearer " + "x" * 5000, "Basic abc", XSS, "Bearer \u00e9"):
        reply = Browser(console.port).request("GET", "/", headers={"Authorization": header})
        assert reply.status in (400, 401), header
    assert console.deps.verifier.verify().ok
