"""The ledger's spend statements: one conditional UPDATE per budget row (see ``ledger``).

Each decides an admission by its row count alone (``spent + cost <= limit`` in the UPDATE's
WHERE), so concurrent reservations cannot overspend on SQLite or PostgreSQL. A row that does
not exist yet is created (``ON CONFLICT DO NOTHING``: a concurrent creator wins harmlessly)
and the UPDATE runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zone.ledger.units import Amount
from zone.state.api import Statement, Tx


@dataclass(frozen=True)
class Spend:
    """A conditional UPDATE of a spend row, and the INSERT that creates a missing row."""

    update: Statement
    create: Statement

    def decided(self, conn: Tx, rowcount: int) -> bool:
        """Whether the spend went through, given the UPDATE's ``rowcount``.

        No row changed: the row may not exist yet; create it and run the UPDATE again.
        """
        if rowcount == 1:
            return True
        conn.execute(*self.create)
        return conn.execute(*self.update).rowcount == 1


def spend_budget(principal: str, dataset: str, limit: Amount, cost: Amount) -> Spend:
    """Spend ``cost`` from the principal's budget on the dataset, within its limit."""
    args = {"e": cost.epsilon_micro, "d": cost.delta_femto, "p": principal, "ds": dataset,
            "le": limit.epsilon_micro, "ld": limit.delta_femto}  # fmt: skip
    return Spend(
        ("UPDATE budget_spend SET epsilon_micro = epsilon_micro + :e, "
         "delta_femto = delta_femto + :d WHERE principal = :p AND dataset = :ds "
         "AND epsilon_micro + :e <= :le AND delta_femto + :d <= :ld", args),
        ("INSERT INTO budget_spend (principal, dataset) VALUES (:p, :ds) "
         "ON CONFLICT DO NOTHING", args),
    )  # fmt: skip


def spend_dataset_cap(dataset: str, cap: Amount | None, cost: Amount) -> Spend:
    """Count ``cost`` against the dataset's zone-wide total, within its cap if it has one."""
    sql = (
        "UPDATE dataset_spend SET epsilon_micro = epsilon_micro + :e, "
        "delta_femto = delta_femto + :d WHERE dataset = :ds"
    )
    args: dict[str, Any] = {"e": cost.epsilon_micro, "d": cost.delta_femto, "ds": dataset}
    if cap is not None:
        sql += " AND epsilon_micro + :e <= :ce AND delta_femto + :d <= :cd"
        args |= {"ce": cap.epsilon_micro, "cd": cap.delta_femto}
    create = "INSERT INTO dataset_spend (dataset) VALUES (:ds) ON CONFLICT DO NOTHING"
    return Spend((sql, args), (create, args))
