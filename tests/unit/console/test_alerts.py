"""A scripted run of what the zone records raises exactly the expected data-flow alerts."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from zone.audit import AuditChain
from zone.console.alert_rules import Window, iso_time
from zone.console.alerts import AlertEngine
from zone.console.config import AlertRule, AlertRules
from zone.errors import FailedPrecondition, NotFound
from zone.policy import Budget, Grant, PolicySet, Principal
from zone.state import StateStore

RULES = AlertRules(
    interval_seconds=60,
    enumeration=AlertRule(5000, 3600),
    budget_burn=AlertRule(0.5, 3600),
    differencing=AlertRule(1, 3600),
    refused_calls=AlertRule(50, 3600),
    cancelled_jobs=AlertRule(3, 86_400),
)


def policies() -> PolicySet:
    return PolicySet(
        principals={p: Principal(p, "operator", p) for p in ("bank-a", "city")},
        grants=(
            Grant("bank-a", ("s",), {"enterprises": Budget(5.0, 1e-6)}, "p"),
            Grant("city", ("s",), {"enterprises": Budget(2.0, 1e-6)}, "p"),
        ),
    )


def _check(conn, principal: str, subjects: list[str], at: float) -> None:
    conn.execute(
        "INSERT INTO verification_checks (request_id, release_id, principal, product, kind, "
        "checked_at, purpose, subject_count, subjects, subjects_digest) "
        "VALUES ('r', 'x', ?, 'capital-match', 'match', ?, 'kyc', ?, ?, 'd')",
        (principal, at, len(subjects), "\n".join(subjects)),
    )


def _release(conn, seq: int, principal: str, group_by: list[str], at: str) -> None:
    artifact = {"group_by": group_by, "measures": [{"kind": "count", "column": None}]}
    conn.execute(
        "INSERT INTO releases (release_id, audit_seq, principal, product, kind, created_at, "
        "receipt, artifact) VALUES (?, ?, ?, 'enterprise-stats', 'statistics', ?, '{}', ?)",
        (f"rel-{seq}", seq, principal, at, json.dumps(artifact)),
    )


def _charge(conn, n: int, principal: str, epsilon_micro: int, at: str, state: str) -> None:
    conn.execute(
        "INSERT INTO charges (release_id, request_id, principal, product, dataset, epsilon_micro, "
        "delta_femto, state, created_at) VALUES (?, 'r', ?, 's', 'enterprises', ?, 0, ?, ?)",
        (f"charge-{n}", principal, epsilon_micro, state, at),
    )


def _job(conn, n: int, principal: str, touched: int, at: str) -> None:
    conn.execute(
        "INSERT INTO jobs (job_id, principal, product, dataset, state, spec, touched_data, "
        "created_at, finished_at, updated_at) "
        "VALUES (?, ?, 'lr', 'enterprises', 'cancelled', '{}', ?, ?, ?, ?)",
        (f"job-{n}", principal, touched, at, at, at),
    )


def script(store: StateStore, now: float) -> None:
    """10,000 subjects in an hour, a differencing pair, a budget burn, probing, cancellations."""
    at = iso_time(now)
    chain = AuditChain(store)
    for _ in range(60):
        chain.append("rpc", {"principal": "", "decision": "deny", "status": "UNAUTHENTICATED"})
    for _ in range(3):
        chain.append(
            "rpc", {"principal": "bank-a", "decision": "deny", "status": "PERMISSION_DENIED"}
        )
    with store.write() as w:
        for batch in range(10):
            _check(w, "bank-a", [f"subject-{batch}-{i}" for i in range(1000)], now)
        _check(w, "city", [f"subject-x-{i}" for i in range(50)], now)
        _check(w, "city", [f"subject-x-{i}" for i in range(50)], now)  # repeats: not distinct
        _release(w, 1001, "bank-a", ["region"], at)
        _release(w, 1002, "bank-a", ["region"], at)  # same shape: a near-duplicate pair
        _release(w, 1003, "city", ["region"], at)
        _release(w, 1004, "city", ["sector"], at)  # another shape: no pair
        _charge(w, 1, "bank-a", 2_000_000, at, "released")
        _charge(w, 2, "bank-a", 1_000_000, at, "failed")  # still spent
        _charge(w, 3, "bank-a", 4_000_000, at, "refunded")  # given back: not burnt
        _charge(w, 4, "city", 100_000, at, "released")
        for n in range(3):
            _job(w, n, "bank-a", 1, at)
        _job(w, 10, "city", 1, at)
        _job(w, 11, "city", 0, at)  # refunded cancellation: no data touched


def test_scripted_run_raises_exactly_the_expected_alerts(store: StateStore) -> None:
    now = time.time()
    script(store, now)
    engine = AlertEngine(store, AuditChain(store), RULES, policies)
    raised = engine.evaluate(now)
    assert sorted((a.rule, a.principal) for a in raised) == [
        ("budget_burn", "bank-a"),
        ("cancelled_jobs", "bank-a"),
        ("differencing", "bank-a"),
        ("enumeration", "bank-a"),
        ("refused_calls", ""),
    ]
    by_rule = {a.rule: a for a in raised}
    assert by_rule["enumeration"].value == 10_000
    assert by_rule["budget_burn"].value == pytest.approx(0.6)
    assert by_rule["differencing"].detail["pairs"] == 1
    assert by_rule["refused_calls"].value == 60
    assert by_rule["cancelled_jobs"].value == 3
    assert engine.evaluate(now) == []  # one alert per rule x principal x window
    stored = json.dumps([a.detail for a in engine.list()])
    records = [json.dumps(dict(e.record)) for e in AuditChain(store).entries(limit=1000)]
    assert "subject-" not in stored and not any("subject-" in r for r in records)
    assert sum(1 for e in AuditChain(store).entries(limit=1000) if e.kind == "alert.raised") == 5


def test_acknowledge_once_with_a_note(store: StateStore) -> None:
    now = time.time()
    script(store, now)
    engine = AlertEngine(store, AuditChain(store), RULES, policies)
    first = engine.evaluate(now)[0]
    acked = engine.acknowledge(first.alert_id, actor="zone-admin", note="called the bank")
    assert not acked.is_open and acked.note == "called the bank"
    assert first.alert_id not in [a.alert_id for a in engine.list(open_only=True)]
    with pytest.raises(FailedPrecondition):
        engine.acknowledge(first.alert_id, actor="zone-admin", note="again")
    with pytest.raises(NotFound):
        engine.acknowledge(10**9, actor="zone-admin", note="")
    assert engine.counts()[(first.rule, False)] == 1


def test_windows_are_fixed_and_aligned() -> None:
    window = Window.containing(7200 * 10 + 5, 3600)
    assert (window.start, window.end) == (72_000.0, 75_600.0)


def _verification(conn, n: int, principal: str, product: str, receipt: dict, at: str) -> None:
    conn.execute(
        "INSERT INTO releases (release_id, audit_seq, principal, product, kind, created_at, "
        "receipt, artifact) VALUES (?, ?, ?, ?, 'verification', ?, ?, '{}')",
        (f"ver-{n}", 2000 + n, principal, product, at, json.dumps(receipt)),
    )


def _use(conn, principal: str, product: str, subject: str, at: str, consent: str | None) -> None:
    if consent is not None:
        conn.execute(
            "INSERT INTO consents (issuer, consent_id, principal, product, subject, purpose, "
            "not_before, not_after, max_uses, uses, letter_sha256, created_at) "
            "VALUES ('', ?, ?, ?, ?, 'kyc', 0, 9999999999, 5, 1, 'd', ?)",
            (consent, principal, product, subject, at),
        )
    conn.execute(
        "INSERT INTO consent_calls (request_id, release_id, principal, product, mode, purpose, "
        "used_at, subject_count, subjects, consents) VALUES ('r', 'rel', ?, ?, ?, 'kyc', ?, 1, "
        "?, ?)",
        (
            principal,
            product,
            "none" if consent is None else "operator",
            datetime.fromisoformat(at).timestamp(),
            subject,
            json.dumps([] if consent is None else [consent]),
        ),  # fmt: skip
    )


def test_receipts_without_a_required_consent_raise_an_alert(store: StateStore) -> None:
    """Records a bug would leave: the zone's admission never writes them, the rule finds them."""
    now = time.time()
    at = iso_time(now)
    consented = {"consent_mode": "operator", "consents": ["c-1"], "answered": 1}
    with store.write() as w:
        # Correct records: a consented check, and a product that needs no consent.
        _verification(w, 1, "bank-a", "capital-match", consented, at)
        _use(w, "bank-a", "capital-match", "subject-ok", at, "c-1")
        _verification(w, 2, "city", "public-match", {"consent_mode": "none", "consents": []}, at)
        _use(w, "city", "public-match", "subject-public", at, None)
        # What a bug would write: a receipt naming no consent, a check without a consent.
        _verification(w, 3, "bank-a", "capital-match", {"consent_mode": "none", "consents": []}, at)
        _verification(w, 4, "city", "capital-match", {"consent_mode": "operator"}, at)
        _use(w, "city", "capital-match", "subject-secret-key", at, None)
    engine = AlertEngine(store, AuditChain(store), RULES, policies,
                         consent_required=lambda: frozenset({"capital-match"}))  # fmt: skip
    raised = {a.principal: a for a in engine.evaluate(now) if a.rule == "consent_missing"}
    assert set(raised) == {"bank-a", "city"}
    assert raised["bank-a"].detail == {
        "receipts_without_consent": 1,
        "checks_without_consent": 0,
        "products": ["capital-match"],
    }
    assert raised["city"].value == 2 and raised["city"].detail["checks_without_consent"] == 1
    assert "subject-" not in json.dumps([a.detail for a in engine.list()])


def test_consent_rule_cannot_be_loosened() -> None:
    from pydantic import ValidationError

    from zone.console.config import ConsoleSpec, console_config

    assert console_config(ConsoleSpec()).alerts.consent_missing == AlertRule(1, 3600)
    with pytest.raises(ValidationError, match="consent_missing"):
        ConsoleSpec.model_validate(
            {"alerts": {"consent_missing": {"threshold": 5, "window_seconds": 3600}}}
        )
