"""Filtered, paginated reads of the audit chain for administrators.

Filters: principal (indexed, migration 0006), product (the record's ``product`` field), kind,
and a half-open UTC time range on the append time. Pages are ordered by ``seq`` and resumed
with an opaque token holding the last ``seq`` returned, so a page never repeats or skips a
record even while new records are appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zone.errors import InvalidArgument
from zone.metering.pricing import iso
from zone.metering.reports import Period
from zone.state.api import State
from zone.wire.entries import StoredEntry

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_TOKEN_PREFIX = "seq:"


@dataclass(frozen=True)
class AuditFilter:
    """Which records to return; empty strings and open period sides do not filter."""

    principal: str = ""
    product: str = ""
    kind: str = ""
    period: Period = field(default_factory=Period)


@dataclass(frozen=True)
class AuditPage:
    """One page of records and the token of the next page (empty at the end)."""

    rows: tuple[StoredEntry, ...]
    next_page_token: str


def _after_seq(token: str) -> int:
    if not token:
        return 0
    digits = token.removeprefix(_TOKEN_PREFIX)
    if not token.startswith(_TOKEN_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise InvalidArgument("invalid page_token", reason="bad_page_token")
    return int(digits)


def query_audit(
    store: State, flt: AuditFilter, *, page_size: int = 0, page_token: str = ""
) -> AuditPage:
    """One page of audit records matching ``flt``, oldest first.

    Raises:
        InvalidArgument: page_size outside 0..1000 (0 means 100), or a malformed page_token.
    """
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 0 and {MAX_PAGE_SIZE}")
    size = page_size or DEFAULT_PAGE_SIZE
    clauses = ["seq > ?"]
    args: list[Any] = [_after_seq(page_token)]
    for clause, value in (
        ("principal = ?", flt.principal),
        ("kind = ?", flt.kind),
        ("json_extract(record, '$.product') = ?", flt.product),
    ):
        if value:
            clauses.append(clause)
            args.append(value)
    if flt.period.start is not None:
        clauses.append("ts >= ?")
        args.append(iso(flt.period.start))
    if flt.period.end is not None:
        clauses.append("ts < ?")
        args.append(iso(flt.period.end))
    with store.read() as conn:
        rows = conn.execute(
            "SELECT seq, ts, kind, record, prev_hash, hash FROM audit_log "
            f"WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            (*args, size + 1),
        ).fetchall()
    page = tuple(StoredEntry(*row) for row in rows[:size])
    more = len(rows) > size
    return AuditPage(page, f"{_TOKEN_PREFIX}{page[-1].seq}" if more else "")
