"""The console of a zone on a PostgreSQL state: every view answers, for the admin and the regulator.

docs/DEPLOY.md's replicas share PostgreSQL; their consoles read it. The console's own tests run
on SQLite, and on PostgreSQL the jobs, releases and operators pages answered 500 and the alert
rules failed on every run. A real zone (in-process) on the session's throwaway cluster.
"""

from __future__ import annotations

from pathlib import Path

from consolekit import Browser, add_supervisor
from zonekit import TOKENS, client, make_zone_dir, running_zone

from zone.client import UnauthenticatedError, ZoneClient
from zone.client.stats import count

CONFIG = (
    "console:\n"
    "  listen: 127.0.0.1:0\n"
    "  alerts:\n"
    "    interval_seconds: 3600\n"
    "    refused_calls: {threshold: 3, window_seconds: 3600}\n"
)
VIEWS = ("/", "/principals", "/datasets", "/products", "/jobs", "/jobs?state=cancelled",
         "/releases", "/releases?principal=bank-a&kind=statistics", "/consents", "/audit",
         "/audit?principal=bank-a", "/audit/verify", "/alerts", "/alerts?show=all",
         "/operators", "/operators/bank-a", "/operators/bank-a?format=csv", "/metrics")  # fmt: skip


def test_every_view_answers_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=500, state_db=pg_url, extra_config=CONFIG)
    supervisor = add_supervisor(config)
    with running_zone(config) as running:
        assert running.console is not None
        with client(running, "bank") as bank:
            release = bank.query_statistics("enterprise-stats", [count()], epsilon=0.1)
        for _ in range(4):
            with ZoneClient(f"127.0.0.1:{running.port}", token="wrong", timeout=10) as anon:
                try:
                    anon.list_datasets()
                except UnauthenticatedError:
                    pass
        admin = Browser(running.console.port, TOKENS["admin"])
        assert admin.post("/alerts/evaluate").status == 303
        exited = admin.post("/principals/city-research/exit", {"note": "licence ended"})
        assert exited.status == 303
        for action in ("/principals/bank-a/suspend", "/principals/bank-a/resume",
                       "/datasets/enterprises/quarantine", "/datasets/enterprises/release",
                       "/alerts/1/ack"):  # fmt: skip
            assert admin.post(action, {"note": "checked"}).status == 303, action
        regulator = Browser(running.console.port, supervisor)
        for who in (admin, regulator):
            for view in VIEWS:
                reply = who.get(view)
                assert reply.status == 200, (view, reply.status, reply.text[:300])
        assert "refused_calls" in admin.get("/alerts?show=all").text
        assert release.release_id in admin.get("/releases").text
        assert "exited" in regulator.get("/principals").text
        report = admin.get("/operators/bank-a").text
        assert "100000" in report  # epsilon_micro of the one charge: summed on PostgreSQL
        receipt = admin.get(f"/releases/{release.release_id}/receipt")
        assert receipt.status == 200 and release.release_id in receipt.text
        operator = Browser(running.console.port, TOKENS["bank"])
        own = operator.get("/me")
        assert own.status == 200 and release.release_id in own.text
        own_receipt = operator.get(f"/me/receipts/{release.release_id}")
        assert own_receipt.status == 200 and release.release_id in own_receipt.text
