"""Running a statistics query for a caller: authorize, plan, cap, charge, execute, receipt.

The order is the guarantee: everything that can refuse a query (authorization, validation,
caps, budget) runs before any data is read, and the budget is charged durably before any noise
is drawn. Once data-dependent work has started the charge is never refunded; a failure settles
it as ``failed``. A successful release settles it as ``released`` with its receipt on the audit
chain in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import zone.products.statistics.accuracy as accuracy
from zone.access import authorize_product, budget_account, check_epsilon_cap
from zone.audit import ReleasedArtifact
from zone.catalog import DatasetCatalog, Product, StatisticsProduct, table_name
from zone.catalog.info import budget_key
from zone.ledger import Account, Amount, Balance, PrivacyLedger
from zone.policy import Grant, PolicySet, Principal
from zone.products.statistics.execute import execute
from zone.products.statistics.plan import QueryPlan, plan_query
from zone.products.statistics.query import StatsQuery
from zone.products.statistics.release import StatsRelease
from zone.release.desk import Order, ReleaseDesk
from zone.release.receipt import Receipt, StatisticsPart

ACCOUNTANT = (
    "pure-DP basic composition: sequential over measures (and key selection), parallel over "
    "disjoint groups and bins"
)


@dataclass(frozen=True)
class Estimate:
    """What a query would spend and what the caller has left."""

    plan: QueryPlan
    balance: Balance


@dataclass(frozen=True)
class Outcome:
    """A completed release."""

    release_id: str
    plan: QueryPlan
    release: StatsRelease
    charged: Amount
    balance: Balance
    dataset_version: str
    output_digest: str


class StatisticsService:
    """DP statistics for callers of the zone (no grpc here)."""

    def __init__(
        self,
        products: Mapping[str, Product],
        catalog: DatasetCatalog,
        ledger: PrivacyLedger,
        desk: ReleaseDesk,
    ) -> None:
        self._products = products
        self._catalog = catalog
        self._ledger = ledger
        self._desk = desk

    def _prepare(
        self, policies: PolicySet, principal: Principal, query: StatsQuery
    ) -> tuple[QueryPlan, Account, Grant]:
        product, grant = authorize_product(
            policies, principal, self._products, query.product, StatisticsProduct
        )
        info = self._catalog.get(product.dataset)
        plan = plan_query(query, product, info.meta)
        check_epsilon_cap(plan.epsilon, product.max_epsilon_per_query, grant)
        account = budget_account(policies, principal, grant, product.dataset, budget_key(info))
        return plan, account, grant

    def estimate(self, policies: PolicySet, principal: Principal, query: StatsQuery) -> Estimate:
        """Plan the query and read the caller's balance; spends nothing, reads no data.

        Raises:
            PermissionDenied: product not granted, or epsilon above a cap.
            InvalidArgument: the query is malformed (every problem listed).
        """
        plan, account, _ = self._prepare(policies, principal, query)
        return Estimate(plan, self._ledger.balance(account))

    def run(
        self, policies: PolicySet, principal: Principal, query: StatsQuery, request_id: str
    ) -> Outcome:
        """Charge, execute and release a query (through the release desk).

        Guarantee: the release is (plan.epsilon, plan.delta)-DP for one entity added or removed
        (see ``zone.products.statistics.execute.GUARANTEE``), composed by ``ACCOUNTANT``. Each
        released value carries a 95% error bound computed from released values and public
        parameters only (``accuracy.annotate``: post-processing, no extra charge).

        Raises:
            PermissionDenied: product not granted, or epsilon above a cap (nothing spent).
            InvalidArgument: the query is malformed (nothing spent).
            BudgetExhausted: the budget or the zone-wide cap cannot cover it (nothing spent).
            QuotaExhausted: the call quota is spent (nothing spent, no quota consumed).
        """
        plan, account, grant = self._prepare(policies, principal, query)
        info = self._catalog.get(plan.dataset)
        cursor = self._catalog.cursor()
        cost = Amount.cost(plan.epsilon, plan.delta)
        order = Order(
            principal=principal.id,
            grant=grant,
            product=plan.product,
            unit="call",
            request_id=request_id,
            account=account,
            cost=cost,
            dataset=plan.dataset,
            dataset_version=info.version,
        )
        # Not durable on its own: the release (or the failure) below is written durably before
        # the reply leaves, and an OS crash cannot keep that commit without this one.
        ticket = self._desk.reserve(order, durable=False, settled_in_call=True)
        try:
            with self._desk.failing(ticket):
                release = accuracy.annotate(plan, execute(plan, cursor, table_name(plan.dataset)))
        finally:
            cursor.close()
        digest = release.payload_digest()
        mechanisms = sorted({c.mechanism for m in plan.measures for c in m.components})
        receipt = Receipt(
            release_id=ticket.release_id,
            request_id=request_id,
            principal=principal.id,
            product=plan.product,
            dataset=plan.dataset,
            dataset_version=info.version,
            policy_digest=policies.digest,
            output_digest=digest,
            part=StatisticsPart(tuple(mechanisms), ACCOUNTANT),
            cost=cost,
        )
        self._desk.release(ticket, receipt, ReleasedArtifact("statistics", release.to_dict()))
        return Outcome(
            release_id=ticket.release_id,
            plan=plan,
            release=release,
            charged=cost,
            balance=self._ledger.balance(account),
            dataset_version=info.version,
            output_digest=digest,
        )
