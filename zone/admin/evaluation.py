"""Operator evaluation (运营评价): one principal's activity in a calendar month, from the chain.

Every figure is a sum over audit records alone, so a regulator holding the chain can recompute
the report (``tests/integration/test_console.py`` does):

| figure | audit records of the principal appended in the period |
|---|---|
| calls | ``rpc`` |
| refused | ``rpc`` with status PERMISSION_DENIED, UNAUTHENTICATED or RESOURCE_EXHAUSTED |
| failed | ``rpc`` with any other status but OK |
| releases | ``release`` (receipts) |
| jobs, jobs_cancelled | ``job.created``; ``job.transition`` to ``cancelled`` |
| epsilon_micro | ``ledger.charge`` minus ``ledger.refund`` (micro-epsilon) |
| billed | ``metering.charge`` amounts per currency, less those voided (``metering.void``) or whose
  privacy charge failed or was refunded (the billing rule of :mod:`zone.metering.meter`) |
| alerts | ``alert.raised`` |

Reads use the ``(principal, seq)`` index of the chain: the cost grows with the principal's own
records, not with the chain.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zone.errors import InvalidArgument
from zone.metering.pricing import iso
from zone.metering.reports import Period, totals_from_audit
from zone.state.api import State, Tx

REFUSALS = frozenset({"PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED"})
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SETTLEMENTS = ("metering.void", "ledger.failed", "ledger.refund")


@dataclass(frozen=True)
class OperatorReport:
    """One principal's figures for one period (amounts are integers)."""

    principal: str
    period: str
    calls: int = 0
    refused: int = 0
    failed: int = 0
    releases: int = 0
    jobs: int = 0
    jobs_cancelled: int = 0
    epsilon_micro: int = 0
    alerts: int = 0
    billed: Mapping[str, int] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        """(figure, value) pairs in display order; billed amounts one per currency."""
        out = [(name, str(getattr(self, name))) for name in FIGURES]
        out += [(f"billed_{cur or 'none'}_micro", str(v)) for cur, v in sorted(self.billed.items())]
        return out


FIGURES = (
    "calls", "refused", "failed", "releases", "jobs", "jobs_cancelled", "epsilon_micro", "alerts",
)  # fmt: skip


def month_period(text: str) -> Period:
    """The UTC calendar month ``YYYY-MM`` as a half-open period.

    Raises:
        InvalidArgument: not a month written as ``YYYY-MM``.
    """
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise InvalidArgument("period must be a month written as YYYY-MM", reason="bad_period")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def tally(
    principal: str,
    label: str,
    records: Iterable[tuple[str, Mapping[str, Any]]],
    settlements: Iterable[tuple[str, Mapping[str, Any]]],
    period: Period,
) -> OperatorReport:
    """The report from the principal's records in the period and every settlement record.

    ``settlements`` are ``metering.void``, ``ledger.failed`` and ``ledger.refund`` records from
    any time (a charge's settlement may come after the period ends).
    """
    counts: Counter[str] = Counter()
    charges: list[tuple[str, Mapping[str, Any]]] = []
    for kind, record in records:
        if kind == "rpc":
            status = str(record.get("status", ""))
            counts["calls"] += 1
            counts["refused"] += status in REFUSALS
            counts["failed"] += status not in REFUSALS and status != "OK"
        elif kind == "release":
            counts["releases"] += 1
        elif kind == "job.created":
            counts["jobs"] += 1
        elif kind == "job.transition":
            counts["jobs_cancelled"] += record.get("state") == "cancelled"
        elif kind == "ledger.charge":
            counts["epsilon_micro"] += int(record.get("epsilon_micro", 0))
        elif kind == "ledger.refund":
            counts["epsilon_micro"] -= int(record.get("epsilon_micro", 0))
        elif kind == "alert.raised":
            counts["alerts"] += 1
        elif kind == "metering.charge":
            charges.append((kind, record))
    totals = totals_from_audit([*charges, *settlements], period)
    billed: Counter[str] = Counter()
    for (who, _product, currency), amount in totals.usage.items():
        if who == principal:
            billed[currency] += amount
    return OperatorReport(principal, label, billed=dict(billed), **counts)


def operator_report(store: State, principal: str, month: str) -> OperatorReport:
    """The evaluation of ``principal`` in the UTC calendar month ``month`` (``YYYY-MM``).

    Raises:
        InvalidArgument: ``month`` is not ``YYYY-MM``.
    """
    with store.read() as conn:
        return report_from(conn, principal, month)


def report_from(conn: Tx, principal: str, month: str) -> OperatorReport:
    """:func:`operator_report` over any connection to a state database (read-only is enough).

    Raises:
        InvalidArgument: ``month`` is not ``YYYY-MM``.
    """
    period = month_period(month)
    assert period.start is not None and period.end is not None
    kinds = ", ".join(f"'{k}'" for k in _SETTLEMENTS)
    records = [
        (str(kind), json.loads(text))
        for kind, text in conn.execute(
            "SELECT kind, record FROM audit_log WHERE principal = ? AND ts >= ? AND ts < ? "
            "ORDER BY seq",
            (principal, iso(period.start), iso(period.end)),
        )
    ]
    settlements = [
        (str(kind), json.loads(text))
        for kind, text in conn.execute(
            f"SELECT kind, record FROM audit_log WHERE (principal = ? OR principal IS NULL) "
            f"AND kind IN ({kinds}) ORDER BY seq",
            (principal,),
        )
    ]
    return tally(principal, month, records, settlements, period)
