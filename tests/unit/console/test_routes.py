"""The console's route table holds for every role: each route is requested as each role."""

from __future__ import annotations

import json

import pytest

from zone.console.routes import ADMIN, EVERYONE, OWN, READERS, ROUTES, ConsoleRoute

ROLES = (None, "bank", "researcher", "supervisor", "admin")
SAMPLE_PARAMS = {
    "release_id": "no-such-release",
    "principal": "no-such-principal",
    "model_id": "no-such-model",
    "dataset": "no-such-dataset",
    "alert_id": "999999",
}


def _path(route: ConsoleRoute) -> str:
    path = route.path
    for name, value in SAMPLE_PARAMS.items():
        path = path.replace("{" + name + "}", value)
    return path


def _expected(route: ConsoleRoute, who: str | None, status: int) -> bool:
    if route.public:
        return status < 500
    if who is None:
        if route.method == "POST" or route.path == "/metrics":
            return status == 401
        return status == 303
    role = {"bank": "operator", "researcher": "researcher"}.get(who, who)
    if role not in route.roles:
        return status == 403
    return status < 500 and status not in (401, 403)


def test_table_invariants() -> None:
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys))
    for route in ROUTES:
        assert route.public == (route.roles == frozenset()), route
        assert route.roles <= READERS or route.roles == OWN or route.path == "/logout", route
        if route.method == "POST" and not route.public and route.path != "/logout":
            assert route.roles == ADMIN, f"supervisors must not POST to {route.path}"
        if route.roles & OWN:  # an operator's routes name no principal: only its own data
            assert "{principal}" not in route.path, route
    assert next(r for r in ROUTES if r.path == "/logout").roles == EVERYONE
    assert {r.path for r in ROUTES if r.public} == {"/login", "/static/console.css"}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_role_on_every_route(console, route: ConsoleRoute) -> None:
    for who in ROLES:
        browser = console.browser(who)
        reply = browser.request(
            route.method, _path(route), form={} if route.method == "POST" else None
        )
        assert _expected(route, who, reply.status), (who, reply.status, reply.text[:300])
        if reply.status == 303 and who is None:
            assert reply.headers["location"].startswith("/login?next=")


def test_unknown_routes_are_404(console) -> None:
    for path in ("/admin", "/../etc/passwd", "/principals/x", "/static/other.css"):
        assert console.browser("admin").get(path).status == 404
    assert console.browser("admin").post("/principals").status == 404


def test_refused_posts_are_audited(console) -> None:
    before = console.services.audit.head()[0]
    assert console.browser("supervisor").post("/alerts/evaluate").status == 403
    assert console.browser("bank").post("/principals/bank-a/suspend").status == 403
    records = [(e.kind, dict(e.record)) for e in console.services.audit.entries(since_seq=before)]
    refused = [r for kind, r in records if kind == "console.refused"]
    assert [(r["principal"], r["route"], r["reason"]) for r in refused] == [
        ("regulator", "POST /alerts/evaluate", "role"),
        ("bank-a", "POST /principals/{principal}/suspend", "role"),
    ]


def test_security_headers(console) -> None:
    reply = console.browser("admin").get("/")
    assert reply.status == 200
    csp = reply.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["cache-control"] == "no-store"
    assert "http://" not in reply.text and "https://" not in reply.text


def test_metrics_carry_no_principal(console) -> None:
    text = console.browser("supervisor").get("/metrics").text
    assert "zone_state_read_seconds" in text
    assert "bank-a" not in text and "principal" not in text
    json.dumps(text)
