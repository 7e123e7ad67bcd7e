"""Access to a product for one call: the grant in force, the budget account, the epsilon caps.

Shared by every product that releases anything. The order matters: authorization first (so an
unauthorized caller learns nothing about products it may not use), then the product's kind, then
the caps, all before any budget is reserved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from zone.catalog import Product
from zone.clock import today_utc
from zone.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from zone.ledger import Account, Amount
from zone.policy import Grant, PolicySet, Principal
from zone.state.api import Tx

P = TypeVar("P", bound=Product)


def authorize_product(
    policies: PolicySet,
    principal: Principal,
    products: Mapping[str, Product],
    product_id: str,
    kind: type[P],
) -> tuple[P, Grant]:
    """The product and the grant in force, or an error; never reveals ungranted products.

    Raises:
        PermissionDenied: unknown product, no grant, grant or principal outside its validity.
        InvalidArgument: the product is granted but is not of the expected kind.
    """
    decision = policies.authorize(principal, product_id, today_utc())
    if not decision.allowed or decision.grant is None or product_id not in products:
        raise PermissionDenied("product not granted", reason=decision.reason)
    product = products[product_id]
    if not isinstance(product, kind):
        raise InvalidArgument(
            f"product {product_id!r} is a {product.kind} product", reason="wrong_product_kind"
        )
    return product, decision.grant


def check_epsilon_cap(epsilon: float, product_cap: float, grant: Grant) -> None:
    """Refuse a request above the product's or the grant's per-query/per-job epsilon cap.

    Raises:
        PermissionDenied: the requested epsilon exceeds a cap (nothing is spent).
    """
    caps = [product_cap] + ([grant.per_job_epsilon] if grant.per_job_epsilon else [])
    cap = min(caps)
    if Amount.cost(epsilon).epsilon_micro > Amount.limit(cap).epsilon_micro:
        raise PermissionDenied(
            f"requested epsilon {epsilon:g} is above the cap of {cap:g} per request",
            reason="epsilon_above_cap",
        )


def budget_account(
    policies: PolicySet,
    principal: Principal,
    grant: Grant,
    dataset: str,
    ledger_name: str | None = None,
) -> Account:
    """The ledger account of ``principal`` on ``dataset`` with the limits of the policy in force.

    ``ledger_name`` is the account's name in the ledger when it differs from the dataset's
    (a dataset whose metadata scopes budgets per version: ``zone.catalog.info.budget_key``);
    the grant's budget and the zone-wide cap of ``dataset`` apply to it.

    Raises:
        PermissionDenied: the grant gives no budget on the dataset.
    """
    budget = grant.budget.get(dataset)
    if budget is None:
        raise PermissionDenied("no privacy budget granted on this dataset", reason="no_budget")
    cap = policies.dataset_caps.get(dataset)
    return Account(
        principal=principal.id,
        dataset=ledger_name or dataset,
        limit=Amount.limit(budget.epsilon, budget.delta),
        cap=Amount.limit(cap.epsilon, cap.delta) if cap else None,
    )


def refuse_exited(tx: Tx, principal: str) -> None:
    """Refuse new work of a principal whose exit has begun (``principal_exits``).

    Called inside the write transaction that would start the work (a reservation, a cohort
    upload, a key registration): the exit's first row commits in a write transaction too, so
    work that commits after it is refused here, and work that committed before it is found by
    the exit's sweep (``zone.admin.exits``). The interceptor refuses the principal's later calls
    before they get this far.

    Raises:
        PermissionDenied: the principal has exited or is exiting.
    """
    row = tx.execute("SELECT 1 FROM principal_exits WHERE principal = ?", (principal,)).fetchone()
    if row is not None:
        raise PermissionDenied("this principal has exited the zone", reason="principal_exited")


def refuse_quarantined(tx: Tx, dataset: str, version: str) -> None:
    """Refuse (inside ``tx``) work on a quarantined dataset version.

    Raises:
        FailedPrecondition: the version is quarantined.
    """
    row = tx.execute(
        "SELECT 1 FROM dataset_quarantine WHERE dataset = ? AND version = ?", (dataset, version)
    ).fetchone()
    if row is not None:
        raise FailedPrecondition(
            f"dataset {dataset!r} version {version[:19]} is quarantined by an administrator; "
            "nothing was charged",
            reason="dataset_quarantined",
        )
