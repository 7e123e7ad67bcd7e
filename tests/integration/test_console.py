"""The supervision console served by a real zone: corrections reach gRPC, figures reconcile.

A real server on port 0 with its console on another loopback port, real DuckDB and SQLite
files; the admin acts through the console's HTTP routes, callers through the SDK.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from consolekit import Browser, add_supervisor
from zonekit import TOKENS, client, demo_rows, make_zone_dir, running_zone

from zone.client import (
    FailedPreconditionError,
    PermissionDeniedError,
    UnauthenticatedError,
    ZoneClient,
)
from zone.client.stats import count
from zone.server.app import RunningZone

STATS = "enterprise-stats"
CONFIG = (
    "console:\n"
    "  listen: 127.0.0.1:0\n"
    "  alerts:\n"
    "    interval_seconds: 3600\n"
    "    differencing: {threshold: 1, window_seconds: 3600}\n"
    "    refused_calls: {threshold: 5, window_seconds: 3600}\n"
)


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str]]:
    config = make_zone_dir(tmp_path_factory.mktemp("console-zone"), extra_config=CONFIG)
    supervisor = add_supervisor(config)
    with running_zone(config) as running:
        yield running, supervisor


def _admin(running: RunningZone) -> Browser:
    assert running.console is not None
    return Browser(running.console.port, TOKENS["admin"])


def test_a_suspended_principal_is_refused_on_its_next_call(zone) -> None:
    running, _ = zone
    admin = _admin(running)
    with client(running, "bank") as bank:
        bank.list_datasets()
        assert admin.post("/principals/bank-a/suspend", {"note": "probing"}).status == 303
        with pytest.raises(PermissionDeniedError) as refused:
            bank.list_datasets()
        assert "suspended" in refused.value.message
        page = admin.get("/principals").text
        assert "suspended" in page and "probing" in page
        assert admin.post("/principals/bank-a/resume", {"note": "cleared"}).status == 303
        bank.list_datasets()
    records = [(e.kind, dict(e.record)) for e in running.services.audit.entries(limit=10_000)]
    changes = [(k, r["target"], r["principal"]) for k, r in records if k.startswith("principal.")]
    assert changes == [
        ("principal.suspended", "bank-a", "zone-admin"),
        ("principal.resumed", "bank-a", "zone-admin"),
    ]
    denied = [r for k, r in records if k == "rpc" and r["reason"] == "principal_suspended"]
    assert len(denied) == 1 and denied[0]["status"] == "PERMISSION_DENIED"


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _sums_from_chain(running: RunningZone, principal: str, month: str) -> dict[str, int]:
    """The report's figures recomputed here from every record of the chain."""
    sums: Counter[str] = Counter()
    voided, unreleased = set(), set()
    charges = []
    for entry in running.services.audit.entries(limit=10_000):
        record = dict(entry.record)
        if entry.kind == "metering.void":
            voided.add(record["usage_id"])
        if entry.kind in ("ledger.failed", "ledger.refund"):
            unreleased.add(record["release_id"])
        if record.get("principal") != principal or not entry.ts.startswith(month):
            continue
        if entry.kind == "rpc":
            sums["calls"] += 1
            refused = record["status"] in ("PERMISSION_DENIED", "UNAUTHENTICATED",
                                           "RESOURCE_EXHAUSTED")  # fmt: skip
            sums["refused"] += refused
            sums["failed"] += not refused and record["status"] != "OK"
        sums["releases"] += entry.kind == "release"
        sums["jobs"] += entry.kind == "job.created"
        sums["alerts"] += entry.kind == "alert.raised"
        if entry.kind == "ledger.charge":
            sums["epsilon_micro"] += record["epsilon_micro"]
        if entry.kind == "ledger.refund":
            sums["epsilon_micro"] -= record["epsilon_micro"]
        if entry.kind == "metering.charge":
            charges.append(record)
    for record in charges:
        if record["usage_id"] not in voided and record["release_id"] not in unreleased:
            sums[f"billed_{record['currency'] or 'none'}_micro"] += record["amount_micro"]
    return {k: v for k, v in sums.items() if v}


def test_operator_report_equals_sums_over_the_audit_chain(zone, tmp_path: Path) -> None:
    running, _ = zone
    with client(running, "bank") as bank:
        bank.query_statistics(STATS, [count()], epsilon=0.1)
        bank.query_statistics(STATS, [count()], epsilon=0.1, group_by=["district"])
        with pytest.raises(PermissionDeniedError):
            bank.query_statistics(STATS, [count()], epsilon=3.0)  # above the cap
        with pytest.raises(PermissionDeniedError):
            bank.reload_policies()  # an admin method
    month = _month()
    expected = _sums_from_chain(running, "bank-a", month)
    assert expected["calls"] >= 4 and expected["refused"] >= 2 and expected["releases"] >= 2
    reply = _admin(running).get(f"/operators/bank-a?period={month}&format=csv")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv")
    shown = {row["figure"]: int(row["value"]) for row in csv.DictReader(io.StringIO(reply.text))}
    assert {k: v for k, v in shown.items() if v} == expected

    from zone.cli import main

    out = tmp_path / "out.csv"
    with out.open("w") as handle, contextlib.redirect_stdout(handle):
        code = main(["operators", "report", "bank-a", "--period", month, "--csv",
                     "--config", str(running.services.config.source)])  # fmt: skip
    assert code == 0
    cli = {row["figure"]: int(row["value"]) for row in csv.DictReader(io.StringIO(out.read_text()))}
    assert cli == shown


def test_alerts_from_real_calls(zone) -> None:
    running, _ = zone
    with client(running, "researcher") as researcher:
        for _ in range(2):  # the same shape twice in one window: a near-duplicate pair
            researcher.query_statistics(STATS, [count()], epsilon=0.05)
    assert running.console is not None
    for _ in range(6):
        with ZoneClient(f"127.0.0.1:{running.port}", token="forged", timeout=10) as forged:
            with pytest.raises(UnauthenticatedError):
                forged.list_datasets()
    admin = _admin(running)
    assert admin.post("/alerts/evaluate").status == 303
    raised = set(_alerts(running))
    assert ("differencing", "city-research") in raised
    assert ("refused_calls", "") in raised
    page = admin.get("/alerts").text
    assert "differencing" in page and "city-research" in page


def _alerts(running: RunningZone) -> list[tuple[str, str]]:
    return [
        (e.record["rule"], e.record["principal"])
        for e in running.services.audit.entries(limit=10_000)
        if e.kind == "alert.raised"
    ]


def test_supervisor_reads_every_view_and_metrics(zone) -> None:
    running, supervisor = zone
    assert running.console is not None
    browser = Browser(running.console.port, supervisor)
    for path in ("/", "/principals", "/datasets", "/products", "/jobs", "/releases",
                 "/audit?principal=bank-a", "/audit/verify", "/alerts", "/operators"):  # fmt: skip
        assert browser.get(path).status == 200, path
    assert "Intact" in browser.get("/audit/verify").text
    datasets = browser.get("/datasets").text
    report = running.services.catalog.get("enterprises").report
    assert report is not None and "Import quality report" in datasets
    assert report.digest in datasets and "conditional" in datasets  # digest and open level
    metrics = browser.get("/metrics").text
    assert 'zone_rpc_calls_total{method="/zone.v1.StatisticsService/Query",status="OK"}' in metrics
    assert "zone_rpc_latency_seconds_bucket" in metrics
    releases = browser.get("/releases?principal=bank-a").text
    release_id = releases.split("/releases/")[1].split("/receipt")[0]
    bundle = browser.get(f"/releases/{release_id}/receipt")
    assert bundle.status == 200 and b'"receipt"' in bundle.body


def test_consents_and_volume_show_counts_never_subject_keys(zone) -> None:
    running, supervisor = zone
    rows = demo_rows(running)[200:203]
    subjects = [r["uscc"] for r in rows]
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    with client(running, "bank") as bank:
        terms = {"purpose": "kyc", "not_after": until, "letter_sha256": "ab" * 32}
        ids = [bank.register_consent("capital-match", s, **terms).consent for s in subjects]
        bank.revoke_consent(ids[2])
        claims = {"registered_capital": [float(r["registered_capital"]) for r in rows[:2]]}
        bank.match("capital-match", subjects[:2], claims, purpose="kyc", consents=ids[:2])
    assert running.console is not None
    page = Browser(running.console.port, supervisor).get("/consents")
    assert page.status == 200
    assert not any(s in page.text for s in subjects)
    consents = page.text.split('id="consents"')[1].split("</table>")[0]
    assert (
        "<td>capital-match</td><td>bank-a</td><td>3</td><td>1</td><td>2</td><td>0</td>" in consents
    )
    volume = page.text.split('id="volume"')[1].split("</table>")[0]
    assert "<td>capital-match</td><td>bank-a</td><td>1</td><td>2</td>" in volume
    filtered = Browser(running.console.port, supervisor).get("/consents?principal=nobody").text
    assert "no consents recorded" in filtered


def test_a_check_without_a_required_consent_raises_an_alert(zone) -> None:
    """A bug's record: an admitted check of capital-match (consent: operator) with no consent."""
    running, _ = zone
    with running.services.store.write() as tx:
        tx.execute(
            "INSERT INTO consent_calls (request_id, release_id, principal, product, mode, "
            "purpose, used_at, subject_count, subjects, consents) VALUES ('bug', 'bug', "
            "'bank-a', 'capital-match', 'none', 'kyc', ?, 1, '91350100M000100Y43', '[]')",
            (datetime.now(UTC).timestamp(),),
        )
    admin = _admin(running)
    assert admin.post("/alerts/evaluate").status == 303
    assert ("consent_missing", "bank-a") in _alerts(running)
    page = admin.get("/alerts").text
    assert "consent_missing" in page and "91350100M000100Y43" not in page
    assert "91350100M000100Y43" not in admin.get("/metrics").text


def _ids(running: RunningZone, principal: str) -> list[str]:
    with running.services.store.read() as tx:
        rows = tx.execute("SELECT release_id FROM releases WHERE principal = ?", (principal,))
        return [str(r[0]) for r in rows.fetchall()]


OWN_PARAMS = ("principal", "product", "kind", "release_id", "state", "period", "format", "show",
              "since", "until", "page_token", "next", "id", "owner", "who", "user")  # fmt: skip


def test_operators_see_only_their_own_page_whatever_they_ask(zone) -> None:
    running, _ = zone
    with client(running, "bank") as bank, client(running, "researcher") as researcher:
        bank.query_statistics(STATS, [count()], epsilon=0.05)
        researcher.query_statistics(STATS, [count()], epsilon=0.05)
    mine, theirs = _ids(running, "bank-a"), _ids(running, "city-research")
    assert mine and theirs
    assert running.console is not None
    for token in (TOKENS["bank"], None):  # bearer, then a session opened by the login form
        browser = Browser(running.console.port, token)
        if token is None:
            form = browser.get("/login")
            nonce = form.text.split('name="csrf" value="')[1].split('"')[0]
            login = browser.post("/login", {"token": TOKENS["bank"], "csrf": nonce, "next": "/"})
            assert login.status == 303 and login.headers["location"] == "/me"
        page = browser.get("/me")
        assert page.status == 200 and mine[0] in page.text
        assert "city-research" not in page.text and not any(r in page.text for r in theirs)
        for name in OWN_PARAMS:
            for value in ("city-research", theirs[0], "*", "%", "' OR 1=1 --"):
                reply = browser.get(f"/me?{name}={quote(value)}")
                assert reply.status == 200, (name, value)
                assert not any(r in reply.text for r in theirs), (name, value)
                assert "city-research" not in reply.text, (name, value)
        assert browser.get(f"/me/receipts/{mine[0]}").status == 200
        for other in (*theirs[:3], "..", "%2e%2e", quote(theirs[0] + "' OR '1'='1")):
            reply = browser.get(f"/me/receipts/{other}")
            assert reply.status == 404 and "city-research" not in reply.text, other
        for path in ("/", "/releases", f"/releases/{theirs[0]}/receipt", "/audit", "/jobs",
                     "/operators/city-research", "/consents", "/metrics"):  # fmt: skip
            assert browser.get(path).status == 403, path
        assert browser.post("/principals/city-research/suspend", {"note": "x"}).status == 403


def _charges(running: RunningZone) -> int:
    with running.services.store.read() as tx:
        return int(tx.execute("SELECT COUNT(*) FROM charges").fetchone()[0])


SUBJECT = "91350100M000100Y43"


def test_a_quarantined_version_serves_nothing_until_released(zone) -> None:
    running, supervisor = zone
    admin = _admin(running)
    version = running.services.catalog.get("enterprises").version
    assert (
        Browser(running.console.port, supervisor)
        .post("/datasets/enterprises/quarantine", {"note": "bad rows"})
        .status
        == 403
    )  # a supervisor looks, never corrects
    with client(running, "bank") as bank:
        bank.query_statistics("enterprise-stats", [count()], epsilon=0.1)
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        terms = {"purpose": "kyc", "not_after": until, "letter_sha256": "cd" * 32}
        consent = bank.register_consent("capital-match", SUBJECT, **terms).consent
        assert admin.post("/datasets/enterprises/quarantine", {"note": "bad rows"}).status == 303
        try:
            before = _charges(running)
            with pytest.raises(FailedPreconditionError, match="quarantined"):
                bank.query_statistics("enterprise-stats", [count()], epsilon=0.1)
            with pytest.raises(FailedPreconditionError, match="quarantined"):
                bank.match("capital-match", [SUBJECT], {"registered_capital": [1000.0]},
                           purpose="kyc", consents=[consent])  # fmt: skip
            with pytest.raises(FailedPreconditionError, match="quarantined"):
                bank.train("enterprise-default-lr", epsilon=0.5, delta=1e-6, epochs=1)
            assert _charges(running) == before  # refused before anything was charged
            page = admin.get("/datasets").text
            assert "quarantined" in page and "bad rows" in page and "Release" in page
            assert admin.post("/datasets/enterprises/quarantine", {}).status == 409  # already
        finally:
            assert admin.post("/datasets/enterprises/release", {"note": "fixed"}).status == 303
        bank.query_statistics("enterprise-stats", [count()], epsilon=0.1)
    kinds = [
        (e.kind, e.record.get("version")) for e in running.services.audit.entries(limit=10_000)
    ]
    assert ("dataset.quarantined", version) in kinds and ("dataset.released", version) in kinds


def test_a_refused_import_raises_an_alert(zone) -> None:
    running, _ = zone
    running.services.audit.append(
        "dataset.import",
        {"dataset": "enterprises", "outcome": "refused", "report_digest": "sha256:" + "0" * 64},
    )
    assert _admin(running).post("/alerts/evaluate").status == 303
    assert ("import_refused", "") in _alerts(running)
