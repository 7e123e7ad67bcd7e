"""Data-flow alerts: evaluated over the zone's records, stored, shown, acknowledged.

:class:`AlertEngine` runs every rule of :mod:`zone.console.alert_rules` over the current and
the previous window of each rule (so events after the last run of a closed window still count)
and stores each new finding in the ``alerts`` table (migration 0010) together with an
``alert.raised`` audit record, in one transaction. A rule x principal x window raises at most
once (a UNIQUE key), so the engine can run as often as wanted. Acknowledging sets the
acknowledgement once, with the administrator's note, audited as ``alert.acknowledged``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zone.admin import budget_report
from zone.admin.suspensions import clean_note
from zone.audit import AuditChain, utc_timestamp
from zone.clock import today_utc
from zone.console.alert_rules import (
    RULE_FUNCTIONS,
    RULES,
    Finding,
    RuleInputs,
    Window,
    rule_settings,
)
from zone.console.config import AlertRules
from zone.errors import FailedPrecondition, NotFound
from zone.policy import PolicySet
from zone.state.api import State, Tx

_COLUMNS = (
    "alert_id, rule, principal, window_start, window_end, value, threshold, detail, raised_at, "
    "acknowledged_at, acknowledged_by, note"
)
MAX_LIST = 500


@dataclass(frozen=True)
class Alert:
    """One stored alert."""

    alert_id: int
    rule: str
    principal: str
    window_start: str
    window_end: str
    value: float
    threshold: float
    detail: dict[str, Any]
    raised_at: str
    acknowledged_at: str | None
    acknowledged_by: str
    note: str

    @property
    def is_open(self) -> bool:
        """Whether nobody has acknowledged it yet."""
        return self.acknowledged_at is None


def _alert(row: tuple[Any, ...]) -> Alert:
    values = list(row)
    values[7] = json.loads(values[7])
    return Alert(*values)


def consent_products(products: Mapping[str, object]) -> frozenset[str]:
    """The products whose checks need the subject's consent (``consent`` other than none)."""
    return frozenset(
        pid for pid, product in products.items() if getattr(product, "consent", "none") != "none"
    )


class AlertEngine:
    """Evaluates the rules, stores and lists alerts, records acknowledgements."""

    def __init__(
        self,
        store: State,
        audit: AuditChain,
        rules: AlertRules,
        policies: Callable[[], PolicySet],
        *,
        consent_required: Callable[[], frozenset[str]] = frozenset,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._audit = audit
        self._rules = rule_settings(rules)
        self._policies = policies
        self._clock = clock
        self._consent_required = consent_required

    def evaluate(self, now: float | None = None) -> list[Alert]:
        """Run every rule over its current and previous window; return the alerts raised."""
        moment = self._clock() if now is None else now
        inputs = RuleInputs(self._limits(), self._consent_required())
        self._audit.flush()  # the rules count ``rpc`` records
        findings: list[tuple[Finding, Window]] = []
        with self._store.read() as conn:
            for name in RULES:
                rule = self._rules[name]
                current = Window.containing(moment, rule.window_seconds)
                previous = Window.containing(current.start - 1, rule.window_seconds)
                for window in (previous, current):
                    for finding in RULE_FUNCTIONS[name](conn, window, rule, inputs):
                        findings.append((finding, window))
        raised = []
        for finding, window in findings:
            alert = self._raise(finding, window)
            if alert is not None:
                raised.append(alert)
        return raised

    def _limits(self) -> dict[tuple[str, str], int]:
        report = budget_report(self._store, self._policies(), today_utc())
        return {(b.principal, b.dataset): b.limit.epsilon_micro for b in report.budgets}

    def _raise(self, finding: Finding, window: Window) -> Alert | None:
        rule = self._rules[finding.rule]
        start, end = window.iso()
        detail = json.dumps(dict(finding.detail), sort_keys=True)
        with self._store.write() as w:
            row = w.execute(
                "INSERT INTO alerts (rule, principal, window_start, window_end, value, "
                "threshold, detail, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
                (
                    finding.rule,
                    finding.principal,
                    start,
                    end,
                    float(finding.value),
                    float(rule.threshold),
                    detail,
                    utc_timestamp(),
                ),
            ).fetchone()
            if row is None:
                return None
            alert = _alert(row)
            self._audit.append("alert.raised", _record(alert), conn=w)
        return alert

    def acknowledge(self, alert_id: int, *, actor: str, note: str) -> Alert:
        """Acknowledge an open alert with a note. Audited, durable.

        Raises:
            NotFound: no such alert.
            FailedPrecondition: the alert was acknowledged already.
            InvalidArgument: the note is too long.
        """
        note = clean_note(note)
        with self._store.write() as w:
            row = w.execute(
                "UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?, note = ? "
                f"WHERE alert_id = ? AND acknowledged_at IS NULL RETURNING {_COLUMNS}",
                (utc_timestamp(), actor, note, alert_id),
            ).fetchone()
            if row is None:
                _get(w, alert_id)
                raise FailedPrecondition("the alert was acknowledged already", reason="acked")
            alert = _alert(row)
            record = {
                "principal": actor,
                "alert_id": alert_id,
                "rule": alert.rule,
                "target": alert.principal,
                "note": note,
            }
            self._audit.append("alert.acknowledged", record, conn=w)
        return alert

    def list(self, *, open_only: bool = False, limit: int = 100) -> list[Alert]:
        """Alerts, newest first (only the open ones with ``open_only``)."""
        where = "WHERE acknowledged_at IS NULL " if open_only else ""
        with self._store.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM alerts {where}ORDER BY alert_id DESC LIMIT ?",
                (max(1, min(limit, MAX_LIST)),),
            ).fetchall()
        return [_alert(row) for row in rows]

    def counts(self) -> dict[tuple[str, bool], int]:
        """Number of alerts per (rule, open)."""
        with self._store.read() as conn:
            rows = conn.execute(
                "SELECT rule, acknowledged_at IS NULL, count(*) FROM alerts GROUP BY 1, 2"
            ).fetchall()
        counts: Counter[tuple[str, bool]] = Counter()
        for rule, is_open, n in rows:
            counts[(str(rule), bool(is_open))] += int(n)
        return dict(counts)


def _get(conn: Tx, alert_id: int) -> Alert:
    row = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
    if row is None:
        raise NotFound("no such alert", reason="unknown_alert")
    return _alert(row)


def _record(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "principal": alert.principal,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "value": alert.value,
        "threshold": alert.threshold,
        "detail": alert.detail,
    }
