"""Login form, session cookie and CSRF: what a browser gets and what is refused."""

from __future__ import annotations

import re

from consolekit import Browser


def _nonce(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _login(browser: Browser, token: str, next_path: str = "/") -> tuple[int, str]:
    form = browser.get(f"/login?next={next_path}")
    reply = browser.post("/login", {"token": token, "csrf": _nonce(form.text), "next": next_path})
    return reply.status, reply.headers.get("location", "")


def _records(console, since: int, kind: str) -> list[dict]:
    return [dict(e.record) for e in console.services.audit.entries(since) if e.kind == kind]


def test_login_sets_a_strict_http_only_session_and_csrf_protects_posts(console) -> None:
    browser = Browser(console.port)
    form = browser.get("/login")
    assert form.status == 200
    raw = form.headers["set-cookie"].lower()
    assert "httponly" in raw and "samesite=strict" in raw
    reply = browser.post(
        "/login", {"token": console.tokens["admin"], "csrf": _nonce(form.text), "next": "/jobs"}
    )
    assert reply.status == 303 and reply.headers["location"] == "/jobs"
    (cookie,) = [c.lower() for c in reply.set_cookies if c.startswith("zone_console_session=")]
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie
    page = browser.get("/alerts")
    assert page.status == 200
    csrf = _nonce(page.text)
    assert browser.post("/alerts/evaluate", {}).status == 403
    assert browser.post("/alerts/evaluate", {"csrf": "x" * 43}).status == 403
    assert browser.post("/alerts/evaluate", {"csrf": csrf}).status == 303
    assert browser.post("/logout", {"csrf": csrf}).status == 303
    assert browser.get("/alerts").status == 303  # logged out: back to the login page


def test_login_refusals_are_audited_without_the_token(console) -> None:
    before = console.services.audit.head()[0]
    browser = Browser(console.port)
    assert _login(browser, "not-a-token")[0] == 401
    assert _login(Browser(console.port), console.tokens["bank"], "/alerts") == (303, "/me")
    form = browser.get("/login")
    bad_nonce = browser.post(
        "/login", {"token": console.tokens["admin"], "csrf": "forged", "next": "/"}
    )
    assert form.status == 200 and bad_nonce.status == 403
    assert _login(browser, console.tokens["supervisor"])[0] == 303
    logins = _records(console, before, "console.login")
    assert [(r["principal"], r["outcome"], r["reason"]) for r in logins] == [
        ("", "refused", "bad_token"),
        ("bank-a", "ok", "ok"),
        ("", "refused", "csrf"),
        ("regulator", "ok", "ok"),
    ]
    text = str(logins)
    assert console.tokens["admin"] not in text and console.tokens["bank"] not in text


def test_next_cannot_leave_the_console(console) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        status, location = _login(Browser(console.port), console.tokens["admin"], target)
        assert status == 303 and location == "/"


def test_supervisor_session_reads_everything_but_posts_nothing(console) -> None:
    browser = Browser(console.port)
    assert _login(browser, console.tokens["supervisor"])[0] == 303
    page = browser.get("/principals")
    assert page.status == 200 and "Suspend" not in page.text and "read-only" in page.text
    csrf = _nonce(browser.get("/alerts").text)
    assert browser.post("/alerts/evaluate", {"csrf": csrf}).status == 403
    assert browser.post("/principals/bank-a/suspend", {"csrf": csrf}).status == 403
    assert browser.post("/logout", {"csrf": csrf}).status == 303


def test_a_suspended_admin_loses_the_console(console) -> None:
    from consolekit import add_supervisor  # noqa: F401 - same helpers as the fixture

    suspensions = console.deps.suspensions
    suspensions.suspend("regulator", actor="zone-admin", note="test")
    try:
        assert console.browser("supervisor").get("/").status == 403
        assert _login(Browser(console.port), console.tokens["supervisor"])[0] == 403
    finally:
        suspensions.resume("regulator", actor="zone-admin", note="")
    assert console.browser("supervisor").get("/").status == 200
