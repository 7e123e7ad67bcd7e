"""Typed admin views for the SDK: budgets, usage, revenue and audit pages.

Money stays exact: amounts arrive as integer micro-units (1e-6) of their currency and are
offered as :class:`~decimal.Decimal` (``amount``) for accounting; nothing is rounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from google.protobuf import timestamp_pb2

from zone._proto import admin_pb2

MICRO = 1_000_000
"""Amounts travel as integer millionths of the currency unit."""


def _money(micro: int) -> Decimal:
    return Decimal(micro).scaleb(-6)


@dataclass(frozen=True)
class BudgetRow:
    """One principal x dataset budget (epsilon and delta as floats, for display)."""

    principal: str
    dataset: str
    limit_epsilon: float
    spent_epsilon: float
    remaining_epsilon: float
    limit_delta: float
    spent_delta: float
    remaining_delta: float
    granted: bool


@dataclass(frozen=True)
class CapRow:
    """A dataset's zone-wide cap (None when uncapped) and what all principals spent."""

    dataset: str
    cap_epsilon: float | None
    spent_epsilon: float
    remaining_epsilon: float | None
    cap_delta: float | None
    spent_delta: float
    remaining_delta: float | None


@dataclass(frozen=True)
class Budgets:
    """Every account and every dataset cap."""

    budgets: tuple[BudgetRow, ...]
    caps: tuple[CapRow, ...]


@dataclass(frozen=True)
class UsageRow:
    """Usage of a product by a principal in a period, in one currency."""

    principal: str
    product: str
    currency: str
    calls: int
    jobs: int
    unbilled: int
    amount_micro: int
    waived_micro: int

    @property
    def amount(self) -> Decimal:
        """The billed amount, exact."""
        return _money(self.amount_micro)


@dataclass(frozen=True)
class RevenueRow:
    """A provider's revenue in a period, in one currency."""

    provider: str
    currency: str
    amount_micro: int
    charges: int

    @property
    def amount(self) -> Decimal:
        """The revenue, exact."""
        return _money(self.amount_micro)


@dataclass(frozen=True)
class AuditRecord:
    """One audit-chain record as stored."""

    seq: int
    time: str
    kind: str
    record_json: str
    hash: str
    prev_hash: str

    @property
    def record(self) -> dict[str, Any]:
        """The record, parsed."""
        parsed: dict[str, Any] = json.loads(self.record_json)
        return parsed


@dataclass(frozen=True)
class PrincipalExit:
    """A principal's exit: its receipt id (fetch it with ``get_receipt``) and the receipt."""

    principal: str
    receipt_id: str
    receipt: dict[str, Any]
    audit_seq: int
    already_exited: bool


@dataclass(frozen=True)
class AuditPage:
    """A page of records and the token of the next one (empty at the end)."""

    records: tuple[AuditRecord, ...]
    next_page_token: str


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp; a naive datetime is taken as UTC."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return stamp


def _eps(micro: int) -> float:
    return micro / MICRO


def _delta(femto: int) -> float:
    return femto / 10**15


def budgets_from_proto(reply: admin_pb2.GetBudgetsResponse) -> Budgets:
    """Typed budgets."""
    budgets = tuple(
        BudgetRow(
            b.principal,
            b.dataset,
            _eps(b.limit.epsilon_micro),
            _eps(b.spent.epsilon_micro),
            _eps(b.remaining.epsilon_micro),
            _delta(b.limit.delta_femto),
            _delta(b.spent.delta_femto),
            _delta(b.remaining.delta_femto),
            b.granted,
        )
        for b in reply.budgets
    )
    caps = tuple(
        CapRow(
            c.dataset,
            _eps(c.cap.epsilon_micro) if c.HasField("cap") else None,
            _eps(c.spent.epsilon_micro),
            _eps(c.remaining.epsilon_micro) if c.HasField("remaining") else None,
            _delta(c.cap.delta_femto) if c.HasField("cap") else None,
            _delta(c.spent.delta_femto),
            _delta(c.remaining.delta_femto) if c.HasField("remaining") else None,
        )
        for c in reply.caps
    )
    return Budgets(budgets, caps)


def usage_from_proto(reply: admin_pb2.GetUsageResponse) -> list[UsageRow]:
    """Typed usage rows."""
    return [
        UsageRow(
            r.principal,
            r.product,
            r.currency,
            r.calls,
            r.jobs,
            r.unbilled,
            r.amount_micro,
            r.waived_micro,
        )
        for r in reply.rows
    ]


def revenue_from_proto(reply: admin_pb2.GetRevenueResponse) -> list[RevenueRow]:
    """Typed revenue rows."""
    return [RevenueRow(r.provider, r.currency, r.amount_micro, r.charges) for r in reply.rows]


def audit_page_from_proto(reply: admin_pb2.QueryAuditResponse) -> AuditPage:
    """A typed page of audit records."""
    records = tuple(
        AuditRecord(r.seq, r.time, r.kind, r.record_json, r.hash, r.prev_hash)
        for r in reply.records
    )
    return AuditPage(records, reply.next_page_token)
