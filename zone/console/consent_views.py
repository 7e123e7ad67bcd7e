"""Consents and verification volume for the console: counts per product and principal only.

Never a subject key: the queries select counts (``COUNT``, ``SUM(subject_count)``, consent use
counters) and group by product, principal and day, so no key reaches a page, a chart or the
chart cache. Each query is one read transaction, bounded by a time range or by the number of
(product, principal) pairs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from zone.state.api import State

DAY = 86_400


@dataclass(frozen=True)
class ConsentLine:
    """Consents of one principal for one product, and its checks made without one."""

    product: str
    principal: str
    registered: int
    revoked: int
    used: int
    checks_without_consent: int


@dataclass(frozen=True)
class VolumeLine:
    """Verification calls and subjects checked by one principal with one product on one day."""

    day: str
    product: str
    principal: str
    calls: int
    subjects: int


@dataclass(frozen=True)
class Volume:
    """Subjects checked per day: the day labels, a series per product, and the lines."""

    days: list[str]
    per_product: dict[str, list[int]]
    lines: list[VolumeLine]


def consent_lines(store: State, *, principal: str = "", product: str = "") -> list[ConsentLine]:
    """Consents registered, revoked and used, per product and principal (optionally filtered)."""
    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    where, args = _filters(principal, product)
    with store.read() as tx:
        rows = tx.execute(
            "SELECT product, principal, COUNT(*), SUM(revoked), SUM(uses) FROM consents "
            f"WHERE {where} GROUP BY 1, 2",
            args,
        ).fetchall()
        for prod, who, registered, revoked, used in rows:
            found[(prod, who)][:3] = [int(registered), int(revoked or 0), int(used or 0)]
        rows = tx.execute(
            "SELECT product, principal, SUM(subject_count) FROM consent_calls "
            f"WHERE mode = 'none' AND {where} GROUP BY 1, 2",
            args,
        ).fetchall()
        for prod, who, count in rows:
            found[(prod, who)][3] = int(count)
    return [ConsentLine(p, w, *counts) for (p, w), counts in sorted(found.items())]


def volume(
    store: State, now: datetime, *, days: int = 30, principal: str = "", product: str = ""
) -> Volume:
    """Verification calls and subjects checked per day over the last ``days`` UTC days."""
    today = int(now.timestamp()) // DAY
    first = today - days + 1
    labels = [datetime.fromtimestamp((first + i) * DAY, UTC).strftime("%m-%d") for i in range(days)]
    where, args = _filters(principal, product)
    totals: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    with store.read() as tx:
        rows = tx.execute(
            "SELECT checked_at, product, principal, subject_count FROM verification_checks "
            f"WHERE checked_at >= ? AND {where}",
            (float(first * DAY), *args),
        )
        for checked_at, prod, who, count in rows:
            line = totals[(int(checked_at) // DAY, prod, who)]
            line[0] += 1
            line[1] += int(count)
    per_product: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    lines = []
    for (day, prod, who), (calls, subjects) in sorted(totals.items(), reverse=True):
        if first <= day <= today:
            per_product[prod][day - first] += subjects
            lines.append(VolumeLine(labels[day - first], prod, who, calls, subjects))
    return Volume(labels, dict(sorted(per_product.items())), lines)


def _filters(principal: str, product: str) -> tuple[str, tuple[str, ...]]:
    clauses, args = ["1 = 1"], []
    if principal:
        clauses.append("principal = ?")
        args.append(principal)
    if product:
        clauses.append("product = ?")
        args.append(product)
    return " AND ".join(clauses), tuple(args)


def utc_now() -> datetime:
    """The current time (UTC), for the queries' windows."""
    return datetime.now(UTC)
