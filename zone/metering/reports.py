"""Usage and revenue reports for administrators, and the same totals recomputed from the audit.

Periods are half-open ``[start, end)`` in UTC on the time a call was admitted; ``None`` leaves
a side open. Amounts are integer micro-units per currency. What counts as billed is the rule
stated in :mod:`zone.metering.meter`: not voided, and not linked to a privacy charge that ended
``failed`` or ``refunded``. :func:`totals_from_audit` applies the same rule to the audit chain's
records alone, so that the reports can be reconciled with the chain to the micro-unit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zone.metering.pricing import iso
from zone.state.api import Tx


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval ``[start, end)``; None leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: str) -> bool:
        """Whether an ISO time text as stored by metering lies in the period."""
        return (self.start is None or moment >= iso(self.start)) and (
            self.end is None or moment < iso(self.end)
        )


@dataclass(frozen=True)
class UsageRow:
    """Usage of one product by one principal in a period, in one currency.

    Attributes:
        calls: Billed calls.
        jobs: Billed jobs.
        unbilled: Admitted calls and jobs not billed (nothing was released, or voided).
        amount_micro: Sum charged.
        waived_micro: Sum of list prices waived for public-interest grants.
    """

    principal: str
    product: str
    currency: str
    calls: int
    jobs: int
    unbilled: int
    amount_micro: int
    waived_micro: int


@dataclass(frozen=True)
class RevenueRow:
    """A provider's revenue in a period, in one currency, and how many charges it came from."""

    provider: str
    currency: str
    amount_micro: int
    charges: int


_BILLED = (
    "WITH b AS (SELECT u.*, (u.voided_at IS NULL AND (c.state IS NULL OR c.state NOT IN "
    "('failed', 'refunded')))"
    " AS billed FROM usage u LEFT JOIN charges c ON u.release_id != '' "
    "AND c.release_id = u.release_id) "
)


def _where(period: Period, filters: Mapping[str, str]) -> tuple[str, list[Any]]:
    clauses, args = ["1 = 1"], []
    if period.start is not None:
        clauses.append("b.created_at >= ?")
        args.append(iso(period.start))
    if period.end is not None:
        clauses.append("b.created_at < ?")
        args.append(iso(period.end))
    for column, value in filters.items():
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    return " AND ".join(clauses), args


def usage_report(
    conn: Tx, period: Period, *, principal: str = "", product: str = ""
) -> list[UsageRow]:
    """Usage per principal x product x currency in ``period`` (optionally filtered)."""
    where, args = _where(period, {"b.principal": principal, "b.product": product})
    rows = conn.execute(
        _BILLED + "SELECT b.principal, b.product, b.currency, "
        "SUM(CASE WHEN b.billed AND b.unit = 'call' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN b.billed AND b.unit = 'job' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN b.billed THEN 0 ELSE 1 END), "
        "SUM(CASE WHEN b.billed THEN b.amount_micro ELSE 0 END), "
        "SUM(CASE WHEN b.billed THEN b.list_micro - b.amount_micro ELSE 0 END) "
        f"FROM b WHERE {where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        args,
    ).fetchall()
    return [UsageRow(*row) for row in rows]


def revenue_report(conn: Tx, period: Period, *, provider: str = "") -> list[RevenueRow]:
    """Billed revenue per provider x currency in ``period`` (optionally one provider)."""
    where, args = _where(period, {"s.provider": provider})
    rows = conn.execute(
        _BILLED + "SELECT s.provider, s.currency, SUM(s.amount_micro), COUNT(*) "
        "FROM revenue_shares s JOIN b ON b.usage_id = s.usage_id "
        f"WHERE b.billed AND {where} GROUP BY 1, 2 ORDER BY 1, 2",
        args,
    ).fetchall()
    return [RevenueRow(*row) for row in rows]


@dataclass(frozen=True)
class AuditTotals:
    """Billed totals recomputed from audit records alone (keys as in the reports)."""

    usage: Mapping[tuple[str, str, str], int]
    revenue: Mapping[tuple[str, str], int]


def totals_from_audit(
    records: Iterable[tuple[str, Mapping[str, Any]]], period: Period
) -> AuditTotals:
    """Amounts per (principal, product, currency) and per (provider, currency), from the chain.

    ``records`` are (kind, record) pairs in chain order. A ``metering.charge`` counts unless a
    ``metering.void`` names its usage id or a ``ledger.failed`` / ``ledger.refund`` names its
    release id (anywhere in the chain; a charge's settlement always follows it).
    """
    charges: list[Mapping[str, Any]] = []
    unbilled_usage: set[str] = set()
    unreleased: set[str] = set()
    for kind, record in records:
        if kind == "metering.charge":
            charges.append(record)
        elif kind == "metering.void":
            unbilled_usage.add(str(record.get("usage_id", "")))
        elif kind in ("ledger.failed", "ledger.refund"):
            unreleased.add(str(record.get("release_id", "")))
    usage: Counter[tuple[str, str, str]] = Counter()
    revenue: Counter[tuple[str, str]] = Counter()
    for record in charges:
        if record["usage_id"] in unbilled_usage or not period.contains(record["time"]):
            continue
        if record["release_id"] and record["release_id"] in unreleased:
            continue
        currency = record["currency"]
        usage[(record["principal"], record["product"], currency)] += record["amount_micro"]
        for provider, part in record["shares"].items():
            revenue[(provider, currency)] += part
    return AuditTotals(dict(usage), dict(revenue))
