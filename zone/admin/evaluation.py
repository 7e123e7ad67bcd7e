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
records, not with the chain. The console keeps reports (:class:`Evaluations`) and extends them
with the records appended since, so a page costs the new records only.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zone.audit.chain import first_seq_at
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
    "calls",
    "refused",
    "failed",
    "releases",
    "jobs",
    "jobs_cancelled",
    "epsilon_micro",
    "alerts",
)


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


_COUNTED = (
    "rpc",
    "release",
    "job.created",
    "job.transition",
    "ledger.charge",
    "ledger.refund",
    "alert.raised",
)


def _counts(rows: Iterable[tuple[Any, ...]]) -> Counter[str]:
    """Figures from (kind, status, state, count, epsilon sum) groups of the principal's records."""
    counts: Counter[str] = Counter()
    for kind, status, state, n, epsilon in rows:
        if kind == "rpc":
            counts["calls"] += n
            if status in REFUSALS:
                counts["refused"] += n
            elif status != "OK":
                counts["failed"] += n
        elif kind == "release":
            counts["releases"] += n
        elif kind == "job.created":
            counts["jobs"] += n
        elif kind == "job.transition" and state == "cancelled":
            counts["jobs_cancelled"] += n
        elif kind == "ledger.charge":
            counts["epsilon_micro"] += int(epsilon)
        elif kind == "ledger.refund":
            counts["epsilon_micro"] -= int(epsilon)
        elif kind == "alert.raised":
            counts["alerts"] += n
    return counts


def operator_report(store: State, principal: str, month: str) -> OperatorReport:
    """The evaluation of ``principal`` in the UTC calendar month ``month`` (``YYYY-MM``).

    Raises:
        InvalidArgument: ``month`` is not ``YYYY-MM``.
    """
    with store.read() as conn:
        return report_from(conn, principal, month)


def report_from(conn: Tx, principal: str, month: str) -> OperatorReport:
    """:func:`operator_report` over any connection to a state database (read-only is enough).

    The month is turned into a ``seq`` range (binary search), so the ``(principal, seq)`` index
    reads only the principal's records of that month; counting happens in the database.

    Raises:
        InvalidArgument: ``month`` is not ``YYYY-MM``.
    """
    tally = Tally(principal, month_period(month))
    tally.extend(conn, _head(conn))
    return tally.report(month)


def _head(conn: Tx) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0])


@dataclass
class Tally:
    """A principal's figures for one period, counted up to audit record ``upto`` (inclusive).

    :meth:`extend` counts only the records after ``upto``: the chain is append-only and its
    ``seq`` follows commit order, so a reader that sees record ``n`` sees every record before
    it, and a tally extended from ``upto`` to the head equals one counted from scratch. A
    charge's settlement can come after the month (a refund of a late job), so settlements are
    collected from the whole chain, also incrementally.
    """

    principal: str
    period: Period
    upto: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    charges: list[Mapping[str, Any]] = field(default_factory=list)
    settlements: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    def extend(self, conn: Tx, head: int) -> None:
        """Count the records ``upto < seq <= head``."""
        if head <= self.upto:
            return
        assert self.period.start is not None and self.period.end is not None
        first = max(first_seq_at(conn, iso(self.period.start)), self.upto + 1)
        end = min(first_seq_at(conn, iso(self.period.end)), head + 1)
        who = self.principal
        if first < end:
            counted = ", ".join(f"'{k}'" for k in _COUNTED)
            rows = conn.execute(
                # One JSON parse per record: each kind needs one field at most.
                "SELECT kind, CASE kind WHEN 'rpc' THEN json_extract(record, '$.status') END, "
                "CASE kind WHEN 'job.transition' THEN json_extract(record, '$.state') END, "
                # json_extract gives text on PostgreSQL: cast before summing (both backends).
                "count(*), coalesce(sum(CASE WHEN kind IN ('ledger.charge', 'ledger.refund') "
                "THEN CAST(json_extract(record, '$.epsilon_micro') AS BIGINT) END), 0) "
                "FROM audit_log "
                f"WHERE principal = ? AND seq >= ? AND seq < ? AND kind IN ({counted}) "
                "GROUP BY 1, 2, 3",
                (who, first, end),
            ).fetchall()
            self.counts.update(_counts(rows))
            self.charges += [
                json.loads(text)
                for (text,) in conn.execute(
                    "SELECT record FROM audit_log WHERE principal = ? AND seq >= ? AND seq < ? "
                    "AND kind = 'metering.charge'",
                    (who, first, end),
                )
            ]
        kinds = ", ".join(f"'{k}'" for k in _SETTLEMENTS)
        self.settlements += [
            (str(kind), json.loads(text))
            for kind, text in conn.execute(
                f"SELECT kind, record FROM audit_log WHERE principal = ? AND kind IN ({kinds}) "
                "AND seq > ? AND seq <= ? UNION ALL SELECT kind, record FROM audit_log "
                f"WHERE principal IS NULL AND kind IN ({kinds}) AND seq > ? AND seq <= ?",
                (who, self.upto, head, self.upto, head),
            )
        ]
        self.upto = head

    def report(self, month: str) -> OperatorReport:
        """The figures as counted so far."""
        records = [*(("metering.charge", c) for c in self.charges), *self.settlements]
        totals = totals_from_audit(records, self.period)
        billed: Counter[str] = Counter()
        for (who, _product, currency), amount in totals.usage.items():
            if who == self.principal:
                billed[currency] += amount
        counts = {k: v for k, v in self.counts.items() if k in FIGURES}
        return OperatorReport(self.principal, month, billed=dict(billed), **counts)


class Evaluations:
    """Operator reports kept between requests and extended with new records only (console).

    The first report of a (principal, month) counts the month's records (seconds at hundreds of
    thousands of records, one JSON parse each); later ones count only what was appended since.
    At most ``size`` reports are kept (least recently used first out).
    """

    def __init__(
        self, store: State, size: int = 256, flush: Callable[[], None] = lambda: None
    ) -> None:
        self._store = store
        self._flush = flush  # ``AuditChain.flush``: every ``rpc`` record counted
        self._size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str], Tally] = OrderedDict()
        self._busy: dict[tuple[str, str], threading.Lock] = {}

    def report(self, principal: str, month: str) -> OperatorReport:
        """The evaluation of ``principal`` in ``month``, as of now.

        Raises:
            InvalidArgument: ``month`` is not ``YYYY-MM``.
        """
        period = month_period(month)
        self._flush()
        key = (principal, month)
        with self._lock:
            busy = self._busy.setdefault(key, threading.Lock())
        with busy:  # one count per key at a time; others wait and reuse it
            with self._lock:
                tally = self._kept.get(key) or Tally(principal, period)
            with self._store.read() as conn:
                tally.extend(conn, _head(conn))
            with self._lock:
                self._kept[key] = tally
                self._kept.move_to_end(key)
                while len(self._kept) > self._size:
                    old, _ = self._kept.popitem(last=False)
                    self._busy.pop(old, None)
            return tally.report(month)
