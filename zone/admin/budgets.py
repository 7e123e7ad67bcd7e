"""Privacy budgets as an administrator sees them: limits in force, spent, remaining, caps.

Spent amounts are read from the privacy ledger's tables (``budget_spend``, ``dataset_spend``)
in one read transaction; limits come from the policy set in force, as when a call is charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from zone.ledger import ZERO, Amount
from zone.policy import PolicySet
from zone.state.api import State


@dataclass(frozen=True)
class BudgetLine:
    """One principal x dataset account.

    ``granted`` is False for an account that has spent budget but no grant in force gives it
    a budget any more (its limit is then zero).
    """

    principal: str
    dataset: str
    limit: Amount
    spent: Amount
    remaining: Amount
    granted: bool


@dataclass(frozen=True)
class CapLine:
    """The zone-wide cap of a dataset (None when it has none) and what all principals spent."""

    dataset: str
    cap: Amount | None
    spent: Amount
    remaining: Amount | None


@dataclass(frozen=True)
class BudgetReport:
    """Every account and every dataset total, sorted by principal and dataset."""

    budgets: tuple[BudgetLine, ...]
    caps: tuple[CapLine, ...]


def _limits(policies: PolicySet, today: date) -> dict[tuple[str, str], Amount]:
    """Limit per principal x dataset: the first grant valid today (file order) that sets one.

    This is the budget a call is charged against when that grant authorizes it; a principal
    with several grants budgeting the same dataset is shown with the first.
    """
    limits: dict[tuple[str, str], Amount] = {}
    for principal in policies.principals.values():
        if not principal.is_valid_on(today):
            continue
        for grant in policies.grants_of(principal.id):
            if not grant.is_valid_on(today):
                continue
            for dataset, budget in grant.budget.items():
                limit = Amount.limit(budget.epsilon, budget.delta)
                limits.setdefault((principal.id, dataset), limit)
    return limits


def budget_report(
    store: State,
    policies: PolicySet,
    today: date,
    *,
    principal: str = "",
    dataset: str = "",
) -> BudgetReport:
    """Budgets of every principal x dataset (granted or having spent), and the dataset caps.

    Args:
        store: The state store (read in one read transaction).
        policies: The policy set in force.
        today: The UTC day deciding which grants are in force.
        principal: Only this principal, if given.
        dataset: Only this dataset, if given.
    """
    limits = _limits(policies, today)
    with store.read() as conn:
        spent = {
            (p, d): Amount(e, f)
            for p, d, e, f in conn.execute(
                "SELECT principal, dataset, epsilon_micro, delta_femto FROM budget_spend"
            )
        }
        totals = {
            d: Amount(e, f)
            for d, e, f in conn.execute(
                "SELECT dataset, epsilon_micro, delta_femto FROM dataset_spend"
            )
        }
    lines = []
    for key in sorted(limits.keys() | spent.keys()):
        if (principal and key[0] != principal) or (dataset and key[1] != dataset):
            continue
        limit = limits.get(key, ZERO)
        used = spent.get(key, ZERO)
        granted = key in limits
        lines.append(BudgetLine(key[0], key[1], limit, used, limit.minus(used), granted))
    caps = []
    for name in sorted(totals.keys() | policies.dataset_caps.keys()):
        if dataset and name != dataset:
            continue
        budget = policies.dataset_caps.get(name)
        cap = None if budget is None else Amount.limit(budget.epsilon, budget.delta)
        used = totals.get(name, ZERO)
        caps.append(CapLine(name, cap, used, None if cap is None else cap.minus(used)))
    return BudgetReport(tuple(lines), tuple(caps))
